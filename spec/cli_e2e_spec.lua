-- bin/cwlogs as a subprocess against moto (signature checking on), with boto3 as the oracle:
-- what the command prints must be what boto3's FilterLogEvents returns, byte for byte.
local cjson = require("cjson")
local core = require("cwlogs.core")
local moto = require("support.moto")
local util = require("support.util")
local tmpdir, dir_list = util.tmpdir, util.dir_list

local q = util.sh_quote
local CPATH = os.getenv("CWLOGS_CPATH") or "build/?.so"
if not CPATH:find("^/") then CPATH = (os.getenv("PWD") or ".") .. "/" .. CPATH end

local srv
local T0                      -- base timestamp of the seeded data (ms, whole seconds)
local GA, GB, G160, GBIG      -- group names
local BIG_MSG                 -- the 200 KB message in GA

-- Runs bin/cwlogs with args (a list) against moto. -> status, stdout, stderr
local function cwlogs(args, env_extra, shell_tail)
  local parts = {}
  for i, a in ipairs(args) do parts[i] = q(a) end
  local cmd = srv:env_prefix(env_extra) .. " CWLOGS_CPATH=" .. q(CPATH)
    .. " lua5.4 bin/cwlogs " .. table.concat(parts, " ") .. (shell_tail or "")
  return util.run(cmd)
end



local function iso_utc(ms) return assert(core.format_time(ms, { tz = "utc" })) end

