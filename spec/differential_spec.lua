-- Randomized differential spec: tools/differential.py draws seeded, reproducible cases
-- (1-3 groups; no stream filter, a prefix, or 1-300 names, some missing; empty, one-
-- millisecond, event-aligned or open ranges; filter patterns with scan budgets; --limit;
-- small and 1 MB pages; empty pages, repeated tokens, 5xx, resets, latency, throttling)
-- and compares `cwlogs get --format jsonl` with boto3 reading the same stand-in to the last
-- nextToken. One spec per case; a failure names the command that replays it.
--
-- CWLOGS_DIFF_CASES (default 60) and CWLOGS_DIFF_SEED choose the cases; for long runs use
-- the driver itself: python3 tools/differential.py --cases 1000 --seed N
local cjson = require("cjson")
local util = require("support.util")

local CASES = tonumber(os.getenv("CWLOGS_DIFF_CASES") or "") or 60
local SEED = tonumber(os.getenv("CWLOGS_DIFF_SEED") or "") or 20261201

-- Cases that once failed, kept whatever the seed: { seed, case, what it found }. Both were
-- found while the driver was written and were the driver's own faults (cwlogs was right);
-- they stay because they reach corners the default seed may not: a pattern that starts
-- with "-" (passed as --filter=-INFO: "--filter -INFO" is read as an option, as by the AWS
-- CLI) under a scan budget, and a selection that matches nothing across three groups.
-- The engine's own regressions (the two hangs of issue 7) are in engine_spec.lua.
local REGRESSIONS = {
  { 20261201, 81, "pattern '-INFO' with a scan budget of 200 and empty pages" },
  { 20261201, 7, "three groups, prefix 'nomatch/', on event timestamps" },
}

local CPATH = os.getenv("CWLOGS_CPATH") or "build/?.so"
if not CPATH:find("^/") then CPATH = (os.getenv("PWD") or ".") .. "/" .. CPATH end

local function run_driver(seed, only, cases)
  local json = os.tmpname()
  local cmd = string.format("env -u LD_PRELOAD CWLOGS_CPATH=%s python3 tools/differential.py --seed %d "
    .. "--json %s %s", util.sh_quote(CPATH), seed, util.sh_quote(json),
    only and ("--only " .. only) or ("--cases " .. cases))
  local code, out, err = util.run(cmd)
  local results = {}
  for line in (util.read_file(json) or ""):gmatch("[^\n]+") do
    local r = cjson.decode(line)
    results[math.tointeger(r.case)] = r
  end
  os.remove(json)
  return results, code, out, err
end

describe("differential: cwlogs get against boto3 on the stand-in", function()
  local results, driver_err
  setup(function()
    local code, out, err
    results, code, out, err = run_driver(SEED, nil, CASES)
    if code ~= 0 and not next(results) then driver_err = tostring(err) .. tostring(out) end
  end)

  for k = 1, CASES do
    it(string.format("case %d of seed %d", k, SEED), function()
      assert(not driver_err, driver_err)
      local r = results[k]
      assert(r, "no result for case " .. k)
      assert(r.ok, string.format("%s | %s | replay: python3 tools/differential.py --seed %d --only %d",
        tostring(r.why), tostring(r.desc), SEED, k))
    end)
  end
end)

describe("differential regressions", function()
  for _, reg in ipairs(REGRESSIONS) do
    local seed, k, what = reg[1], reg[2], reg[3]
    it(string.format("seed %d case %d: %s", seed, k, what), function()
      local results, _, out, err = run_driver(seed, tostring(k))
      local r = results[k]
      assert(r, "driver gave no result: " .. tostring(err) .. tostring(out))
      assert(r.ok, tostring(r.why) .. " | " .. tostring(r.desc))
    end)
  end
end)
