-- Event selection: options -> a plan for the engine (cwlogs.engine), and the iterators
-- client:events / event_batches / event_chunks hand out.
--
-- A selection (groups x batches of <= 100 stream names, or a stream prefix) becomes
-- "sources"; the engine slices, pages, merges and paces them (see engine.lua and
-- doc/engine.md). Bounds are enforced locally as well as by the service: endTime is sent one
-- past the inclusive stop and every event outside a slice's [lo, hi) is dropped, so
-- exactness does not depend on how the service treats endTime (aws-facts §2).
local core = require("cwlogs.core")
local errors = require("cwlogs.errors")
local engine = require("cwlogs.engine")

local M = {}

local MAX_NAMES = 100          -- FilterLogEvents accepts at most 100 logStreamNames

-- parse_time(text|ms [, {now=, tz=}]) -> epoch ms, or nil, message
function M.parse_time(text, opts)
  if math.type(text) == "integer" then return text end
  if type(text) == "number" then
    local i = math.tointeger(text)
    if i then return i end
    return nil, "invalid time '" .. tostring(text) .. "': not a whole number of milliseconds"
  end
  if type(text) ~= "string" then
    return nil, "invalid time: expected a string or epoch milliseconds, got " .. type(text)
  end
  return core.parse_time(text, opts)
end

local function bad(msg)
  return nil, errors.make("InvalidArgument", msg)
end

