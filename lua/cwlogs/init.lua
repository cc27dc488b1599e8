-- cwlogs: the Lua face of the CloudWatch Logs reader.
--
--   local cwlogs = require "cwlogs"
--   local client = assert(cwlogs.client{ region = "eu-west-1" })
--   for ev in client:events{ group = "/aws/lambda/x", start = "2 days ago" } do ... end
--
-- Functions that can fail return nil, err (err: see cwlogs.errors); iterators raise err.
local core = require("cwlogs.core")
local errors = require("cwlogs.errors")
local config = require("cwlogs.config")
local transport = require("cwlogs.transport")
local events = require("cwlogs.events")

local M = {
  version = core.version,
  errors = errors,
  core = core,
}

-- parse_time(text [, {now=, tz=}]) -> epoch ms, or nil, message
M.parse_time = events.parse_time

-- format_time(epoch_ms [, {tz=}]) -> ISO 8601 string, or nil, message
function M.format_time(ms, opts)
  return core.format_time(ms, opts)
end

local Client = {}
Client.__index = Client
M.Client = Client

-- client{ region=, profile=, endpoint=, credentials={access_key,secret_key,session_token},
--         max_rps=, debug=, wait= } -> client, or nil, err
function M.client(opts)
  opts = opts or {}
  if type(opts) ~= "table" then
    return nil, errors.make("InvalidArgument", "cwlogs.client expects a table of options")
  end
  local cfg, err = config.resolve{
    profile = opts.profile, region = opts.region, endpoint = opts.endpoint,
    credentials = opts.credentials, getenv = opts.getenv, home = opts.home,
  }
  if not cfg then return nil, err end
  local tr
  tr, err = transport.new(cfg, {
    max_rps = opts.max_rps, retry_base_ms = opts.retry_base_ms, debug = opts.debug,
    wait = opts.wait, timeout_ms = opts.timeout_ms, connect_timeout_ms = opts.connect_timeout_ms,
  })
  if not tr then return nil, err end
  return setmetatable({ config = cfg, transport = tr, region = cfg.region,
    endpoint = cfg.endpoint, opts = opts }, Client)
end

-- camelCase AWS field names -> snake_case; logGroupName/logStreamName -> name.
local function snake(k)
  if k == "logGroupName" or k == "logStreamName" then return "name" end
  return (k:gsub("%u", function(c) return "_" .. c:lower() end))
end

local function to_snake(t)
  local out = {}
  for k, v in pairs(t) do
    if type(v) == "number" then v = math.tointeger(v) or v end
    out[snake(k)] = v
  end
  return out
end
M._to_snake = to_snake

-- An iterator over every item of every page of a Describe* call; raises err.
function Client:_paged(op, params, list_key, wrap_err)
  local client = self   -- the iterator keeps its client alive (see events.lua's new_run)
  local items, i, token, finished = {}, 0, nil, false
  local seen_tokens = 0
  return function()
    local tr = client.transport
    if not tr then error(errors.make("InvalidArgument", "the client is closed"), 0) end
    while true do
      i = i + 1
      if items[i] then return to_snake(items[i]) end
      if finished then return nil end
      params.nextToken = token
      local page, err = tr:call(op, params)
      if not page then error(wrap_err and wrap_err(err) or err, 0) end
      items, i = page[list_key] or {}, 0
      local next_token = page.nextToken
      if type(next_token) ~= "string" or next_token == "" then
        finished = true
      elseif next_token == token and #items == 0 then
        -- A service that hands back the same token with nothing new is done paging;
        -- give up after a few rounds rather than loop forever.
        seen_tokens = seen_tokens + 1
        if seen_tokens >= 20 then finished = true end
      else
        seen_tokens = 0
      end
      token = next_token
    end
  end
end

-- groups{ prefix=, pattern=, limit= } -> iterator of {name, creation_time, stored_bytes, arn, ...}
function Client:groups(opts)
  opts = opts or {}
  local params = { logGroupNamePrefix = opts.prefix, logGroupNamePattern = opts.pattern }
  if params.logGroupNamePrefix == "" then params.logGroupNamePrefix = nil end
  return self:_paged("DescribeLogGroups", params, "logGroups")
end

local function group_not_found(group)
  return function(err) return errors.name_group(err, group) end
end

-- streams{ group=, prefix=, order_by="LogStreamName"|"LastEventTime", descending= }
--   -> iterator of {name, creation_time, first_event_timestamp, last_event_timestamp, ...}
function Client:streams(opts)
  opts = opts or {}
  local group = opts.group
  if type(group) ~= "string" or group == "" then
    error(errors.make("InvalidArgument", "streams: 'group' must be a log group name"), 2)
  end
  local params = {
    logStreamNamePrefix = opts.prefix ~= "" and opts.prefix or nil,
    orderBy = opts.order_by, descending = opts.descending,
  }
  if group:find("^arn:") then params.logGroupIdentifier = group else params.logGroupName = group end
  return self:_paged("DescribeLogStreams", params, "logStreams", group_not_found(group))
end

-- events{ group=|groups=, start=, stop=, streams=, stream_prefix=, pattern=, grep=, filter=,
--         limit=, tz=, now= } -> iterator, nil, nil, closer; or nil, err
function Client:events(opts)
  return events.iterate(self, opts)
end

-- Same selection as events(), but yields arrays of events in order (fewer calls per event).
function Client:event_batches(opts)
  return events.batches(self, opts)
end

-- Same selection as event_batches(), written by `renderer` (core.renderer{...}) straight from
-- each page into strings of output lines, in order: no table per event. Only for one group
-- without grep, filter or limit; otherwise nil, err with err.code == "NotEligible".
--   -> iterator of strings, nil, nil, closer; or nil, err
function Client:event_chunks(opts, renderer)
  return events.chunks(self, opts, renderer)
end

-- query{ groups=|group=, query=, start=, stop=, limit=, poll_ms= } -> list of rows, or nil, err
-- (Logs Insights: StartQuery, then GetQueryResults until the query is final.)
function Client:query(opts)
  return require("cwlogs.query").run(self, opts)
end

-- follow{ ...as events..., poll_ms= } -> never-ending iterator of new events (tail -f).
function Client:follow(opts)
  return require("cwlogs.follow").iterate(self, opts)
end

function Client:close()
  if self.transport then
    self.transport:close()
    self.transport = nil
  end
end
Client.__close = Client.close
Client.__gc = Client.close
Client.__name = "cwlogs.client"

function Client.__tostring(c)
  return string.format("cwlogs.client(%s, %s%s)", tostring(c.region), tostring(c.endpoint),
    c.transport and "" or ", closed")
end

return M
