-- Event download: every event in range, exactly once, in timestamp order, memory flat.
--
-- A selection (groups x batches of <= 100 stream names) becomes "sources". Each source's
-- time range is cut into slices [lo, hi) that are paged in parallel through FilterLogEvents
-- (bounded look-ahead, so memory stays flat), and emitted slice after slice. Sources are
-- merged by timestamp. Bounds are enforced locally as well: the service's endTime is sent
-- one past the inclusive stop and every event outside [lo, hi) is dropped, so exactness does
-- not depend on whether the service treats endTime as inclusive (aws-facts §2).
-- Paging ends only when a page has no nextToken; empty pages with a token continue, and a
-- token handed back unchanged with nothing new stops after REPEAT_LIMIT rounds.
local core = require("cwlogs.core")
local errors = require("cwlogs.errors")

local M = {}

local MAX_NAMES = 100          -- FilterLogEvents accepts at most 100 logStreamNames
local REPEAT_LIMIT = 20
local MIN_SLICE_MS = 60000     -- no point slicing finer than a minute
local MERGE_BATCH = 1024
-- Extra pages buffered ahead in chunk mode, where a buffered page is its output string
-- (about the size of its body) rather than a table per event.
local CHUNK_LOOKAHEAD = 2
-- Tags the generator's own yields; any other yield comes from the transport's `wait` hook
-- (an event loop driving the client) and is passed up to whoever resumes the iterator.
local BATCH = {}

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
  local parallel = opts.parallel or 4
  local concurrency = opts.concurrency or 4
  if math.type(parallel) ~= "integer" or parallel < 1 then
    return bad("parallel must be a positive integer")
  end
  if math.type(concurrency) ~= "integer" or concurrency < 1 then
    return bad("concurrency must be a positive integer")
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
  }
end
M._plan = plan