local function string_list(v, what)
  if type(v) ~= "table" then return nil, what .. " must be a list of strings" end
  local out, seen = {}, {}
  for i = 1, #v do
    local s = v[i]
    if type(s) ~= "string" or s == "" then
      return nil, what .. " must be a list of non-empty strings"
    end
    if not seen[s] then seen[s] = true; out[#out + 1] = s end
  end
  return out
end

local function positive_int(v, what)
  if v ~= nil and (math.type(v) ~= "integer" or v < 1) then
    return nil, what .. " must be a positive integer"
  end
  return true
end

-- Validates options into a plan, or nil, err.
local function plan(opts)
  if type(opts) ~= "table" then return bad("events: options must be a table") end
  local groups, msg
  if opts.groups ~= nil then
    groups, msg = string_list(opts.groups, "groups")
    if not groups then return bad(msg) end
  elseif type(opts.group) == "string" and opts.group ~= "" then
    groups = { opts.group }
  end
  if not groups or #groups == 0 then return bad("events: 'group' or 'groups' is required") end

  local topts = { tz = opts.tz, now = opts.now }
  local start, stop
  if opts.start ~= nil then
    start, msg = M.parse_time(opts.start, topts)
    if not start then return bad("invalid time for start: " .. tostring(msg)) end
  end
  if opts.stop ~= nil then
    stop, msg = M.parse_time(opts.stop, topts)
    if not stop then return bad("invalid time for stop: " .. tostring(msg)) end
  end
  if start and stop and start > stop then
    return bad(string.format("start (%d) is after stop (%d)", start, stop))
  end

  local streams
  if opts.streams ~= nil then
    streams, msg = string_list(opts.streams, "streams")
    if not streams then return bad(msg) end
  end
  local prefix = opts.stream_prefix
  if prefix ~= nil and type(prefix) ~= "string" then return bad("stream_prefix must be a string") end
  if prefix == "" then prefix = nil end
  if opts.pattern ~= nil and type(opts.pattern) ~= "string" then return bad("pattern must be a string") end
  if opts.grep ~= nil then
    if type(opts.grep) ~= "string" then return bad("grep must be a Lua pattern string") end
    local ok, err = pcall(string.find, "", opts.grep)
    if not ok then return bad("invalid grep pattern '" .. opts.grep .. "': " .. tostring(err)) end
  end
  if opts.filter ~= nil and type(opts.filter) ~= "function" then return bad("filter must be a function") end
  local limit = opts.limit
  if limit ~= nil and (math.type(limit) ~= "integer" or limit < 1) then
    return bad("limit must be a positive integer")
  end
  local page_limit = opts.page_limit
  if page_limit ~= nil and (math.type(page_limit) ~= "integer" or page_limit < 1 or page_limit > 10000) then
    return bad("page_limit must be an integer from 1 to 10000")
  end
  for _, key in ipairs({ "parallel", "concurrency", "buffer_bytes" }) do
    local ok, m = positive_int(opts[key], key)
    if not ok then return bad(m) end
  end
  local concurrency = opts.concurrency or engine.DEFAULT_CONCURRENCY
  local parallel = opts.parallel or concurrency
  if opts.on_progress ~= nil and type(opts.on_progress) ~= "function" then
    return bad("on_progress must be a function")
  end
  if opts.now ~= nil and math.type(opts.now) ~= "integer" then
    return bad("now must be epoch milliseconds")
  end

  -- Listed streams and a prefix together: AWS refuses both in one call, so keep the
  -- listed streams that carry the prefix.
  if streams and prefix then
    local kept = {}
    for _, s in ipairs(streams) do
      if s:sub(1, #prefix) == prefix then kept[#kept + 1] = s end
    end
    streams, prefix = kept, nil
  end

  local sources = {}
  for _, g in ipairs(groups) do
    if streams then
      for i = 1, #streams, MAX_NAMES do
        local last = math.min(i + MAX_NAMES - 1, #streams)
        sources[#sources + 1] = { group = g, names = table.move(streams, i, last, 1, {}) }
      end
    else
      sources[#sources + 1] = { group = g, prefix = prefix }
    end
  end

  return {
    sources = sources, start = start, stop = stop, prefix = prefix,
    pattern = opts.pattern ~= "" and opts.pattern or nil,
    grep = opts.grep, filter = opts.filter, limit = limit,
    parallel = parallel, concurrency = concurrency, page_limit = page_limit,
    buffer_bytes = opts.buffer_bytes, hints = opts.hints ~= false, now = opts.now,
    on_progress = opts.on_progress,
  }
end
M._plan = plan

-- batches(client, opts) -> iterator of event arrays, nil, nil, closer, run; or nil, err
function M.batches(client, opts)
  local p, err = plan(opts)
  if not p then return nil, err end
  if not client.transport then return bad("client is closed") end
  return engine.iterator(engine.new(client, p))
end

-- chunks(client, opts, renderer) -> iterator of strings of output lines (renderer:page's
-- chunks, in time order, each non-empty), nil, nil, closer, run; or nil, err. Only for
-- selections a renderer can finish on its own: one source (one group, <= 100 stream
-- names or a prefix) and no grep, filter or limit; anything else gives nil and an error
-- with code "NotEligible", so that callers fall back to batches().
function M.chunks(client, opts, renderer)
  local p, err = plan(opts)
  if not p then return nil, err end
  local rt = type(renderer)
  if (rt ~= "userdata" and rt ~= "table") or type(renderer.page) ~= "function" then
    return bad("chunks: a renderer (core.renderer) is required")
  end
  if #p.sources ~= 1 or p.grep or p.filter or p.limit then
    return nil, errors.make("NotEligible",
      "chunks: only one group and stream selection without grep, filter or limit")
  end
  if not client.transport then return bad("client is closed") end
  return engine.iterator(engine.new(client, p, { renderer = renderer }))
end

-- iterate(client, opts) -> iterator of events, nil, nil, closer, run; or nil, err
function M.iterate(client, opts)
  local next_batch, err, _, closer, run = M.batches(client, opts)
  if not next_batch then return nil, err end
  local arr, i = nil, 0
  local function iter()
    i = i + 1
    local ev = arr and arr[i]
    if ev then return ev end
    arr = next_batch()
    if not arr then return nil end
    i = 1
    return arr[1]
  end
  return iter, nil, nil, closer, run
end

return M
