-- The download engine at realistic sizes, against bench/standin.py (full 1 MB pages,
-- hundreds of streams, several groups, latency, token buckets, faults), with boto3
-- (tools/refread.py) as the independent reader. Includes the two hangs of issue 7.
local cjson = require("cjson")
local cwlogs = require("cwlogs")
local events = require("cwlogs.events")
local standin = require("support.standin")
local util = require("support.util")

local q = util.sh_quote
local CPATH = os.getenv("CWLOGS_CPATH") or "build/?.so"
if not CPATH:find("^/") then CPATH = (os.getenv("PWD") or ".") .. "/" .. CPATH end
local DAY = 86400000

local si

setup(function()
  si = standin.start{ groups = {
    "name=/r/g0,events=100000,streams=20,span_ms=" .. DAY,
    "name=/r/g1,events=100000,streams=500,span_ms=" .. DAY,
    "name=/r/n500,events=150000,streams=500,span_ms=" .. DAY,
    -- three years old: --start alone and no --start cover years with nothing in them
    "name=/r/old,events=20000,streams=10,span_ms=" .. 6 * 3600000 .. ",end_ago_ms=" .. 3 * 365 * DAY,
  } }
end)

teardown(function() if si then si:stop() end end)

-- The shell command that runs bin/cwlogs get ARGS against the stand-in, with a time limit
-- (a hang fails).
-- `preload`: a library for lua5.4 alone (make asan's runtime, where the command runs under
-- a tool that must not get it).
local function get_command(args, limit_s, preload)
  local parts = {}
  for i, a in ipairs(args) do parts[i] = q(a) end
  return "env -u AWS_PROFILE -u AWS_DEFAULT_REGION AWS_ACCESS_KEY_ID=a AWS_SECRET_ACCESS_KEY=b"
    .. " AWS_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null"
    .. " AWS_ENDPOINT_URL=" .. q(si.url) .. " CWLOGS_CPATH=" .. q(CPATH)
    .. " timeout -s KILL " .. (limit_s or 120)
    .. (preload and (" env LD_PRELOAD=" .. q(preload)) or "")
    .. " lua5.4 bin/cwlogs get " .. table.concat(parts, " ")
end

-- bin/cwlogs get ARGS --format jsonl; -> status, stdout, stderr
local function cwlogs_get(args, limit_s)
  return util.run(get_command(args, limit_s) .. " --format jsonl --no-progress")
end

-- Our JSONL output against the reference read: the same multiset of (group, stream, id),
-- the same messages and times, timestamps never decreasing.
local function assert_same(out, ref)
  local want, n = {}, 0
  for _, e in ipairs(ref) do
    local k = e.logGroupName .. "\0" .. e.logStreamName .. "\0" .. e.eventId
    assert(not want[k], "the reference read has a duplicate")
    want[k] = math.tointeger(e.timestamp) .. "\0" .. e.message
    n = n + 1
  end
  local got, prev = 0, math.mininteger
  for line in out:gmatch("[^\n]+") do
    local e = cjson.decode(line)
    local ts = math.tointeger(e.timestamp)
    assert(ts >= prev, "timestamps decrease at line " .. (got + 1))
    prev = ts
    local k = e.logGroupName .. "\0" .. e.logStreamName .. "\0" .. e.eventId
    local w = want[k]
    assert(w, "event not in the reference (or written twice): " .. e.eventId)
    assert(w == ts .. "\0" .. e.message, "event differs from the reference: " .. e.eventId)
    want[k] = nil
    got = got + 1
  end
  assert.are.equal(n, got)
end

local function names_of(group, n)
  return table.move(si.info[group].stream_names, 1, n, 1, {})
end

