-- The download engine: every event of a selection, exactly once, in timestamp order, at the
-- service's rate limit, in bounded memory. doc/engine.md explains the design; in short:
--
-- Sources. A selection is a list of sources (a group, with <= 100 stream names or a prefix).
-- Each source's range [lo, hi) (hi = stop + 1, or now + 1 when there is no stop) is covered
-- by an ordered list of slices. A slice is paged by one chain of FilterLogEvents requests
-- (startTime/endTime fixed for the chain, then nextToken) and owns the events lo <= ts < hi;
-- everything outside is dropped locally, so slices never overlap whatever the service does
-- at the bounds. Output takes each source's slices in order and merges sources by time.
--
-- Slicing by density. A source starts as one slice (the probe). A page tells how much time a
-- full request covers (its first and last timestamps): `span`, per source. Work is then
-- carved off the front of the last slice in pieces of a few pages (ending a little before
-- an expected page boundary, so the last request of a piece is nearly full), and in the end
-- game the slice with the most pages left is split in two. A running chain can be cut: its
-- hi is lowered and it stops once a page reaches past it; the cut-off part gets a chain of
-- its own. The newest event time of the group (DescribeLogStreams, one call on its own
-- quota) keeps pieces from being carved past the data; it is a hint only.
--
-- Concurrency. Requests in flight target rate x latency + 1, both measured as the run goes
-- (the rate is the limiter's: the region's quota on AWS, discovered elsewhere); without a
-- known rate a window grows while the engine sits idle and nothing is throttled.
--
-- Order and memory. Requests go to the idle slice with the earliest time first. Pages ahead
-- of the output are held within a byte budget; the slice the output waits for (a starved
-- head) always gets a request, whatever the budget and the window say. If the engine must
-- wait while nothing is in flight or queued, that is a bug, raised as an InternalError that
-- describes the state, never a silent hang.
local core = require("cwlogs.core")
local errors = require("cwlogs.errors")

local M = {}

M.PAGE_BYTES = 1048576         -- a FilterLogEvents page holds at most 1 MB ...
M.PAGE_EVENTS = 10000          -- ... and 10,000 events
-- The byte budget for pages fetched ahead of the output: room for a piece and a request in
-- flight for every chain the service needs, within these bounds (buffer_bytes= sets it).
M.MIN_BUFFER_BYTES = 8 * 1024 * 1024
M.MAX_BUFFER_BYTES = 32 * 1024 * 1024
M.DEFAULT_CONCURRENCY = 16     -- the HTTP engine keeps at most 16 connections per host
local REPEAT_LIMIT = 20        -- a token handed back unchanged with nothing new, this often
local MERGE_BATCH = 1024
local MARGIN = 0.15            -- pieces end at least this many pages before a page boundary
local DEFAULT_LATENCY_MS = 400 -- until the first response is measured
local START_WINDOW = 2         -- chains kept busy when the rate is unknown, at first
local TABLE_FACTOR = 1.6       -- decoded event tables take about 1.55x the body (measured)
local HINT_WAIT_MS = 2000      -- carving waits this long at most for the newest-event hint
local STARVED = math.mininteger
local PROGRESS_EVERY_MS = 250

-- Tags the generator's own yields; any other yield comes from the transport's `wait` hook
-- (an event loop driving the client) and is passed up to whoever resumes the iterator.
M.BATCH = {}

local Run = {}
Run.__index = Run
M.Run = Run

local function new_slice(src, lo, hi)
  return { src = src, lo = lo, hi = hi, cursor = lo, items = {}, sizes = {}, counts = {},
    first = 1, last = 0, nreq = 0, repeats = 0, done = false }
end

