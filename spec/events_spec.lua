-- client:events against moto (signature checking on), with boto3 as the oracle.
local cwlogs = require("cwlogs")
local moto = require("support.moto")
local util = require("support.util")

local srv, client
local T0            -- base timestamp of the seeded data (ms)
local G1, G2, G150  -- group names

-- Compares our events with boto3's FilterLogEvents result for the same selection.
local function assert_same_as_boto(ours, theirs, group_of)
  assert.are.equal(#theirs, #ours)
  local a = util.sorted_by_time_id(ours, "timestamp", "id")
  local b = util.sorted_by_time_id(theirs, "timestamp", "eventId")
  for i = 1, #a do
    assert.are.equal(math.tointeger(b[i].timestamp), a[i].timestamp)
    assert.are.equal(b[i].eventId, a[i].id)
    assert.are.equal(b[i].logStreamName, a[i].stream)
    assert.are.equal(b[i].message, a[i].message)
    assert.are.equal(math.tointeger(b[i].ingestionTime), a[i].ingestion_time)
    if group_of then assert.are.equal(group_of(b[i]), a[i].group) end
  end
end

local function assert_time_ordered(list)
  for i = 2, #list do
    assert(list[i - 1].timestamp <= list[i].timestamp,
      "events out of order at " .. i .. ": " .. list[i - 1].timestamp .. " > " .. list[i].timestamp)
  end
end

local function collect(opts)
  local out = {}
  for ev in assert(client:events(opts)) do out[#out + 1] = ev end
  return out
end

setup(function()
  srv = moto.start()
  client = assert(cwlogs.client(srv:client_opts()))
  T0 = util.now_ms() - 3 * 3600 * 1000
  G1 = moto.unique("/cwlogs/events")
  G2 = moto.unique("/cwlogs/events2")
  G150 = moto.unique("/cwlogs/many-streams")
  -- G1: 12 streams, 720 events, identical timestamps across streams, awkward messages.
  local streams = {}
  for s = 1, 12 do
    local evs = {}
    for i = 0, 59 do
      local msg = string.format("stream %d event %d", s, i)
      if i % 10 == 1 then msg = msg .. " héllo wörld ✓ 😀" end
      if i % 10 == 2 then msg = msg .. "\nsecond line\n\tthird line" end
      if i % 10 == 3 then msg = msg .. "\r\n" end
      if i % 10 == 4 then msg = msg .. "   \t " end
      if i % 10 == 5 then msg = "ERROR " .. msg end
      evs[#evs + 1] = { timestamp = T0 + i * 1000, message = msg }  -- same ts in every stream
    end
    streams[string.format("app/%02d", s)] = evs
  end
  streams["big"] = { { timestamp = T0 + 30500, message = string.rep("0123456789abcdef", 12800) } }
  srv:admin("seed", { group = G1, streams = streams })
  -- G2: interleaves with G1 in time.
  local evs2 = {}
  for i = 0, 39 do evs2[#evs2 + 1] = { timestamp = T0 + i * 1500 + 250, message = "g2 " .. i } end
  srv:admin("seed", { group = G2, streams = { other = evs2 } })
  -- G150: 150 streams (more than FilterLogEvents' 100 names per call).
  local many = {}
  for s = 1, 160 do
    many[string.format("s%03d", s)] = { { timestamp = T0 + s * 7, message = "m" .. s },
      { timestamp = T0 + 5000 + s, message = "n" .. s } }
  end
  srv:admin("seed", { group = G150, streams = many })
end)

teardown(function()
  if client then client:close() end
end)

describe("client:events", function()
  it("returns exactly what boto3 returns for a whole group, in time order, over many pages", function()
    local ours = collect{ group = G1, page_limit = 50 }
    local theirs = srv:admin("filter", { group = G1 }).events
    assert.are.equal(721, #theirs)
    assert_same_as_boto(ours, theirs, function() return G1 end)
    assert_time_ordered(ours)
  end)

  it("keeps messages byte-exact: UTF-8, multi-line, trailing CR LF, 200 KB", function()
    local by_msg = {}
    for ev in client:events{ group = G1 } do by_msg[ev.message] = true end
    assert.is_true(by_msg["stream 3 event 1 héllo wörld ✓ 😀"])
    assert.is_true(by_msg["stream 3 event 2\nsecond line\n\tthird line"])
    assert.is_true(by_msg["stream 3 event 3\r\n"])
    assert.is_true(by_msg["stream 3 event 4   \t "])
    assert.is_true(by_msg[string.rep("0123456789abcdef", 12800)])
  end)

  it("includes events exactly on the start and the end boundary (both inclusive)", function()
    local start, stop = T0 + 10000, T0 + 20000
    local ours = collect{ group = G1, start = start, stop = stop }
    local theirs = srv:admin("filter", { group = G1, start = start, ["end"] = stop }).events
    assert_same_as_boto(ours, theirs)
    local at_start, at_end = 0, 0
    for _, ev in ipairs(ours) do
      assert(ev.timestamp >= start and ev.timestamp <= stop)
      if ev.timestamp == start then at_start = at_start + 1 end
      if ev.timestamp == stop then at_end = at_end + 1 end
    end
    assert.are.equal(12, at_start)
    assert.are.equal(12, at_end)
  end)

  it("slices a range into parallel page chains without losing or repeating events", function()
    local start, stop = T0, T0 + 59000
    for _, parallel in ipairs{ 1, 3, 8 } do
      local ours = collect{ group = G1, start = start, stop = stop, parallel = parallel,
        concurrency = 4, page_limit = 37 }
      local theirs = srv:admin("filter", { group = G1, start = start, ["end"] = stop }).events
      assert_same_as_boto(ours, theirs)
      assert_time_ordered(ours)
    end
  end)

  it("reads a range with no start from its first event on, open below, losing nothing", function()
    local stop = util.now_ms()
    local it_, _, _, closer, run = assert(client:events{ group = G1, stop = stop, parallel = 4,
      page_limit = 37 })
    local ours = {}
    for ev in it_ do ours[#ours + 1] = ev end
    local _ <close> = closer
    assert.is_nil(run.sources[1].slices[1].lo)        -- the first slice stays open below
    assert.is_true(run.requests > 1)
    assert_same_as_boto(ours, srv:admin("filter", { group = G1 }).events)
    assert_time_ordered(ours)
    local ok, err = pcall(function()
      for _ in client:events{ group = "/cwlogs/not-there", stop = stop } do end
    end)
    assert.is_false(ok)
    assert.are.equal("ResourceNotFoundException", err.code)
    assert.matches("'/cwlogs/not-there'", err.message, 1, true)
  end)

  it("accepts TIME strings and epoch ms for start and stop", function()
    local n = 0
    for _ in client:events{ group = G1, start = "4 hours ago", stop = "now" } do n = n + 1 end
    assert.are.equal(721, n)
    local none = collect{ group = G1, start = T0 + 3600 * 1000, stop = "now" }
    assert.are.equal(0, #none)
  end)

  it("splits more than 100 stream names into batches and merges them in order", function()
    local names = {}
    for s = 1, 150 do names[s] = string.format("s%03d", s) end
    local ours = collect{ group = G150, streams = names, page_limit = 40 }
    local theirs = srv:admin("filter", { group = G150, streams = names }).events
    assert.are.equal(300, #theirs)
    assert_same_as_boto(ours, theirs)
    assert_time_ordered(ours)
    local seen = {}
    for _, ev in ipairs(ours) do
      assert.is_nil(seen[ev.id], "event " .. ev.id .. " twice")
      seen[ev.id] = true
      assert(tonumber(ev.stream:sub(2)) <= 150)
    end
  end)

  it("merges two groups by time and tags each event with its group", function()
    local ours = collect{ groups = { G1, G2 }, page_limit = 60 }
    local a = srv:admin("filter", { group = G1 }).events
    local b = srv:admin("filter", { group = G2 }).events
    for _, e in ipairs(a) do e.group = G1 end
    for _, e in ipairs(b) do e.group = G2 end
    local both = table.move(b, 1, #b, #a + 1, table.move(a, 1, #a, 1, {}))
    assert_same_as_boto(ours, both, function(e) return e.group end)
    assert_time_ordered(ours)
  end)

  it("applies grep locally and the filter pattern on the service", function()
    local grepped = collect{ group = G1, grep = "^ERROR stream %d+ event 15$" }
    assert.are.equal(12, #grepped)
    local patterned = collect{ group = G1, pattern = "ERROR" }
    local theirs = srv:admin("filter", { group = G1, pattern = "ERROR" }).events
    assert.are.equal(72, #theirs)
    assert_same_as_boto(patterned, theirs)
  end)

  it("filters by stream prefix even where the service ignores it", function()
    local ours = collect{ group = G150, stream_prefix = "s15" }
    assert.are.equal(20, #ours)   -- s150 .. s159, two events each (s015 does not match)
    for _, ev in ipairs(ours) do assert.are.equal("s15", ev.stream:sub(1, 3)) end
  end)

  it("stops after limit events and releases its requests", function()
    local ours = collect{ group = G1, limit = 25, page_limit = 10 }
    assert.are.equal(25, #ours)
    assert.are.equal(0, client.transport:busy())
  end)

  it("releases in-flight requests when the loop is left early", function()
    local n = 0
    do
      for _ in client:events{ group = G1, page_limit = 20, parallel = 4, concurrency = 4,
                              start = T0, stop = T0 + 59000 } do
        n = n + 1
        if n == 3 then break end
      end
    end
    assert.are.equal(3, n)
    assert.are.equal(0, client.transport:busy())
    assert.are.equal(0, client.transport.engine:running())
    -- the client is still usable afterwards
    assert.are.equal(721, #collect{ group = G1 })
  end)

  it("can be driven by an event loop: the wait hook's yields reach the loop", function()
    local waits, yields_seen = 0, 0
    local looped
    looped = assert(cwlogs.client(srv:client_opts{
      wait = function(sockets, timeout_ms)
        waits = waits + 1
        assert.is_table(sockets)
        assert.is_number(timeout_ms)
        -- an event loop would poll these sockets; hand control to it
        return coroutine.yield("poll", timeout_ms)
      end,
    }))
    local task = coroutine.create(function()
      local n = 0
      for _ in looped:events{ group = G1, page_limit = 50, parallel = 2, start = T0,
                              stop = T0 + 59000 } do n = n + 1 end
      return n
    end)
    -- the "event loop": resume the task; when it yields to poll, wait on the engine for it
    local ok, what, arg = coroutine.resume(task)
    while coroutine.status(task) ~= "dead" do
      assert.is_true(ok, what)
      assert.are.equal("poll", what)
      yields_seen = yields_seen + 1
      looped.transport.engine:wait(arg)
      ok, what, arg = coroutine.resume(task)
    end
    assert.is_true(ok, what)
    assert.are.equal(721, what)   -- 12 x 60 events and the 200 KB one
    assert.is_true(waits > 0)
    assert.are.equal(waits, yields_seen)
    looped:close()
  end)

  it("keeps a client made just for the loop alive until the loop ends", function()
    local n = 0
    for _ in assert(cwlogs.client(srv:client_opts())):events{ group = G1, page_limit = 50 } do
      n = n + 1
      collectgarbage()   -- nothing else refers to the client: the iterator must
    end
    assert.are.equal(721, n)
  end)

  it("names the missing group in the error it raises", function()
    local ok, err = pcall(function()
      for _ in client:events{ group = "/cwlogs/does-not-exist" } do end
    end)
    assert.is_false(ok)
    assert.are.equal("ResourceNotFoundException", err.code)
    assert.are.equal(400, err.status)
    assert.matches("/cwlogs/does-not-exist", tostring(err), 1, true)
  end)

  it("returns nil, err for bad options instead of raising", function()
    local cases = {
      { {}, "group" },
      { { group = G1, start = "tuesdy" }, "tuesdy" },
      { { group = G1, start = T0 + 10, stop = T0 }, "after" },
      { { group = G1, grep = "[" }, "grep" },
      { { group = G1, limit = 0 }, "limit" },
      { { group = G1, streams = "x" }, "streams" },
    }
    for _, c in ipairs(cases) do
      local it_, err = client:events(c[1])
      assert.is_nil(it_)
      assert.are.equal("InvalidArgument", err.code)
      assert.matches(c[2], err.message, 1, true)
    end
  end)
end)
