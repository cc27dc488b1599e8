-- client:follow (tail -f) against moto with signature checking on. New events are put
-- from inside the loop body, between polls, the way a producer would write them.
local cwlogs = require("cwlogs")
local follow = require("cwlogs.follow")
local moto = require("support.moto")
local util = require("support.util")

local srv, client

setup(function()
  srv = moto.start()
  client = assert(cwlogs.client(srv:client_opts()))
end)

teardown(function()
  if client then client:close() end
end)

local function put(group, stream, evs)
  srv:admin("put_events", { group = group, stream = stream, events = evs })
end

-- Asserts every expected message arrived exactly once and no event id repeats.
local function assert_exactly_once(got, expected_messages)
  local ids, msgs = {}, {}
  for _, ev in ipairs(got) do
    local key = ev.group .. "\0" .. ev.id
    assert.is_nil(ids[key], "duplicate event " .. ev.id .. " (" .. ev.message .. ")")
    ids[key] = true
    msgs[#msgs + 1] = ev.message
  end
  local want = table.move(expected_messages, 1, #expected_messages, 1, {})
  table.sort(msgs)
  table.sort(want)
  assert.are.same(want, msgs)
end

describe("client:follow", function()
  it("emits every event exactly once across polls, late arrivals and equal timestamps included",
    function()
      local G = moto.unique("/cwlogs/follow")
      local now = util.now_ms()
      local base = now - 20000
      -- Round 1: seeded before following; streams a and b share timestamps.
      srv:admin("seed", { group = G, streams = {
        a = { { timestamp = base, message = "r1 a0" }, { timestamp = base + 1000, message = "r1 a1" },
              { timestamp = base + 2000, message = "r1 a2" } },
        b = { { timestamp = base, message = "r1 b0" }, { timestamp = base + 2000, message = "r1 b2" },
              { timestamp = base + 2000, message = "r1 b2 again" } },
      } })
      local expected = { "r1 a0", "r1 a1", "r1 a2", "r1 b0", "r1 b2", "r1 b2 again" }
      local newest = base + 2000

      local got, rounds = {}, 1
      local it, s, c, closer, state = client:follow{ group = G, start = now - 60000,
        poll_ms = 50, max_polls = 8 }
      assert.is_function(it, tostring(s))
      local polls_at = {}
      for ev in it, s, c, closer do
        got[#got + 1] = ev
        polls_at[#polls_at + 1] = state.polls
        assert.are.equal(G, ev.group)
        if #got == 6 and rounds == 1 then
          rounds = 2
          -- Round 2: newer events, one at a timestamp already seen, and a late arrival
          -- older than the newest event already printed.
          put(G, "a", { { timestamp = newest + 3000, message = "r2 a new" },
                        { timestamp = newest, message = "r2 a same ts" },
                        { timestamp = newest - 1500, message = "r2 a late" } })
          put(G, "b", { { timestamp = newest + 3000, message = "r2 b new same ts" } })
          for _, m in ipairs({ "r2 a new", "r2 a same ts", "r2 a late", "r2 b new same ts" }) do
            expected[#expected + 1] = m
          end
        elseif #got == 10 and rounds == 2 then
          rounds = 3
          -- Round 3: only late events, older than everything printed in round 2.
          put(G, "b", { { timestamp = newest - 500, message = "r3 b late" },
                        { timestamp = newest - 500, message = "r3 b late twin" } })
          expected[#expected + 1] = "r3 b late"
          expected[#expected + 1] = "r3 b late twin"
        end
      end
      assert.are.equal(3, rounds)
      assert.are.equal(8, state.polls)   -- it kept polling and found nothing more
      assert_exactly_once(got, expected)
      -- the late events of round 3 came in a later poll than everything of round 2
      assert(polls_at[11] > polls_at[10], "round 3 should arrive in a later poll")
      assert.are.equal("r3 b late", got[11].message:sub(1, 9))
      -- within a poll, timestamp order
      for i = 2, #got do
        if polls_at[i] == polls_at[i - 1] then
          assert(got[i - 1].timestamp <= got[i].timestamp, "out of order within a poll at " .. i)
        end
      end
      assert.are.equal(0, client.transport:busy())
    end)

  it("ends at stop, applies grep and pattern, and counts limit", function()
    local G = moto.unique("/cwlogs/follow-stop")
    local now = util.now_ms()
    local evs = {}
    for i = 0, 29 do
      evs[#evs + 1] = { timestamp = now - 30000 + i * 1000,
        message = (i % 3 == 0 and "ERROR " or "info ") .. i }
    end
    srv:admin("seed", { group = G, streams = { s = evs } })

    local got = {}
    for ev in assert(client:follow{ group = G, start = now - 30000, stop = now - 15000 }) do
      got[#got + 1] = ev.message
    end
    local want = {}
    for i = 0, 15 do want[#want + 1] = evs[i + 1].message end
    assert.are.same(want, got)

    got = {}
    for ev in assert(client:follow{ group = G, start = now - 30000, stop = now, grep = "^ERROR" }) do
      got[#got + 1] = ev.message
    end
    assert.are.same({ "ERROR 0", "ERROR 3", "ERROR 6", "ERROR 9", "ERROR 12", "ERROR 15",
      "ERROR 18", "ERROR 21", "ERROR 24", "ERROR 27" }, got)

    got = {}
    for ev in assert(client:follow{ group = G, start = now - 30000, pattern = "ERROR", limit = 3,
                                    poll_ms = 20 }) do
      got[#got + 1] = ev.message
    end
    assert.are.same({ "ERROR 0", "ERROR 3", "ERROR 6" }, got)
    assert.are.equal(0, client.transport:busy())
  end)

  it("keeps following a group that is quiet, and only remembers ids inside the window", function()
    local G = moto.unique("/cwlogs/follow-window")
    local now = util.now_ms()
    local evs = {}
    for i = 0, 19 do evs[#evs + 1] = { timestamp = now - 40000 + i * 2000, message = "w" .. i } end
    srv:admin("seed", { group = G, streams = { s = evs } })
    local newest = now - 40000 + 19 * 2000
    local it, s, c, closer, state = client:follow{ group = G, start = now - 60000, poll_ms = 20,
      lag_ms = 5000, max_polls = 3 }
    local n = 0
    for _ in it, s, c, closer do n = n + 1 end
    assert.are.equal(20, n)
    assert.are.equal(3, state.polls)
    -- later windows start lag_ms behind the newest event: the ids older than that are gone
    assert.are.equal(newest - 5000, state.lo)
    local inside = 0
    for _, ev in ipairs(evs) do if ev.timestamp >= state.lo then inside = inside + 1 end end
    assert.are.equal(inside, state.seen)
    assert(inside < 20)
  end)

  it("follows several groups and streams, merged by time within a poll", function()
    local G1, G2 = moto.unique("/cwlogs/follow-m1"), moto.unique("/cwlogs/follow-m2")
    local now = util.now_ms()
    srv:admin("seed", { group = G1, streams = {
      x = { { timestamp = now - 9000, message = "g1 x" } },
      y = { { timestamp = now - 7000, message = "g1 y" } } } })
    srv:admin("seed", { group = G2, streams = { z = { { timestamp = now - 8000, message = "g2 z" } } } })
    local got = {}
    for ev in assert(client:follow{ groups = { G1, G2 }, start = now - 10000, max_polls = 2,
                                    poll_ms = 20 }) do
      got[#got + 1] = ev.message
    end
    assert.are.same({ "g1 x", "g2 z", "g1 y" }, got)
    got = {}
    for ev in assert(client:follow{ group = G1, streams = { "y" }, start = now - 10000, max_polls = 1 }) do
      got[#got + 1] = ev.message
    end
    assert.are.same({ "g1 y" }, got)
  end)

  it("closes the running download when the loop is left early", function()
    local G = moto.unique("/cwlogs/follow-close")
    local now = util.now_ms()
    local evs = {}
    for i = 0, 299 do evs[#evs + 1] = { timestamp = now - 3000000 + i * 10000, message = "c" .. i } end
    srv:admin("seed", { group = G, streams = { s = evs } })
    local n = 0
    -- several slices and small pages: requests are in flight when the loop is left
    for _ in assert(client:follow{ group = G, start = now - 3600000, page_limit = 5 }) do
      n = n + 1
      if n == 7 then break end
    end
    assert.are.equal(7, n)
    assert.are.equal(0, client.transport:busy())
    -- the explicit close works too, and the iterator then ends
    local it, _, _, closer = assert(client:follow{ group = G, start = now - 3600000, page_limit = 5 })
    assert.is_table(it())
    closer.close()
    assert.is_nil(it())
    assert.are.equal(0, client.transport:busy())
  end)

  it("raises the service's error naming a missing group", function()
    local missing = moto.unique("/cwlogs/follow-missing")
    local it = assert(client:follow{ group = missing, max_polls = 1 })
    local ok, err = pcall(it)
    assert.is_false(ok)
    assert.are.equal("ResourceNotFoundException", err.code)
    assert.truthy(tostring(err):find(missing, 1, true), tostring(err))
    assert.is_nil(it())
  end)

  it("refuses bad options with nil, err", function()
    local function fails(opts, pattern)
      local it, err = follow.iterate(client, opts)
      assert.is_nil(it)
      assert.are.equal("InvalidArgument", err.code)
      assert.truthy(tostring(err):find(pattern), tostring(err) .. " !~ " .. pattern)
    end
    fails({}, "group")
    fails({ group = "/g", start = "tuesdy" }, "start")
    fails({ group = "/g", stop = "25:00" }, "stop")
    fails({ group = "/g", start = 2000, stop = 1000 }, "after")
    fails({ group = "/g", poll_ms = 0 }, "poll_ms")
    fails({ group = "/g", lag_ms = -1 }, "lag_ms")
    fails({ group = "/g", max_polls = 1.5 }, "max_polls")
    fails({ group = "/g", grep = "[" }, "grep")
    fails({ group = "/g", limit = 0 }, "limit")
    local it, err = follow.iterate(client, "nope")
    assert.is_nil(it)
    assert.are.equal("InvalidArgument", err.code)
  end)
end)
