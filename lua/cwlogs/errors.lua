-- Error objects shared by every part of cwlogs.
--
-- An error is a table { code, message, status, request_id } with a __tostring that gives
-- one line. `code` is the AWS error code (ThrottlingException, ResourceNotFoundException,
-- SignatureDoesNotMatch, ...) or one of ours: NetworkError, ConfigError, NoCredentials,
-- NoRegion, InvalidTime, InvalidArgument, ParseError, CredentialProcessError.
-- Functions that can fail return nil, err; iterators raise err.
local M = {}

local Error = {}
Error.__index = Error
Error.__name = "cwlogs.error"

function Error.__tostring(e)
  local s = e.message or e.code or "unknown error"
  if e.code and not s:find(e.code, 1, true) then s = e.code .. ": " .. s end
  if e.status then s = s .. " (HTTP " .. tostring(e.status) end
  if e.request_id then
    s = s .. (e.status and ", " or " (") .. "request id " .. e.request_id .. ")"
  elseif e.status then
    s = s .. ")"
  end
  return s
end

-- new{ code=, message=, status=, request_id=, retryable=, ... } -> error object
function M.new(fields)
  return setmetatable(fields, Error)
end

-- new_error(code, message [, extra]) shorthand.
function M.make(code, message, extra)
  local e = extra or {}
  e.code, e.message = code, message
  return setmetatable(e, Error)
end

function M.is(v)
  return getmetatable(v) == Error
end

-- Wraps whatever was raised (string, error object) into an error object.
function M.wrap(v, code)
  if M.is(v) then return v end
  return M.make(code or "InternalError", tostring(v))
end

-- The service's "The specified log group does not exist." names no group; ours does.
function M.name_group(err, group)
  if M.is(err) and err.code == "ResourceNotFoundException" and group then
    err.message = "log group '" .. group .. "' does not exist"
    err.group = group
  end
  return err
end

return M
