-- Friendly face of the C HTTP engine (cwlogs.core.http_engine).
--
-- The engine itself never blocks unless asked (engine:wait) and never yields; whoever
-- drives it (a plain loop, a coroutine scheduler, cqueues, copas) calls perform/wait/results.
-- This module adds:
--   http.new(opts)              -> engine, or nil, err (ConfigError)
--   http.request(engine, req)   -> { status=, headers=, body=, total_ms= }, or nil, err
--                                  (blocking: drives the engine until that request is done)
--   http.take(engine, id)       -> raw result of a transfer that finished while
--                                  http.request was driving the engine, or nil
-- Transport failures become errors.make("NetworkError", msg, { kind=, retryable=, curl_code= }).
local core = require "cwlogs.core"
local errors = require "cwlogs.errors"

local M = {}

-- Results that arrived for other ids while http.request drove an engine. Weak keys, so a
-- dropped engine takes its unclaimed results with it.
local unclaimed = setmetatable({}, { __mode = "k" })

-- A single wait never outlasts this, so a lost wake-up costs at most one slice.
local WAIT_SLICE_MS = 1000

function M.new(opts)
  local engine, msg = core.http_engine(opts)
  if not engine then
    return nil, errors.make("ConfigError", "http engine: " .. tostring(msg))
  end
  return engine
end

local function stash(engine, result)
  local t = unclaimed[engine]
  if not t then
    t = {}
    unclaimed[engine] = t
  end
  t[result.id] = result
end

function M.take(engine, id)
  local t = unclaimed[engine]
  if not t then return nil end
  local r = t[id]
  t[id] = nil
  return r
end

-- Turns a raw engine result into what http.request returns.
function M.response(result)
  local e = result.error
  if e then
    return nil, errors.make("NetworkError", e.message, {
      kind = e.kind, retryable = e.retryable, curl_code = e.curl_code,
    })
  end
  return { status = result.status, headers = result.headers, body = result.body,
           total_ms = result.total_ms }
end

local function engine_failure(msg)
  return nil, errors.make("NetworkError", "http engine: " .. tostring(msg),
    { kind = "other", retryable = true })
end

function M.request(engine, req)
  local id, msg = engine:submit(req)
  if not id then
    return nil, errors.make("InvalidArgument", msg)
  end
  while true do
    local ok, perr = engine:perform()
    if not ok then
      engine:cancel(id)
      return engine_failure(perr)
    end
    local mine
    for _, r in ipairs(engine:results()) do
      if r.id == id then mine = r else stash(engine, r) end
    end
    if mine then return M.response(mine) end
    local t = engine:timeout()
    if t ~= 0 then
      local waited, werr = engine:wait((t < 0 or t > WAIT_SLICE_MS) and WAIT_SLICE_MS or t)
      if not waited then
        engine:cancel(id)
        return engine_failure(werr)
      end
    end
  end
end

return M