-- Keeps the events of a decoded page that belong to [lo, hi) and the stream prefix, in
-- timestamp order. Also returns the page's earliest and latest timestamps (all events).
local function admit(events, lo, hi, prefix)
  local n = #events
  local clean, sorted, prev = true, true, math.mininteger
  local min_ts, max_ts
  for i = 1, n do
    local ev = events[i]
    local ts = ev.timestamp
    if ts < prev then sorted = false end
    prev = ts
    if not min_ts or ts < min_ts then min_ts = ts end
    if not max_ts or ts > max_ts then max_ts = ts end
    if (lo and ts < lo) or ts >= hi or
       (prefix and (ev.stream or ""):sub(1, #prefix) ~= prefix) then
      clean = false
    end
  end
  if not clean then
    local kept = {}
    for i = 1, n do
      local ev = events[i]
      local ts = ev.timestamp
      if not ((lo and ts < lo) or ts >= hi or
              (prefix and (ev.stream or ""):sub(1, #prefix) ~= prefix)) then
        kept[#kept + 1] = ev
      end
    end
    events = kept
  end
  if not sorted then
    table.sort(events, function(a, b) return a.timestamp < b.timestamp end)
  end
  return events, min_ts, max_ts
end
M._admit = admit

-- new(client, plan, { renderer = core.renderer | nil }) -> run
-- plan (from events.lua): sources {group, names, prefix}, start, stop, pattern, grep,
-- filter, limit, parallel, concurrency, page_limit, buffer_bytes, hints, now, on_progress.
function M.new(client, p, opts)
  local tr = client.transport
  local now = p.now or core.time_ms()
  local hi = p.stop and p.stop + 1 or now + 1
  local run = setmetatable({
    plan = p, client = client, tr = tr, renderer = opts and opts.renderer,
    sources = {}, inflight = 0, buffered = 0, buffered_events = 0, window = START_WINDOW,
    budget = p.buffer_bytes or M.MIN_BUFFER_BYTES,
    hints = {}, hint_reqs = {},
    -- counters (progress() reports them)
    pages = 0, requests = 0, emitted = 0, bytes_in = 0, slices_made = 0,
    max_buffered = 0, max_item = 0,
    started_at = core.clock_ms(), period_start = core.clock_ms(), period_idle = 0, period_max = 0,
    last_progress = 0, hi = hi,
  }, Run)
  -- `client` is kept so that a client made only for this loop (`for ev in
  -- cwlogs.client{...}:events{...}`) is not collected, and its engine closed, mid-loop.
  run.avg_item = run.renderer and M.PAGE_BYTES or M.PAGE_BYTES * TABLE_FACTOR
  for i, s in ipairs(p.sources) do
    local src = { index = i, group = s.group, names = s.names, prefix = s.prefix, cur = 1,
      slices = {}, span = nil, first_ts = nil }
    src.slices[1] = new_slice(src, p.start, hi)
    -- a start after now without a stop: nothing to ask for (a startTime past endTime
    -- is an error for the service)
    if p.start and p.start >= hi then src.slices[1].done = true end
    run.slices_made = run.slices_made + 1
    run.sources[i] = src
  end
  return run
end

------------------------------------------------------------------------------------------
-- requests

local function request_params(src, slice, p)
  local params = {
    filterPattern = p.pattern,
    logStreamNames = src.names,
    logStreamNamePrefix = src.prefix,
    startTime = slice.lo,
    endTime = slice.hi,
    limit = p.page_limit,
    interleaved = true,   -- ignored by AWS since 2019; moto only sorts across streams with it
  }
  if src.group:find("^arn:") then
    params.logGroupIdentifier = src.group
  else
    params.logGroupName = src.group
  end
  return params
end

-- Sends the next request of a slice's chain. The chain's startTime/endTime are fixed when
-- it starts: a token belongs to the request that produced it, even if hi is cut later.
function Run:send(slice, prio)
  local src = slice.src
  if not slice.params then slice.params = request_params(src, slice, self.plan) end
  slice.params.nextToken = slice.token
  local req = self.tr:submit("FilterLogEvents", slice.params, { raw = true, prio = prio })
  local run = self
  req.on_done = function(r) run:on_page(slice, r) end
  slice.req = req
  slice.nreq = slice.nreq + 1
  self.inflight = self.inflight + 1
  self.requests = self.requests + 1
end

-- The group's newest event time (DescribeLogStreams ordered by LastEventTime): a hint for
-- where carving should stop. Best effort: an error (say, no logs:DescribeLogStreams
-- permission) only means no hint.
function Run:request_hints()
  local p = self.plan
  if p.parallel < 2 or p.hints == false then return end
  for _, src in ipairs(self.sources) do
    local g = src.group
    if self.hints[g] == nil then
      self.hints[g] = false
      local params = { orderBy = "LastEventTime", descending = true, limit = 1 }
      if g:find("^arn:") then params.logGroupIdentifier = g else params.logGroupName = g end
      local req = self.tr:submit("DescribeLogStreams", params)
      local run = self
      req.on_done = function(r)
        run.hint_reqs[g] = nil
        local s = r.result and r.result.logStreams and r.result.logStreams[1]
        local last = s and math.tointeger(s.lastEventTimestamp)
        run.hints[g] = last or false
        if last then
          for _, other in ipairs(run.sources) do
            if other.group == g then other.data_end = last end
          end
        end
      end
      self.hint_reqs[g] = { req = req, at = core.clock_ms() }
    end
  end
end

function Run:hint_pending(src)
  local h = self.hint_reqs[src.group]
  return h ~= nil and core.clock_ms() - h.at < HINT_WAIT_MS
end

------------------------------------------------------------------------------------------
-- pages

function Run:keep(slice, item, size, count)
  slice.last = slice.last + 1
  slice.items[slice.last] = item
  slice.sizes[slice.last] = size
  slice.counts[slice.last] = count
  self.buffered = self.buffered + size
  self.buffered_events = self.buffered_events + count
  if self.buffered > self.max_buffered then self.max_buffered = self.buffered end
  if size > self.max_item then self.max_item = size end
  self.avg_item = self.avg_item * 0.8 + size * 0.2
end

-- What a page says about the source's density: `span`, the milliseconds one request covers.
-- A page with a token measures it directly: from the previous page's last event to its own
-- (per request, when empty pages came between), or for a chain's first page from its first
-- event to its last, corrected for the gaps before the first and after the last (n events
-- spread over a span show (n-1)/n of it, or (n-1)/(n+1) when a scan budget, not the page
-- size, ended the page). The last page of a
-- slice measures it by how full it is (when it holds at least 5% of a page; an empty piece
-- says the span is larger). Kept as a geometric mean, at most x4 a step.
function Run:observe(slice, nbytes, total, first_ts, last_ts, token)
  local src = slice.src
  local cap = self.plan.page_limit or M.PAGE_EVENTS
  local fill = math.max(nbytes / M.PAGE_BYTES, total / cap)
  local full = fill >= 0.9
  -- obs, and err: how far off it may be, relative (a full page ends where the next begins,
  -- up to the spread of event sizes; a page a scan budget ended has its first and last
  -- events at random distances from the ends of the scan: about sqrt(2)/n)
  local obs, err
  if token and total > 0 then
    if slice.prev_last then
      -- from the last page with events, over the requests since (empty ones included)
      obs = (last_ts - slice.prev_last) / ((slice.empties or 0) + 1)
    elseif total > 1 then
      obs = (last_ts - first_ts) * (full and total / (total - 1) or (total + 1) / (total - 1))
    end
    if obs then
      obs = math.max(1, obs)
      err = full and 0.03 or math.sqrt(2) / total
    end
  elseif not token then
    local c = slice.cursor or first_ts
    if c and slice.hi > c then
      if fill >= 0.05 then
        obs, err = (slice.hi - c) / math.min(1, fill), 0.1
      elseif src.span and total == 0 and slice.nreq == 1 then
        -- a piece with nothing in it: the events are further apart than thought
        obs, err = src.span * 4, 0.5
      end
    end
  end
  if obs then
    local s = src.span
    if s then
      obs = math.max(s / 4, math.min(obs, s * 4))
      src.span = math.exp(0.5 * math.log(s) + 0.5 * math.log(obs))
      src.span_err = math.sqrt(0.5 * src.span_err ^ 2 + 0.5 * err ^ 2)
    else
      src.span, src.span_err = obs, err
    end
  end
  if first_ts and (not src.first_ts or first_ts < src.first_ts) then src.first_ts = first_ts end
end

-- How many pages before an expected page boundary a piece of n pages ends: enough that
-- the error of `span` over n pages does not push its end past the boundary (one more,
-- nearly empty request), at least MARGIN, at most half a page.
local function margin(src, n)
  return math.max(MARGIN, math.min(0.5, 1.5 * n * (src.span_err or 0)))
end

-- Where a slice's chain stands after a page.
local function advance(slice, token, total, last_ts)
  slice.last_total = total
  slice.empties = total > 0 and 0 or (slice.empties or 0) + 1
  if last_ts then
    slice.prev_last = last_ts
    if not slice.cursor or last_ts > slice.cursor then slice.cursor = last_ts end
  end
  if token == nil or token == "" then
    slice.done = true
  elseif total > 0 and last_ts >= slice.hi then
    -- sorted pages: nothing after this one can be below hi
    slice.done = true
  elseif token == slice.token and total == 0 then
    slice.repeats = slice.repeats + 1
    if slice.repeats >= REPEAT_LIMIT then slice.done = true end
  else
    slice.repeats = 0
  end
  slice.token = token
end

function Run:on_page(slice, req)
  slice.req = nil
  self.inflight = self.inflight - 1
  local src = slice.src
  if req.err then
    self.err = self.err or errors.name_group(req.err, src.group)
    return
  end
  local body = req.result
  local kept, total, token, first_ts, last_ts, item, size
  if self.renderer then
    -- chunk mode: the page goes straight to output bytes, no table per event
    local chunk
    chunk, kept, total, token, first_ts, last_ts =
      self.renderer:page(body, slice.lo, slice.hi, src.prefix)
    if not chunk then
      self.err = self.err or errors.make("ParseError", "FilterLogEvents: " .. tostring(kept))
      return
    end
    if kept > 0 then item, size = chunk, #chunk end
  else
    local page, msg = core.decode_events(body, src.group)
    if not page then
      self.err = self.err or errors.make("ParseError", "FilterLogEvents: " .. tostring(msg))
      return
    end
    local evs = page.events
    total = #evs
    evs, first_ts, last_ts = admit(evs, slice.lo, slice.hi, src.prefix)
    kept, token = #evs, page.next_token
    if kept > 0 then item, size = evs, math.floor((#body * kept // total + 1) * TABLE_FACTOR) end
  end
  self.pages = self.pages + 1
  self.bytes_in = self.bytes_in + #body
  self.avg_events = self.avg_events and (self.avg_events * 0.8 + kept * 0.2) or kept
  if item then self:keep(slice, item, size, kept) end
  if token == "" then token = nil end
  self:observe(slice, #body, total, first_ts, last_ts, token)
  advance(slice, token, total, last_ts)
  if token and total == 0 then self:blind_cut(slice) end
end

------------------------------------------------------------------------------------------
-- planning: which slices exist, how many requests fly, who goes next

-- Chains that keep the service busy (`need`: rate x latency, or the window when the rate is
-- unknown) and requests in flight (`need` + 1: one more waits at the rate limiter, so that a
-- token never goes unused). See the file comment.
function Run:target()
  local p, tr = self.plan, self.tr
  local rate = tr:rate("FilterLogEvents")
  local need
  if rate then
    local lat = tr:latency("FilterLogEvents") or DEFAULT_LATENCY_MS
    need = math.ceil(rate * lat / 1000)
  else
    need = self.window
  end
  local cap = p.concurrency
  need = math.max(1, math.min(need, cap))
  return math.min(need + 1, cap), need
end

-- Where planning may stop: hi, or just past the newest event the group reported.
local function plan_bound(src, slice)
  local b = slice.hi
  if src.data_end and src.data_end + 1 < b then b = src.data_end + 1 end
  return b
end

-- Cuts slice at m (lo < m < hi): slice keeps [.., m), a new slice takes [m, hi).
function Run:cut(src, index, m)
  local slice = src.slices[index]
  local new = new_slice(src, m, slice.hi)
  slice.hi = m
  table.insert(src.slices, index + 1, new)
  self.slices_made = self.slices_made + 1
  return new
end

-- Cuts a source's only slice into k slices of `width` ms from its lo (the last one keeps
-- the rest): the even cut of filter patterns, where density cannot guide the cuts.
function Run:cut_evenly(src, k, width)
  local lo = src.slices[1].lo
  for i = 1, k - 1 do self:cut(src, i, lo + i * width) end
end

-- A sparse filter pattern: the probe's first page came back empty with a token (the service
-- stopped at its scan budget) and nothing tells how far it got, so density cannot guide the
-- cuts. The probe starts again, and the range (up to the newest event, when known) is cut
-- evenly into as many slices as the service can keep busy, each a chain of its own with its
-- own endTime, so none scans past its part. Costs the one request of the probe.
function Run:blind_cut(slice)
  local src, p = slice.src, self.plan
  if not p.pattern or p.parallel < 2 or src.blind or src.span or src.first_ts
     or slice.done or not slice.lo or slice.nreq ~= 1 or #src.slices ~= 1 then
    return
  end
  src.blind = true
  local k = self:target()
  local bound = plan_bound(src, slice)
  local width = (bound - slice.lo) // k
  if k < 2 or width < 1000 then return end
  slice.params, slice.token, slice.prev_last, slice.cursor = nil, nil, nil, slice.lo
  self:cut_evenly(src, k, width)
end

-- A filter pattern over a closed range (--start and --end): the service scans the range,
-- pages are ended by its scan budget and may hold few events or none, so a probe says
-- little about where to cut. As many even slices as the service can keep busy start at
-- once instead, each bounded by its own endTime; density cuts follow where pages show it.
function Run:cut_patterns_evenly()
  local p = self.plan
  if not p.pattern or not p.start or not p.stop or p.parallel < 2 then return end
  local k = math.max(4, (self:target()))
  for _, src in ipairs(self.sources) do
    local slice = src.slices[1]
    local width = (slice.hi - slice.lo) // k
    if #src.slices == 1 and not slice.done and width >= 1000 then
      src.blind = true
      self:cut_evenly(src, k, width)
    end
  end
end

-- A slice may be cut unless its chain runs and its last page was empty: a chain knows it
-- passed its (lowered) hi only from an event beyond it, and an empty page shows nothing, so
-- such a chain might scan on through the part that was cut off (never an event twice or
-- lost, but requests spent twice).
local function cuttable(slice)
  return not slice.params or (slice.last_total or 0) > 0
end

-- Carves a piece off the front of the source's last slice. `parts`: how many slices the
-- unplanned time of the tail is to be shared by (the pieces about to be carved and the
-- tail), so that all of them end at about the same time.
function Run:carve(src, parts)
  local index = #src.slices
  local tail = src.slices[index]
  local span = src.span
  if tail.done or not span or self:hint_pending(src) then return false end
  local c = tail.cursor
  if not c or not cuttable(tail) then return false end
  local bound = plan_bound(src, tail)
  local unplanned = (bound - c) / span
  -- pieces at most this long (set by pump from the budget): each ends with one partly
  -- used request
  local most = self.piece_max or 2
  local n = math.floor(unplanned / math.max(1, parts) + 0.5)
  n = math.max(1, math.min(n, most))
  local mg = margin(src, n)
  local m = c + math.floor((n - mg) * span)
  if m >= bound or bound - m < span / 2 then return false end
  -- near the end, a cut that makes the rest spill into one more request costs more than
  -- the parallelism it buys
  if unplanned <= 2 * most and n + math.ceil(unplanned - n + mg) > math.ceil(unplanned) then
    return false
  end
  self:cut(src, index, m)
  return true
end

-- End game (there is spare capacity: fewer slices than the service could keep busy): the
-- unfinished slice with the most pages left gives part of them to a new one, if that
-- shortens its chain. r pages left take ceil(r) requests in a row; a first part of h pages
-- (ending a margin before a boundary) and the rest take h and ceil(r - h + margin). The
-- cut that makes the longer of the two shortest wins, at most one request dearer.
local function split_point(src, r)
  local whole = math.ceil(r)
  local best_at, best_path, best_total
  for h = 1, whole - 1 do
    local mg = margin(src, h)
    local rest = math.ceil(r - h + mg)
    local path, total = math.max(h, rest), h + rest
    if path < whole and total <= whole + 1 and
       (not best_path or path < best_path or (path == best_path and total < best_total)) then
      best_at, best_path, best_total = h - mg, path, total
    end
  end
  return best_at
end

function Run:split_largest()
  local best_src, best_i, best_r, best_at
  for _, src in ipairs(self.sources) do
    local span = src.span
    if span and not self:hint_pending(src) then
      for i = src.cur, #src.slices do
        local s = src.slices[i]
        local c = s.cursor
        if not s.done and c and cuttable(s) then
          local r = (plan_bound(src, s) - c) / span
          local at = r >= 2 and split_point(src, r)
          if at and (not best_r or r > best_r) then best_src, best_i, best_r, best_at = src, i, r, at end
        end
      end
    end
  end
  if not best_src then return false end
  local s = best_src.slices[best_i]
  local m = s.cursor + math.floor(best_at * best_src.span)
  if m <= s.cursor or m >= s.hi then return false end
  self:cut(best_src, best_i, m)
  return true
end

-- Makes sure there are k unfinished slices to keep k requests busy, when slicing is on:
-- carved from the front of the unplanned time; a started slice is split only while fewer
-- than `need` slices are left (each cut costs part of a request).
function Run:plan_work(k, need)
  if self.plan.parallel < 2 then return end
  local active = 0
  for _, src in ipairs(self.sources) do
    for i = src.cur, #src.slices do
      if not src.slices[i].done then active = active + 1 end
    end
  end
  if active >= k then return end   -- the usual case, on every pump
  -- carve from the sources whose unplanned time starts earliest (keeps the merge even)
  local order = {}
  for _, src in ipairs(self.sources) do order[#order + 1] = src end
  local function tail_time(src)
    local tail = src.slices[#src.slices]
    return (not tail.done and tail.cursor) or math.maxinteger
  end
  local guard = 0
  while active < k and guard < 64 do
    guard = guard + 1
    table.sort(order, function(a, b) return tail_time(a) < tail_time(b) end)
    local made = false
    for _, src in ipairs(order) do
      if self:carve(src, k - active + 1) then made = true; break end
    end
    if not made and (active >= need or not self:split_largest()) then break end
    active = active + 1
  end
end

-- The source has nothing at hand for the output and its head slice nothing buffered.
local function starved(src)
  if src.finished or src.has_current then return false end
  local head = src.slices[src.cur]
  return head ~= nil and head.items[head.first] == nil
end

-- Bytes held or about to arrive.
function Run:committed()
  return self.buffered + self.inflight * self.avg_item
end

-- Starts requests: starved heads always; then the earliest idle slices while the window
-- and the byte budget allow.
function Run:pump()
  if self.err then return end
  for _, src in ipairs(self.sources) do
    if starved(src) then
      local head = src.slices[src.cur]
      if not head.done then
        if not head.req then
          self:send(head, STARVED)
        elseif head.req.prio ~= STARVED then
          head.req.prio = STARVED
        end
      end
    end
  end
  -- with a limit, the events at hand and on their way may already be enough: no
  -- look-ahead then
  local p = self.plan
  local function enough()
    return p.limit and self.emitted + self.buffered_events + self.inflight * (self.avg_events or 0)
      >= p.limit
  end
  if enough() then return end
  local k, need = self:target()
  local avg = math.max(1, self.avg_item)
  -- Pieces as long as the budget lets every chain hold one: 4 pages when the quota is the
  -- limit (a wasted request costs time), 2 otherwise (it costs only some parsing), fewer
  -- when buffer_bytes is small; the budget holds a piece and a request per chain.
  if self.plan.buffer_bytes then
    self.piece_max = math.max(1, math.min(4, self.budget // avg // k))
  else
    self.piece_max = self.tr:rate("FilterLogEvents") and 4 or 2
    self.budget = math.max(M.MIN_BUFFER_BYTES, math.min(M.MAX_BUFFER_BYTES,
      math.floor((need + 1) * (self.piece_max + 1) * avg)))
  end
  self:plan_work(k, need)
  while self.inflight < k and self:committed() + self.avg_item <= self.budget and not enough() do
    local best, best_c
    for _, src in ipairs(self.sources) do
      local busy = 0
      local cand, cand_c
      for i = src.cur, #src.slices do
        local s = src.slices[i]
        if s.req then
          busy = busy + 1
        elseif not s.done and not cand then
          cand, cand_c = s, s.cursor or math.mininteger + 1
        end
      end
      if cand and busy < p.parallel and (not best_c or cand_c < best_c) then
        best, best_c = cand, cand_c
      end
    end
    if not best then break end
    self:send(best, best_c)
  end
end

------------------------------------------------------------------------------------------
-- output

-- Next buffered item (array of events, or chunk string) of one source and its number of
-- events, or nil + "wait" / "done".
function Run:next_item(src)
  while true do
    local slice = src.slices[src.cur]
    if not slice then return nil, "done" end
    local f = slice.first
    local item = slice.items[f]
    if item then
      local count = slice.counts[f]
      self.buffered = self.buffered - slice.sizes[f]
      self.buffered_events = self.buffered_events - count
      slice.items[f], slice.sizes[f], slice.counts[f] = nil, nil, nil
      slice.first = f + 1
      return item, count
    end
    if not slice.done then return nil, "wait" end
    src.cur = src.cur + 1
    if src.cur > 64 then
      -- forget finished slices, so a long run's list stays short
      local n = #src.slices - src.cur + 1
      table.move(src.slices, src.cur, #src.slices, 1)
      for i = #src.slices, n + 1, -1 do src.slices[i] = nil end
      src.cur = 1
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

-- One source: items pass straight through (chunk strings too: chunk mode has no local
-- filters). -> item[, nil, events in a chunk] | nil, "wait" | "done".
function Run:emit_single()
  local src = self.sources[1]
  while true do
    local item, count_or_state = self:next_item(src)
    if not item then
      if count_or_state == "done" then src.finished = true end
      return nil, count_or_state
    end
    if self.renderer then return item, nil, count_or_state end
    item = local_filter(item, self.plan)
    if #item > 0 then return item end
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
        if not s.has_current then
          local arr, state = self:next_item(s)
          if arr then
            s.arr, s.pos = local_filter(arr, self.plan), 1
            s.has_current = #s.arr > 0
            if not s.has_current then return (#out > 0) and out or nil, "again" end
          elseif state == "done" then
            s.finished = true
          else
            return (#out > 0) and out or nil, "wait"
          end
        end
        if s.has_current then
          local ts = s.arr[s.pos].timestamp
          if not best_ts or ts < best_ts then best, best_ts = s, ts end
        end
      end
    end
    if not best then return (#out > 0) and out or nil, "done" end
    out[#out + 1] = best.arr[best.pos]
    best.pos = best.pos + 1
    if best.pos > #best.arr then best.arr, best.has_current = nil, false end
  end
  return out
end

function Run:cancel()
  for _, src in ipairs(self.sources) do
    for i = src.cur, #src.slices do
      local slice = src.slices[i]
      if slice.req then
        self.tr:cancel(slice.req)
        slice.req = nil
      end
    end
  end
  for g, h in pairs(self.hint_reqs) do
    self.tr:cancel(h.req)
    self.hint_reqs[g] = nil
  end
  self.inflight = 0
end

-- What the engine holds when it cannot go on: for the InternalError of a stall.
function Run:describe()
  local parts = { string.format("in flight %d, queued %d, buffered %d bytes, budget %d, window %d",
    self.inflight, self.tr:busy(), self.buffered, self.budget, self:target()) }
  for _, src in ipairs(self.sources) do
    local ss = {}
    for i = src.cur, math.min(#src.slices, src.cur + 5) do
      local s = src.slices[i]
      ss[#ss + 1] = string.format("[%s,%s)%s%s items=%d", tostring(s.lo), tostring(s.hi),
        s.done and " done" or "", s.req and " req" or "", s.last - s.first + 1)
    end
    parts[#parts + 1] = string.format("source %d (%s%s): %s", src.index, src.group,
      src.names and (", " .. #src.names .. " names") or "", table.concat(ss, " "))
  end
  return table.concat(parts, "; ")
end

-- Numbers for a progress display (see doc/engine.md).
function Run:progress()
  local now = core.clock_ms()
  local total, left = 0, 0
  for _, src in ipairs(self.sources) do
    local lo = self.plan.start or src.first_ts
    if lo then
      local top = self.hi
      if src.data_end and src.data_end + 1 < top then top = math.max(lo, src.data_end + 1) end
      total = total + math.max(0, top - lo)
      for i = src.cur, #src.slices do
        local s = src.slices[i]
        if not s.done then
          local from = math.max(s.cursor or lo, lo)
          local to = math.min(s.hi, top)
          if to > from then left = left + (to - from) end
        end
      end
    end
  end
  local share = 0
  if total > 0 then share = math.max(0, math.min(1, 1 - left / total)) end
  local finished = true
  for _, src in ipairs(self.sources) do
    if not src.finished then finished = false end
  end
  if finished then share = 1 end
  local elapsed = now - self.started_at
  local stats = self.tr.stats
  local eta
  if share >= 0.02 and share < 1 then eta = math.floor(elapsed * (1 - share) / share) end
  return {
    events = self.emitted, bytes = self.bytes_in, pages = self.pages, requests = self.requests,
    throttles = stats.throttles, retries = stats.retries, inflight = self.inflight,
    elapsed_ms = elapsed, share = share, eta_ms = eta,
    events_per_s = elapsed > 0 and self.emitted * 1000 / elapsed or 0,
    slices = self.slices_made, done = finished,
  }
end

function Run:report_progress(force)
  local cb = self.plan.on_progress
  if not cb then return end
  local now = core.clock_ms()
  if not force and now - self.last_progress < PROGRESS_EVERY_MS then return end
  self.last_progress = now
  cb(self:progress())
end

-- Without a known rate the window (chains kept busy) is tuned once per latency: while the
-- engine waits for the service most of the time with the window full, and responses come
-- back as fast as they did with fewer in flight (the service is not queueing them: latency,
-- not capacity, is the limit), it doubles (waiting over half the time) or grows by one; it
-- shrinks by one when responses take over 3x the fastest seen. It starts at 2, or 4 once
-- responses take 50 ms or more. A throttle gives the limiter
-- a rate, and rate x latency takes over (see target()).
function Run:tune_window(waited_ms)
  local now = core.clock_ms()
  self.period_idle = self.period_idle + waited_ms
  if self.inflight > self.period_max then self.period_max = self.inflight end
  local lat, low = self.tr:latency("FilterLogEvents")
  local period = math.max(lat or DEFAULT_LATENCY_MS, 100)
  if now - self.period_start < period then return end
  local idle = self.period_idle / (now - self.period_start)
  local full = self.period_max >= self.window
  self.period_start, self.period_idle, self.period_max = now, 0, 0
  if self.tr:rate("FilterLogEvents") or not lat then return end
  if not self.window_seeded then
    -- the first measured latency: a remote service (responses of 50 ms or more) starts at
    -- the window of 4 a fixed client would use; a fast local one stays small
    self.window_seeded = true
    if lat >= 50 and self.window < 4 then self.window = math.min(4, self.plan.concurrency) end
  end
  if idle > 0.25 and full and lat <= 1.5 * low then
    local grown = idle > 0.5 and self.window * 2 or self.window + 1
    self.window = math.min(grown, self.plan.concurrency)
  elseif lat > 3 * low and self.window > START_WINDOW then
    self.window = self.window - 1
  end
end

-- The generator body: yields (BATCH, item) until the selection is exhausted.
function Run:generate()
  local p = self.plan
  local emit = #self.sources == 1 and self.emit_single or self.emit_merged
  local counted = not self.renderer
  -- asked beside the first pages, so that it is there when their answers are
  self:request_hints()
  self:cut_patterns_evenly()
  while true do
    if self.err then self:cancel(); error(self.err, 0) end
    self:pump()
    local item, state, count = emit(self)
    if item then
      if counted then
        if p.limit and self.emitted + #item >= p.limit then
          item = table.move(item, 1, p.limit - self.emitted, 1, {})
          self.emitted = p.limit
          self:cancel()
          self:report_progress(true)
          coroutine.yield(M.BATCH, item)
          return
        end
        self.emitted = self.emitted + #item
      else
        self.emitted = self.emitted + count
      end
      self:report_progress(false)
      coroutine.yield(M.BATCH, item)
    elseif state == "done" then
      self:report_progress(true)
      return
    elseif state ~= "again" then
      if self.err then self:cancel(); error(self.err, 0) end
      self:pump()   -- the output may have moved on to a slice that has no request yet
      if self.tr:busy() == 0 then
        local where = self:describe()
        self:cancel()
        error(errors.make("InternalError",
          "the download engine is waiting with no request in flight (a bug; please report it): "
          .. where), 0)
      end
      local t0 = core.clock_ms()
      local before = self.inflight
      self.tr:step(1000)
      if before > self.period_max then self.period_max = before end
      self:tune_window(core.clock_ms() - t0)
      self:report_progress(false)
    end
  end
end

-- The generator of a run as an iterator, nil, nil, closer (the for loop's closing value),
-- run.
function M.iterator(run)
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
      if res[2] == M.BATCH then return res[3] end
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

return M