describe("engine at scale (issue 7 regressions)", function()
  it("merges two groups of 100,000 events with 20 and 500 streams, and ends", function()
    local first = math.tointeger(math.min(si.info["/r/g0"].first_ts, si.info["/r/g1"].first_ts))
    local last = math.tointeger(math.max(si.info["/r/g0"].last_ts, si.info["/r/g1"].last_ts))
    local code, out, err = cwlogs_get({ "/r/g0", "/r/g1", "--start", tostring(first),
      "--end", tostring(last) })
    assert.are.equal(0, code, err)
    assert_same(out, si:reference{ groups = { "/r/g0", "/r/g1" }, start = first, ["end"] = last })
  end)

  it("reads 101 and 150 named streams (batches of 100 + 1 and 100 + 50) of 500, and ends", function()
    for _, n in ipairs{ 101, 150 } do
      local names = names_of("/r/n500", n)
      local args = { "/r/n500" }
      for _, s in ipairs(names) do args[#args + 1] = "--stream=" .. s end
      local code, out, err = cwlogs_get(args)
      assert.are.equal(0, code, err)
      assert_same(out, si:reference{ groups = { "/r/n500" }, streams = names })
    end
  end)
end)

describe("engine liveness and memory", function()
  it("raises an InternalError naming its state instead of waiting forever", function()
    -- a transport that loses a request: taken, never answered, and not counted as busy
    local lost = {
      stats = { throttles = 0, retries = 0 },
      submit = function() return {} end, step = function() end, busy = function() return 0 end,
      cancel = function() end, rate = function() return nil end, latency = function() return nil end,
    }
    local it = assert(events.batches({ transport = lost }, { group = "/g", start = 1000, stop = 2000 }))
    local ok, err = pcall(it)
    assert.is_false(ok)
    assert.are.equal("InternalError", err.code)
    assert.matches("no request in flight", err.message, 1, true)
    assert.matches("in flight 1, queued 0", err.message, 1, true)
    assert.matches("source 1 (/g): [1000,2001) req", err.message, 1, true)
  end)

  it("holds pages ahead of the output within the byte budget, whatever the number of sources", function()
    si:config{ page_events = 300 }
    local client = assert(cwlogs.client(si:client_opts()))
    local names = names_of("/r/n500", 250)   -- 3 batches of names x 3 groups = 9 sources
    local groups = { "/r/g0", "/r/g1", "/r/n500" }
    local budget = 1000000
    local it, _, _, closer, run = assert(client:event_batches{ groups = groups, streams = names,
      buffer_bytes = budget })
    local n, prev = 0, math.mininteger
    for arr in it, nil, nil, closer do
      for i = 1, #arr do
        assert(arr[i].timestamp >= prev)
        prev = arr[i].timestamp
      end
      n = n + #arr
    end
    si:config{ page_events = 10000 }
    assert.are.equal(9, #run.sources)
    assert.are.equal(#si:reference{ groups = groups, streams = names }, n)
    -- beyond the budget only the pages the output waits for: one per source at most
    assert.is_true(run.max_buffered <= budget + #run.sources * run.max_item,
      "held " .. run.max_buffered .. " bytes")
    client:close()
  end)
end)

describe("engine planning", function()
  local old
  before_each(function() old = si.info["/r/old"] end)
  after_each(function()
    si:config{ latency_ms = 0, page_events = 10000, deny_describe = 0, hint_lag_ms = 0, rate = 0 }
  end)

  local function read(opts)
    local client = assert(cwlogs.client(si:client_opts()))
    si:stats(true)
    local it, _, _, closer, run = assert(client:event_batches(opts))
    local n = 0
    for arr in it, nil, nil, closer do n = n + #arr end
    local st = si:stats(true)
    client:close()
    return n, run, st
  end

  it("reads an open-ended range in parallel: --start alone, and no --start", function()
    si:config{ latency_ms = 30, page_events = 1000 }   -- 20 pages, years before now
    for _, start in ipairs{ old.first_ts, false } do
      local n, run, st = read{ group = "/r/old", start = start or nil }
      assert.are.equal(old.events, n)
      assert.is_true(run.slices_made >= 3, "slices: " .. run.slices_made)
      assert.is_true(st.max_inflight >= 3, "in flight at most " .. st.max_inflight)
      -- carving stops at the newest event: no request lands in the empty years after it
      assert.is_true(run.requests <= 26, "requests: " .. run.requests)
    end
  end)

  it("reads everything when the newest-event hint is refused or lags by a day", function()
    si:config{ page_events = 700, latency_ms = 5 }
    for _, cfg in ipairs{ { deny_describe = 1 }, { hint_lag_ms = DAY } } do
      si:config(cfg)
      local n = read{ group = "/r/old", start = old.first_ts }
      assert.are.equal(old.events, n)
    end
  end)

  it("keeps going through throttling, 5xx answers and resets, losing nothing", function()
    si:config{ page_events = 500, latency_ms = 5, rate = 15, fault_5xx = 0.05, fault_reset = 0.03 }
    local n, _, st = read{ group = "/r/old" }
    si:config{ fault_5xx = 0, fault_reset = 0 }
    assert.are.equal(old.events, n)
    assert.is_true(st.throttled > 0 and st.faults > 0, "no throttle or fault happened")
  end)

  it("scans a sparse pattern in parallel when pages come back empty with a token", function()
    -- a pattern matching a handful of events, 2,000 events scanned per request: the probe's
    -- first page is empty, so the range is cut evenly instead of read as one chain
    si:config{ scan_budget = 2000, latency_ms = 30 }
    local pattern = "?[5000] ?[12000] ?[19000]"
    local n, run, st = read{ group = "/r/old", start = old.first_ts, stop = old.last_ts,
      pattern = pattern }
    si:config{ scan_budget = 0 }
    assert.are.equal(#si:reference{ groups = { "/r/old" }, start = old.first_ts,
      ["end"] = old.last_ts, pattern = pattern }, n)
    assert.are.equal(3, n)
    assert.is_true(run.slices_made >= 3, "slices: " .. run.slices_made)
    assert.is_true(st.max_inflight >= 2, "in flight at most " .. st.max_inflight)
  end)

  it("asks nothing for a start after now without an end", function()
    local n, run = read{ group = "/r/old", start = util.now_ms() + DAY }
    assert.are.equal(0, n)
    assert.are.equal(0, run.requests)
  end)

  it("asks for no more pages than a small limit needs", function()
    si:config{ page_events = 500, latency_ms = 20 }
    local n, run = read{ group = "/r/old", limit = 700 }
    assert.are.equal(700, n)
    assert.is_true(run.requests <= 3, "requests: " .. run.requests)
  end)

  it("reports progress: events, bytes, the share of the range, done at the end", function()
    si:config{ page_events = 1000, latency_ms = 20 }
    local seen = {}
    local n, run = read{ group = "/r/old", start = old.first_ts, stop = old.last_ts,
      on_progress = function(p) seen[#seen + 1] = p end }
    assert.are.equal(old.events, n)
    assert.is_true(#seen >= 2)
    local last = seen[#seen]
    assert.is_true(last.done)
    assert.are.equal(1, last.share)
    assert.are.equal(old.events, last.events)
    assert.is_true(last.bytes > 0 and last.requests >= 20)
    for i = 2, #seen do assert.is_true(seen[i].share >= seen[i - 1].share - 1e-9) end
    local p = run:progress()
    assert.are.equal(old.events, p.events)
  end)
end)

describe("progress on stderr", function()
  local old
  before_each(function()
    old = si.info["/r/old"]
    si:config{ latency_ms = 100, page_events = 500 }
  end)
  after_each(function() si:config{ latency_ms = 0, page_events = 10000 } end)

  local base
  before_each(function()
    -- 40 pages at 20 requests/s: a run of about two seconds
    base = { "/r/old", "--start", tostring(old.first_ts), "--format", "jsonl", "--max-rps", "20" }
  end)

  local function lines_of(path)
    local n = 0
    for _ in (util.read_file(path) or ""):gmatch("\n") do n = n + 1 end
    return n
  end

  it("is drawn in place on a terminal, erased at the end, and never reaches stdout", function()
    -- script(1) gives the command a terminal; stdout goes to a file
    local dir = util.tmpdir()
    -- (make asan: the sanitizer runtime goes to lua5.4 alone, not to script(1) or timeout)
    local cmd = get_command(base, nil, os.getenv("CWLOGS_PRELOAD")) .. " > " .. q(dir .. "/out.txt")
    local function script(c, log)
      return util.run("env -u LD_PRELOAD script -qec " .. q(c) .. " " .. q(log))
    end
    local code = script(cmd, dir .. "/tty.txt")
    assert.are.equal(0, code, util.read_file(dir .. "/tty.txt"))
    local tty = util.read_file(dir .. "/tty.txt") or ""
    assert.matches("\r\27%[Kcwlogs: [%d,]+ events  [%d.]+ [kMG]?B  ", tty)
    assert.matches("%% of range", tty)
    -- erased at the end: after the last progress line only the erase sequence, then
    -- script(1)'s closing line
    assert.matches("of range[^\r]*\r\27%[K\r?\n?Script done", tty)
    assert.are.equal(old.events, lines_of(dir .. "/out.txt"))
    assert.is_nil((util.read_file(dir .. "/out.txt")):find("of range", 1, true))
    -- --no-progress: nothing drawn on the terminal
    code = script(cmd .. " --no-progress", dir .. "/tty2.txt")
    assert.are.equal(0, code, util.read_file(dir .. "/tty2.txt"))
    assert.is_nil((util.read_file(dir .. "/tty2.txt") or ""):find("of range", 1, true))
    util.run("rm -rf " .. q(dir))
  end)

  it("is off when stderr is not a terminal, unless --progress asks for it", function()
    local code, out, err = util.run(get_command(base))
    assert.are.equal(0, code)
    assert.are.equal("", err)
    assert.are.equal(old.events, select(2, out:gsub("\n", "")))
    code, out, err = util.run(get_command(base) .. " --progress")
    assert.are.equal(0, code)
    assert.matches("cwlogs: [%d,]+ events", err)
    assert.matches("\r\27%[K$", err)
    assert.are.equal(old.events, select(2, out:gsub("\n", "")))
  end)
end)
