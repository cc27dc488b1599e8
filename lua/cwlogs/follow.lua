-- tail -f: keep printing new events, without gaps or duplicates.
--
-- CloudWatch Logs ingests events late (seconds, sometimes more), so "everything after the
-- last timestamp seen" would miss late arrivals. Each poll therefore runs a bounded events
-- download (cwlogs.events.batches) over a window that reaches back behind what was already
-- seen:
--
--   first poll:  [start, now]
--   later polls: [lo, now], lo = max(start, previous lo,
--                                     min(newest timestamp seen, previous now) - lag_ms,
--                                     previous now - max_lookback_ms)
--
-- Anchoring on the newest timestamp seen (not on our clock) copes with producers whose
-- clocks run behind ours; max_lookback_ms keeps the window from growing without end while a
-- selection matches nothing (an idle group, a rare filter pattern). An event is missed only
-- if it becomes searchable later than both bounds allow.
--
-- Events already emitted are suppressed by eventId (per group). The set is pruned as the
-- window moves: an id is kept only while its timestamp can still fall inside a window, so
-- memory is bounded by the events of about lag_ms (max_lookback_ms at most).
--
-- Order: within one poll events come in timestamp order; across polls a late arrival can be
-- older than events printed before it. It is emitted anyway (never dropped), so in follow
-- mode order is per poll, not global.
--
-- Local filters (grep, filter) are applied here, after the service's results have moved
-- the window, so that a filter which keeps few events does not hold the window back.
local core = require("cwlogs.core")
local errors = require("cwlogs.errors")
local events = require("cwlogs.events")

local M = {}

M.DEFAULT_POLL_MS = 1000
M.DEFAULT_LAG_MS = 30000
M.DEFAULT_LOOKBACK_MS = 10 * 60 * 1000
M.DEFAULT_START_MS = 10000       -- without opts.start: from 10 s ago

local function bad(msg)
  return nil, errors.make("InvalidArgument", msg)
end

local function check_ms(v, name, allow_zero)
  if v == nil then return true end
  if math.type(v) ~= "integer" or v < (allow_zero and 0 or 1) then
    return nil, name .. " must be a " .. (allow_zero and "non-negative" or "positive")
      .. " integer (milliseconds)"
  end
  return true
end

-- Closes a to-be-closed value (the closer that events.batches returns).
local function close_value(c)
  local mt = c and getmetatable(c)
  if mt and mt.__close then mt.__close(c) end
end