-- Asserts that `out` is the text of `events` (boto3's), one `line_of(ev) .. "\n"` per event, in
-- non-decreasing timestamp order; events with the same timestamp may come in any order, so
-- each run of equal timestamps is matched as a multiset.
local function assert_lines(events, out, line_of)
  line_of = line_of or function(ev) return util.rstrip(ev.message) end
  local by_ts, stamps = {}, {}
  for _, ev in ipairs(events) do
    local ts = math.tointeger(ev.timestamp)
    if not by_ts[ts] then by_ts[ts] = {}; stamps[#stamps + 1] = ts end
    table.insert(by_ts[ts], line_of(ev) .. "\n")
  end
  table.sort(stamps)
  local pos = 1
  for _, ts in ipairs(stamps) do
    local left = by_ts[ts]
    table.sort(left, function(a, b) return #a > #b end)   -- longest first: "a\nb" before "a"
    while #left > 0 do
      local found
      for i, line in ipairs(left) do
        if out:sub(pos, pos + #line - 1) == line then found = i break end
      end
      assert(found, string.format("at byte %d expected one of the %d events at %d, got %q",
        pos, #left, ts, out:sub(pos, pos + 80)))
      pos = pos + #table.remove(left, found)
    end
  end
  assert.are.equal(#out + 1, pos, "unexpected output after the last event")
end

local function filter(args) return srv:admin("filter", args).events end

setup(function()
  srv = moto.start()
  T0 = (util.now_ms() - 3 * 3600 * 1000) // 1000 * 1000
  GA = moto.unique("/cwlogs/e2e-a")
  GB = moto.unique("/cwlogs/e2e-b")
  G160 = moto.unique("/cwlogs/e2e-160")
  GBIG = moto.unique("/cwlogs/e2e-big")
  -- GA: 8 streams with identical timestamps, awkward messages, and a 200 KB one.
  local streams = {}
  for s = 1, 8 do
    local evs = {}
    for i = 0, 39 do
      local msg = string.format("s%d e%d", s, i)
      local k = i % 8
      if k == 1 then msg = msg .. " héllo wörld ✓ 😀 日本語"
      elseif k == 2 then msg = msg .. "\nsecond line\n\tthird line\n"
      elseif k == 3 then msg = msg .. " windows\r\n"
      elseif k == 4 then msg = msg .. " spaces   \t "
      elseif k == 5 then msg = "ERROR " .. msg .. " \"quoted\" back\\slash /path"
      elseif k == 6 then msg = msg .. " ctl \1\27[31m red \127 end"
      end
      evs[#evs + 1] = { timestamp = T0 + i * 1000, message = msg }
    end
    streams[string.format("app/%02d", s)] = evs
  end
  local piece = "0123456789abcdef héllo ✓ \"q\" \\ /\t"
  local big = {}
  while #table.concat(big) < 200 * 1024 do big[#big + 1] = piece end
  BIG_MSG = table.concat(big) .. "  \r\n"
  streams["big"] = { { timestamp = T0 + 20500, message = BIG_MSG } }
  srv:admin("seed", { group = GA, streams = streams })
  -- GB: interleaves with GA in time, some timestamps equal to GA's.
  local evs = {}
  for i = 0, 29 do evs[#evs + 1] = { timestamp = T0 + i * 1500, message = "gb " .. i } end
  srv:admin("seed", { group = GB, streams = { other = evs } })
  -- G160: 160 streams, two events each.
  local many = {}
  for s = 1, 160 do
    many[string.format("s%03d", s)] = { { timestamp = T0 + s * 7, message = "m" .. s },
      { timestamp = T0 + 5000 + s, message = "n" .. s } }
  end
  srv:admin("seed", { group = G160, streams = many })
  -- GBIG: more output than a pipe holds.
  local lots = {}
  for i = 1, 3000 do
    lots[i] = { timestamp = T0 + i, message = string.format("%06d ", i) .. string.rep("x", 92) }
  end
  srv:admin("seed", { group = GBIG, streams = { one = lots } })
end)

describe("cwlogs get (bin/cwlogs against moto)", function()
  it("prints every event of a group as boto3 sees it, rstripped, in time order", function()
    local status, out, err = cwlogs({ "get", GA })
    assert.are.equal(0, status, err)
    assert.are.equal("", err)
    local theirs = filter({ group = GA })
    assert.are.equal(8 * 40 + 1, #theirs)
    assert_lines(theirs, out)
    assert.truthy(out:find(util.rstrip(BIG_MSG) .. "\n", 1, true))
  end)

  it("writes JSONL that decodes to boto3's fields, the message unmodified", function()
    local status, out, err = cwlogs({ "get", GA, "--format", "jsonl" })
    assert.are.equal(0, status, err)
    local theirs = {}
    for _, ev in ipairs(filter({ group = GA })) do
      assert.is_nil(theirs[ev.eventId], "boto3 event ids should be unique")
      theirs[ev.eventId] = ev
    end
    local n, last_ts = 0, -math.huge
    for line in out:gmatch("([^\n]*)\n") do
      n = n + 1
      local obj = cjson.decode(line)
      local want = theirs[obj.eventId]
      assert.truthy(want, "unknown eventId " .. tostring(obj.eventId))
      theirs[obj.eventId] = nil
      assert.are.equal(GA, obj.logGroupName)
      assert.are.equal(want.logStreamName, obj.logStreamName)
      assert.are.equal(math.tointeger(want.timestamp), math.tointeger(obj.timestamp))
      assert.are.equal(math.tointeger(want.ingestionTime), math.tointeger(obj.ingestionTime))
      assert.are.equal(want.message, obj.message)
      assert.is_true(obj.timestamp >= last_ts, "out of order at line " .. n)
      last_ts = obj.timestamp
      -- integers, not 1.7e+12
      assert.truthy(line:find('"timestamp":' .. math.tointeger(want.timestamp) .. ",", 1, true))
    end
    assert.are.equal(8 * 40 + 1, n)
    assert.is_nil(next(theirs), "events missing from the output")
  end)

  it("keeps both --start and --end inclusive, and prefixes -t times in --tz utc", function()
    local lo, hi = T0 + 10 * 1000, T0 + 20 * 1000
    local status, out, err = cwlogs({ "get", GA, "--start", iso_utc(lo), "--end", iso_utc(hi),
      "-t", "--tz", "utc" })
    assert.are.equal(0, status, err)
    local theirs = filter({ group = GA, start = lo, ["end"] = hi })
    local at_lo, at_hi = 0, 0
    for _, ev in ipairs(theirs) do
      if ev.timestamp == lo then at_lo = at_lo + 1 end
      if ev.timestamp == hi then at_hi = at_hi + 1 end
    end
    assert.are.equal(8, at_lo)
    assert.are.equal(8, at_hi)
    assert.are.equal(8 * 11, #theirs)
    assert_lines(theirs, out, function(ev)
      return iso_utc(math.tointeger(ev.timestamp)) .. " " .. util.rstrip(ev.message)
    end)
    assert.truthy(out:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.000Z s%d e10"), out:sub(1, 80))

    -- one millisecond inside on each side drops the boundary events
    status, out = cwlogs({ "get", GA, "--start", iso_utc(lo + 1), "--end", iso_utc(hi - 1) })
    assert.are.equal(0, status)
    assert_lines(filter({ group = GA, start = lo + 1, ["end"] = hi - 1 }), out)
    assert.falsy(out:find("e10\n", 1, true))
    assert.falsy(out:find(" e20 ", 1, true))
  end)

  it("reads 150 --stream names (seeded 160) and prints only theirs", function()
    local args, names = { "get", G160, "--show-stream" }, {}
    for s = 1, 150 do
      names[s] = string.format("s%03d", s)
      args[#args + 1] = "--stream"
      args[#args + 1] = names[s]
    end
    local status, out, err = cwlogs(args)
    assert.are.equal(0, status, err)
    local theirs = filter({ group = G160, streams = names })
    assert.are.equal(300, #theirs)
    assert_lines(theirs, out, function(ev) return ev.logStreamName .. " " .. ev.message end)
    for s = 151, 160 do
      assert.falsy(out:find(string.format("s%03d ", s), 1, true), "stream s" .. s .. " printed")
    end
  end)

  it("merges two groups in time order", function()
    local status, out, err = cwlogs({ "get", GA, GB })
    assert.are.equal(0, status, err)
    local theirs = filter({ group = GA })
    for _, ev in ipairs(filter({ group = GB })) do theirs[#theirs + 1] = ev end
    assert.are.equal(8 * 40 + 1 + 30, #theirs)
    assert_lines(theirs, out)
  end)

  it("keeps with --grep what the Lua pattern matches, and with --filter what the service keeps", function()
    local pat = "^ERROR s%d+ e%d*[05]"
    local status, out, err = cwlogs({ "get", GA, "--grep", pat })
    assert.are.equal(0, status, err)
    local want = {}
    for _, ev in ipairs(filter({ group = GA })) do
      if ev.message:find(pat) then want[#want + 1] = ev end
    end
    assert.is_true(#want > 0 and #want < 8 * 5)
    assert_lines(want, out)

    status, out, err = cwlogs({ "get", GA, "--filter", "ERROR" })
    assert.are.equal(0, status, err)
    local theirs = filter({ group = GA, pattern = "ERROR" })
    assert.are.equal(8 * 5, #theirs)
    assert_lines(theirs, out)
  end)

  it("writes -o FILE on success; a failure leaves no file, no temp file, an old file untouched", function()
    local d = tmpdir()
    local path = d .. "/out.log"
    local status, out, err = cwlogs({ "get", GB, "-o", path })
    assert.are.equal(0, status, err)
    assert.are.equal("", out)
    assert_lines(filter({ group = GB }), util.read_file(path))
    assert.are.same({ "out.log" }, dir_list(d))

    local missing = moto.unique("/cwlogs/e2e-missing")
    local fresh = d .. "/fresh.log"
    status, out, err = cwlogs({ "get", missing, "-o", fresh })
    assert.are.equal(1, status)
    assert.are.equal("", out)
    assert.truthy(err:match("^cwlogs: [^\n]*\n$"), err)
    assert.truthy(err:find(missing, 1, true), err)
    assert.are.same({ "out.log" }, dir_list(d))

    status = cwlogs({ "get", missing, "--output", path })
    assert.are.equal(1, status)
    assert_lines(filter({ group = GB }), util.read_file(path))
    assert.are.same({ "out.log" }, dir_list(d))
    os.execute("rm -rf " .. q(d))
  end)

  it("rejects a bad time with status 2 and one line naming it", function()
    local status, out, err = cwlogs({ "get", GA, "--start", "tuesdy" })
    assert.are.equal(2, status)
    assert.are.equal("", out)
    assert.are.equal("cwlogs: invalid time for --start: 'tuesdy'\n", err)
  end)

  it("ends quietly with status 0 when the reader of a pipe goes away (| head -1)", function()
    local d = tmpdir()
    local status_file = d .. "/status"
    local parts = { "get", GBIG }
    for i, a in ipairs(parts) do parts[i] = q(a) end
    local cmd = "( " .. srv:env_prefix() .. " CWLOGS_CPATH=" .. q(CPATH) .. " lua5.4 bin/cwlogs "
      .. table.concat(parts, " ") .. "; echo $? > " .. q(status_file) .. " ) | head -1"
    local status, out, err = util.run(cmd)
    assert.are.equal(0, status)
    assert.are.equal("000001 " .. string.rep("x", 92) .. "\n", out)
    assert.are.equal("", err)
    assert.are.equal("0\n", util.read_file(status_file))
    os.execute("rm -rf " .. q(d))
  end)
end)

describe("cwlogs groups and streams (bin/cwlogs against moto)", function()
  it("lists every group with a prefix, past the first page", function()
    local prefix = moto.unique("/cwlogs/e2e-groups") .. "/"
    local names = {}
    for i = 1, 60 do names[i] = string.format("%sg%02d", prefix, i) end
    srv:admin("create_groups", { names = names })
    local status, out, err = cwlogs({ "groups", prefix })
    assert.are.equal(0, status, err)
    local got = {}
    for l in out:gmatch("([^\n]*)\n") do got[#got + 1] = l end
    table.sort(got)
    assert.are.same(names, got)
  end)

  it("lists every stream of a group, newest event first, past the first page", function()
    local group = moto.unique("/cwlogs/e2e-streams")
    local streams, want = {}, {}
    for i = 1, 60 do
      -- names in another order than their times
      local name = string.format("st-%02d", (i * 37) % 61)
      streams[name] = { { timestamp = T0 + i * 1000, message = "x" } }
      want[61 - i] = name
    end
    srv:admin("seed", { group = group, streams = streams })
    local status, out, err = cwlogs({ "streams", group })
    assert.are.equal(0, status, err)
    local got = {}
    for l in out:gmatch("([^\n]*)\n") do got[#got + 1] = l end
    assert.are.same(want, got)
  end)
end)

describe("cwlogs failures (bin/cwlogs against moto)", function()
  it("reports a wrong secret as one line naming SignatureDoesNotMatch, never the secret", function()
    local secret = "wrongSecretDoNotPrint0123456789abcdefXYZ"
    local status, out, err = cwlogs({ "get", GA }, { AWS_SECRET_ACCESS_KEY = secret })
    assert.are.equal(1, status)
    assert.are.equal("", out)
    assert.truthy(err:match("^cwlogs: [^\n]*\n$"), err)
    assert.truthy(err:find("SignatureDoesNotMatch", 1, true), err)
    assert.falsy(err:find(secret, 1, true))
    assert.falsy(err:find(srv.secret_key, 1, true))
    assert.falsy(err:find("traceback", 1, true))
  end)

  it("reports missing credentials as one line saying what is missing", function()
    local home = tmpdir()
    local cmd = "env -i PATH=" .. q(os.getenv("PATH") or "/usr/bin:/bin") .. " HOME=" .. q(home)
      .. " AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_REGION=us-east-1"
      .. " AWS_ENDPOINT_URL=" .. q(srv.endpoint) .. " CWLOGS_CPATH=" .. q(CPATH)
      -- under make asan the core needs its sanitizer runtime preloaded
      .. (os.getenv("LD_PRELOAD") and (" LD_PRELOAD=" .. q(os.getenv("LD_PRELOAD"))) or "")
      .. " lua5.4 bin/cwlogs get " .. q(GA)
    local status, out, err = util.run(cmd)
    assert.are.equal(1, status)
    assert.are.equal("", out)
    assert.truthy(err:match("^cwlogs: [^\n]*\n$"), err)
    assert.truthy(err:lower():find("credentials", 1, true), err)
    os.execute("rm -rf " .. q(home))
  end)
end)