-- Cuts [start, stop] into up to n slices [lo, hi); hi of the last is stop + 1 (or nil).
-- Cuts [start, stop] into up to n slices [lo, hi); hi of the last is stop + 1 (or nil).
-- Without a start, `floor` (a bound below every event of the group, see group_floor) sets
-- the slice widths, and the first slice stays open below, so an early event is never lost
-- even if the bound were wrong.
local function slices_for(p, floor)
  local hi_end = p.stop and p.stop + 1 or nil
  local base = p.start or floor
  local n = 1
  if base and hi_end and hi_end > base and p.parallel > 1 then
    n = math.max(1, math.min(p.parallel, (hi_end - base) // MIN_SLICE_MS))
  end
  local out = {}
  if n == 1 then
    out[1] = { lo = p.start, hi = hi_end, pages = {}, first = 1, last = 0 }
    return out
  end
  local width = (hi_end - base) // n
  for i = 1, n do
    local lo = base + (i - 1) * width
    local hi = (i == n) and hi_end or (lo + width)
    out[i] = { lo = lo, hi = hi, pages = {}, first = 1, last = 0 }
  end
  out[1].lo = p.start
  return out
end

-- PutLogEvents refuses events more than 14 days older than their ingestion, and a group
-- exists before its first event is put, so nothing in a group is older than its creation
-- time minus 14 days (a day of margin added). One DescribeLogGroups call per group; a
-- group that does not exist is reported here, naming it.
local MAX_EVENT_AGE_MS = 15 * 24 * 3600 * 1000

local function group_floor(tr, group)
  if group:find("^arn:") then return nil end
  local token
  for _ = 1, 100 do
    local page, err = tr:call("DescribeLogGroups", { logGroupNamePrefix = group, nextToken = token })
    if not page then return nil, errors.name_group(err, group) end
    for _, g in ipairs(page.logGroups or {}) do
      if g.logGroupName == group then
        local created = math.tointeger(g.creationTime)
        return created and created - MAX_EVENT_AGE_MS or nil
      end
    end
    token = page.nextToken
    if type(token) ~= "string" or token == "" then break end
  end
  return nil, errors.make("ResourceNotFoundException", "log group '" .. group .. "' does not exist",
    { group = group })
end

local function request_params(src, slice, p)
  local params = {
    filterPattern = p.pattern,
    logStreamNames = src.names,
    logStreamNamePrefix = src.prefix,
    startTime = slice.lo,
    endTime = slice.hi,
    nextToken = slice.token,
    limit = p.page_limit,
    interleaved = true,
  }
  if src.group:find("^arn:") then
    params.logGroupIdentifier = src.group
  else
    params.logGroupName = src.group
  end
  return params
end

-- Keeps the events of a decoded page that belong to this slice, in timestamp order.
local function admit(events, slice, prefix)
  local lo, hi = slice.lo, slice.hi
  local n = #events
  local clean, sorted, prev = true, true, math.mininteger
  for i = 1, n do
    local ev = events[i]
    local ts = ev.timestamp
    if ts < prev then sorted = false end
    prev = ts
    if (lo and ts < lo) or (hi and ts >= hi) or
       (prefix and (ev.stream or ""):sub(1, #prefix) ~= prefix) then
      clean = false
    end
  end
  if not clean then
    local kept = {}
    for i = 1, n do
      local ev = events[i]
      local ts = ev.timestamp
      if not ((lo and ts < lo) or (hi and ts >= hi) or
              (prefix and (ev.stream or ""):sub(1, #prefix) ~= prefix)) then
        kept[#kept + 1] = ev
      end
    end
    events = kept
  end
  if not sorted then
    table.sort(events, function(a, b) return a.timestamp < b.timestamp end)
  end
  return events
end

local Run = {}
Run.__index = Run

-- After a page: where its slice's paging stands. `total` is the page's event count before
-- any filtering (an empty page that hands back the same token is how paging gets stuck).
local function advance(slice, token, total)
  if token == nil or token == "" then
    slice.done = true
  elseif token == slice.token and total == 0 then
    slice.repeats = (slice.repeats or 0) + 1
    if slice.repeats >= REPEAT_LIMIT then slice.done = true end
  else
    slice.repeats = 0
  end
  slice.token = token
end

-- Buffers a page's output (an array of events, or in chunk mode a string of lines).
function Run:keep(slice, item)
  slice.last = slice.last + 1
  slice.pages[slice.last] = item
  self.buffered = self.buffered + 1
end

function Run:on_page(src, slice, req)
  slice.req = nil
  self.inflight = self.inflight - 1
  if req.err then
    self.err = self.err or errors.name_group(req.err, src.group)
    return
  end
  local token, total
  if self.renderer then
    -- chunk mode: the page goes straight to output bytes, no table per event
    local chunk, kept
    chunk, kept, total, token = self.renderer:page(req.result, slice.lo, slice.hi, src.prefix)
    if not chunk then
      self.err = self.err or errors.make("ParseError", "FilterLogEvents: " .. tostring(kept))
      return
    end
    if kept > 0 then self:keep(slice, chunk) end
  else
    local page, msg = core.decode_events(req.result, src.group)
    if not page then
      self.err = self.err or errors.make("ParseError", "FilterLogEvents: " .. tostring(msg))
      return
    end
    local evs = admit(page.events, slice, src.prefix)
    if #evs > 0 then self:keep(slice, evs) end
    token, total = page.next_token, #page.events
  end
  advance(slice, token, total)
  self.pages = self.pages + 1
end

-- Starts page requests where look-ahead and the concurrency budget allow.
function Run:pump()
  local p = self.plan
  local budget = p.concurrency - self.inflight
  if budget <= 0 then return end
  local max_buffer = p.concurrency + (self.renderer and CHUNK_LOOKAHEAD or 2)
  for _, src in ipairs(self.sources) do
    for si = src.cur, #src.slices do
      if budget <= 0 or self.buffered + self.inflight >= max_buffer then return end
      local slice = src.slices[si]
      if not slice.done and not slice.req and (slice.last - slice.first + 1) < 2 then
        local run = self
        local req = self.tr:submit("FilterLogEvents", request_params(src, slice, p), { raw = true })
        req.on_done = function(r) run:on_page(src, slice, r) end
        slice.req = req
        self.inflight = self.inflight + 1
        budget = budget - 1
      end
    end
  end
end

-- Next array of events of one source, or nil + "wait" / "done".
local function next_page(run, src)
  while true do
    local slice = src.slices[src.cur]
    if not slice then return nil, "done" end
    local arr = slice.pages[slice.first]
    if arr then
      slice.pages[slice.first] = nil
      slice.first = slice.first + 1
      run.buffered = run.buffered - 1
      return arr
    end
    if slice.done then
      src.cur = src.cur + 1
    else
      return nil, "wait"
    end
  end
end

-- Local filters: grep, filter function; returns the filtered array (maybe the same one).
local function local_filter(arr, p)
  if not p.grep and not p.filter then return arr end
  local out, grep, filter, find = {}, p.grep, p.filter, string.find
  for i = 1, #arr do
    local ev = arr[i]
    if (not grep or find(ev.message, grep)) and (not filter or filter(ev)) then
      out[#out + 1] = ev
    end
  end
  return out
end

-- One source: pages pass straight through (chunk strings too: chunk mode has no local
-- filters).
function Run:emit_single()
  local src = self.sources[1]
  while true do
    local arr, state = next_page(self, src)
    if not arr then return nil, state end
    if self.renderer then return arr end
    arr = local_filter(arr, self.plan)
    if #arr > 0 then return arr end
  end
end

-- Several sources: merge by timestamp while every live source has an event at hand.
function Run:emit_merged()
  local srcs = self.sources
  local out = {}
  while #out < MERGE_BATCH do
    local best, best_ts
    for i = 1, #srcs do
      local s = srcs[i]
      if not s.finished then
        local arr = s.arr
        if not arr or s.pos > #arr then
          local state
          arr, state = next_page(self, s)
          if arr then
            s.arr, s.pos = local_filter(arr, self.plan), 1
            arr = s.arr
          elseif state == "done" then
            s.finished = true
          else
            return (#out > 0) and out or nil, "wait"
          end
        end
        if arr and s.pos <= #arr then
          local ts = arr[s.pos].timestamp
          if not best_ts or ts < best_ts then best, best_ts = s, ts end
        elseif arr then
          -- an empty array after filtering: look again next round
          return (#out > 0) and out or nil, "again"
        end
      end
    end
    if not best then return (#out > 0) and out or nil, "done" end
    out[#out + 1] = best.arr[best.pos]
    best.pos = best.pos + 1
  end
  return out
end

function Run:all_done()
  for _, s in ipairs(self.sources) do
    if s.slices[s.cur] then return false end
    if s.arr and s.pos <= #s.arr then return false end
  end
  return true
end

function Run:cancel()
  for _, src in ipairs(self.sources) do
    for _, slice in ipairs(src.slices) do
      if slice.req then
        self.tr:cancel(slice.req)
        slice.req = nil
      end
    end
  end
  self.inflight = 0
end

-- The generator body: yields arrays of events until the selection is exhausted.
-- Without a start, cut each source's range from its group's floor (see group_floor).
function Run:slice_from_floors()
  local p = self.plan
  if p.start or not p.stop or p.parallel < 2 then return end
  local floors = {}
  for _, src in ipairs(self.sources) do
    local floor = floors[src.group]
    if floor == nil then
      local err
      floor, err = group_floor(self.tr, src.group)
      if err then error(err, 0) end
      floors[src.group] = floor or false
    end
    if floor then src.slices = slices_for(p, floor) end
  end
end

function Run:generate()
  local p = self.plan
  local emitted = 0
  self:slice_from_floors()
  local emit = #self.sources == 1 and self.emit_single or self.emit_merged
  while true do
    if self.err then self:cancel(); error(self.err, 0) end
    self:pump()
    local arr, state = emit(self)
    if arr then
      if p.limit and emitted + #arr >= p.limit then
        arr = table.move(arr, 1, p.limit - emitted, 1, {})
        self:cancel()
        coroutine.yield(BATCH, arr)
        return
      end
      emitted = emitted + #arr
      coroutine.yield(BATCH, arr)
    elseif state == "done" or (state ~= "again" and self:all_done()) then
      return
    elseif state ~= "again" then
      self.tr:step(1000)
    end
  end
end

local function new_run(client, p)
  local sources = {}
  for i, s in ipairs(p.sources) do
    sources[i] = { group = s.group, names = s.names, prefix = s.prefix,
      slices = slices_for(p), cur = 1 }
  end
  -- `client` is kept so that a client made only for this loop (`for ev in
  -- cwlogs.client{...}:events{...}`) is not collected, and its engine closed, mid-loop.
  return setmetatable({ plan = p, client = client, tr = client.transport, sources = sources,
    inflight = 0, buffered = 0, pages = 0 }, Run)
end

-- The generator of a run as an iterator, nil, nil, closer (the for loop's closing value).
local function run_iterator(run)
  local co = coroutine.create(function() run:generate() end)
  local closed = false
  local function close()
    if closed then return end
    closed = true
    run:cancel()
    coroutine.close(co)
  end
  local function iter()
    if closed then return nil end
    local res = table.pack(coroutine.resume(co))
    while true do
      if not res[1] then
        close()
        local e = res[2]
        error(errors.is(e) and e or errors.wrap(e), 0)
      end
      if res[2] == BATCH then return res[3] end
      if coroutine.status(co) == "dead" then
        close()
        return nil
      end
      -- a yield from the wait hook: hand it to our resumer, and its answer back down
      res = table.pack(coroutine.resume(co, coroutine.yield(table.unpack(res, 2, res.n))))
    end
  end
  local closer = setmetatable({}, { __close = close })
  return iter, nil, nil, closer, run
end

-- batches(client, opts) -> iterator of event arrays, nil, nil, closer; or nil, err
function M.batches(client, opts)
  local p, err = plan(opts)
  if not p then return nil, err end
  if not client.transport then return bad("client is closed") end
  return run_iterator(new_run(client, p))
end

-- chunks(client, opts, renderer) -> iterator of strings of output lines (renderer:page's
-- chunks, in time order, each non-empty), nil, nil, closer; or nil, err. Only for
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
  local run = new_run(client, p)
  run.renderer = renderer
  return run_iterator(run)
end

-- iterate(client, opts) -> iterator of events, nil, nil, closer; or nil, err
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