-- iterate(client, opts) -> iterator of events, nil, nil, closer, state; or nil, err
-- opts: as client:events (group/groups, streams, stream_prefix, pattern, grep, filter,
--   limit, tz, now) plus start (default now - 10 s), stop (end once a poll reached it),
--   poll_ms (1000), lag_ms (30000), max_lookback_ms (600000), max_polls.
-- state (read-only): polls, emitted, lo, hi (the last window), seen (ids held).
function M.iterate(client, opts)
  if type(opts) ~= "table" then return bad("follow: options must be a table") end
  local now = opts.now
  if now ~= nil and math.type(now) ~= "integer" then return bad("now must be epoch milliseconds") end
  now = now or core.time_ms()

  -- The selection as events would see it; validates groups, streams, patterns, grep, ...
  local sel = {
    group = opts.group, groups = opts.groups, streams = opts.streams,
    stream_prefix = opts.stream_prefix, pattern = opts.pattern,
    page_limit = opts.page_limit, parallel = opts.parallel, concurrency = opts.concurrency,
  }
  local _, perr = events._plan{
    group = opts.group, groups = opts.groups, streams = opts.streams,
    stream_prefix = opts.stream_prefix, pattern = opts.pattern, grep = opts.grep,
    filter = opts.filter, limit = opts.limit, page_limit = opts.page_limit,
    parallel = opts.parallel, concurrency = opts.concurrency,
  }
  if perr then return nil, perr end

  local topts = { tz = opts.tz, now = now }
  local start, stop, msg
  if opts.start ~= nil then
    start, msg = events.parse_time(opts.start, topts)
    if not start then return bad("invalid time for start: " .. tostring(msg)) end
  else
    start = now - M.DEFAULT_START_MS
  end
  if opts.stop ~= nil then
    stop, msg = events.parse_time(opts.stop, topts)
    if not stop then return bad("invalid time for stop: " .. tostring(msg)) end
    if start > stop then return bad(string.format("start (%d) is after stop (%d)", start, stop)) end
  end
  local ok
  for _, name in ipairs({ "poll_ms", "max_lookback_ms", "max_polls" }) do
    ok, msg = check_ms(opts[name], name)
    if not ok then return bad(msg) end
  end
  ok, msg = check_ms(opts.lag_ms, "lag_ms", true)
  if not ok then return bad(msg) end
  if not (client and client.transport) then return bad("client is closed") end

  local tr = client.transport
  local poll_ms = opts.poll_ms or M.DEFAULT_POLL_MS
  local lag_ms = opts.lag_ms or M.DEFAULT_LAG_MS
  local lookback_ms = math.max(opts.max_lookback_ms or M.DEFAULT_LOOKBACK_MS, lag_ms)
  local max_polls, limit = opts.max_polls, opts.limit
  local grep, filter, find = opts.grep, opts.filter, string.find

  local state = { polls = 0, emitted = 0, lo = nil, hi = nil, seen = 0 }
  local seen = {}            -- group -> { eventId -> timestamp }
  local last_ts              -- newest timestamp the service returned so far
  local record_floor         -- ids of older events need no remembering
  local next_batch, batch_closer
  local arr, pos = nil, 0
  local next_poll_at         -- monotonic ms
  local finished = false

  local function close_batches()
    local c = batch_closer
    next_batch, batch_closer = nil, nil
    if c then close_value(c) end
  end

  local function close()
    finished = true
    arr = nil
    close_batches()
  end

  local function prune(lo)
    local n = 0
    for g, ids in pairs(seen) do
      local left = 0
      for id, ts in pairs(ids) do
        if ts < lo then ids[id] = nil else left = left + 1 end
      end
      if left == 0 then seen[g] = nil end
      n = n + left
    end
    state.seen = n
  end

  -- Starts the next poll; returns false when there is nothing to query in it.
  local function begin_poll()
    local hi = core.time_ms()
    if stop and hi > stop then hi = stop end
    local lo
    if state.polls == 0 then
      lo = start
    else
      local prev_hi = state.hi
      if hi < prev_hi then hi = prev_hi end       -- the wall clock stepped back
      local anchor = last_ts and math.min(last_ts, prev_hi) or prev_hi
      lo = math.max(start, state.lo, anchor - lag_ms, prev_hi - lookback_ms)
    end
    state.polls = state.polls + 1
    state.lo, state.hi = lo, hi
    next_poll_at = core.clock_ms() + poll_ms
    prune(lo)
    -- The next window starts at or after hi - lookback_ms: older events can't come back.
    record_floor = hi - lookback_ms
    if lo > hi then return false end
    local bopts = {}
    for k, v in pairs(sel) do bopts[k] = v end
    bopts.start, bopts.stop = lo, hi
    bopts.hints = false   -- a poll's window is short: no DescribeLogStreams call per poll
    local it, err, _, closer = events.batches(client, bopts)
    if not it then error(err, 0) end
    next_batch, batch_closer = it, closer
    return true
  end

  -- Keeps the events of a batch not emitted before; remembers them; applies local filters.
  local function admit(batch)
    local out = {}
    for i = 1, #batch do
      local ev = batch[i]
      local ts = ev.timestamp
      if not last_ts or ts > last_ts then last_ts = ts end
      local g = ev.group or ""
      local ids = seen[g]
      local id = ev.id
      if id == nil or not (ids and ids[id]) then
        if id ~= nil and ts >= record_floor then
          if not ids then ids = {}; seen[g] = ids end
          ids[id] = ts
          state.seen = state.seen + 1
        end
        if (not grep or find(ev.message, grep)) and (not filter or filter(ev)) then
          out[#out + 1] = ev
        end
      end
    end
    return out
  end

  local function poll_ended()
    close_batches()
    if (stop and state.hi >= stop) or (max_polls and state.polls >= max_polls) then
      finished = true
    end
  end

  local function iter()
    while not finished do
      if arr then
        pos = pos + 1
        local ev = arr[pos]
        if ev then
          state.emitted = state.emitted + 1
          if limit and state.emitted >= limit then close() end
          return ev
        end
        arr = nil
      end
      if next_batch then
        local okb, batch = pcall(next_batch)
        if not okb then
          close()
          error(errors.is(batch) and batch or errors.wrap(batch), 0)
        end
        if batch then
          arr, pos = admit(batch), 0
        else
          poll_ended()
        end
      else
        if next_poll_at then tr:sleep_until(next_poll_at) end
        local okp, started = pcall(begin_poll)
        if not okp then
          close()
          error(errors.is(started) and started or errors.wrap(started), 0)
        end
        if not started then poll_ended() end
      end
    end
    return nil
  end

  local closer = setmetatable({ close = close }, { __close = close })
  return iter, nil, nil, closer, state
end

return M
