-- Launches bench/standin.py (the realistic CloudWatch Logs stand-in) from specs.
--
--   local si = require("support.standin").start{
--     groups = { "name=/g0,events=1000,streams=20,span_ms=3600000", ... },
--     options = { latency_ms = 5 },     -- service options (see standin.py)
--   }
--   si.url, si.info (groups by name), si:config{ rate = 5 }, si:stats(reset), si:stop()
--   si:client_opts(extra) -> options for cwlogs.client pointed at it
--   si:reference(args) -> events read by tools/refread.py (boto3), the independent reader
local cjson = require("cjson")
local util = require("support.util")

local M = {}
local Standin = {}
Standin.__index = Standin

local ROOT = (debug.getinfo(1, "S").source:match("^@(.*)/spec/support/[^/]*$")) or "."
local q = util.sh_quote

function M.start(opts)
  local args = {}
  for _, g in ipairs(opts.groups) do args[#args + 1] = "--group-spec " .. q(g) end
  for k, v in pairs(opts.options or {}) do
    args[#args + 1] = "--" .. k:gsub("_", "-") .. " " .. q(tostring(v))
  end
  -- sh prints its pid and then becomes python (exec), so the pid is the stand-in's own.
  -- LD_PRELOAD (set for sanitizer runs) must not reach python.
  local cmd = string.format("sh -c 'echo PID $$; exec env -u LD_PRELOAD python3 %s/bench/standin.py"
    .. " --idle-exit 120 %s 2>/dev/null'", ROOT, table.concat(args, " "):gsub("'", "'\\''"))
  local pipe = assert(io.popen(cmd, "r"))
  local pid = assert(pipe:read("l"):match("^PID (%d+)$"))
  local port = assert((pipe:read("l") or ""):match("^PORT (%d+)$"), "stand-in did not start")
  local self = setmetatable({ pid = pid, pipe = pipe, port = tonumber(port),
    url = "http://127.0.0.1:" .. port }, Standin)
  self.info = {}
  for _, g in ipairs(self:get("/info?names=1").groups) do
    for _, k in ipairs{ "events", "streams", "bytes", "first_ts", "last_ts" } do
      g[k] = math.tointeger(g[k]) or g[k]    -- cjson reads numbers as floats
    end
    self.info[g.name] = g
  end
  return self
end

function Standin:get(path)
  local code, out, err = util.run("env -u LD_PRELOAD curl -sS --max-time 60 " .. q(self.url .. path))
  assert(code == 0, "stand-in GET " .. path .. " failed: " .. tostring(err))
  return cjson.decode(out)
end

function Standin:config(cfg)
  local parts = {}
  for k, v in pairs(cfg) do parts[#parts + 1] = k .. "=" .. tostring(v) end
  return self:get("/config?" .. table.concat(parts, "&"))
end

function Standin:stats(reset)
  return self:get("/stats" .. (reset and "?reset=1" or ""))
end

function Standin:client_opts(extra)
  local o = { region = "us-east-1", endpoint = self.url,
    credentials = { access_key = "AKIDSTANDIN", secret_key = "standin-secret" } }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

-- Events of a selection as the reference reader (boto3) reads them.
-- args: { groups = {...}, start =, ["end"] =, streams = {...}, prefix =, pattern = }
function Standin:reference(args)
  local parts = { "env -u LD_PRELOAD python3", q(ROOT .. "/tools/refread.py"), "--endpoint", q(self.url) }
  for _, g in ipairs(args.groups) do parts[#parts + 1] = q(g) end
  if args.start then parts[#parts + 1] = "--start " .. args.start end
  if args["end"] then parts[#parts + 1] = "--end " .. args["end"] end
  for _, s in ipairs(args.streams or {}) do parts[#parts + 1] = "--stream=" .. q(s) end
  if args.prefix then parts[#parts + 1] = "--stream-prefix=" .. q(args.prefix) end
  if args.pattern then parts[#parts + 1] = "--filter=" .. q(args.pattern) end
  local code, out, err = util.run(table.concat(parts, " "))
  assert(code == 0, "reference reader failed: " .. tostring(err))
  local evs = {}
  for line in out:gmatch("[^\n]+") do evs[#evs + 1] = cjson.decode(line) end
  return evs
end

function Standin:stop()
  if self.stopped then return end
  self.stopped = true
  os.execute("kill " .. self.pid .. " 2>/dev/null")
  self.pipe:close()
end

return M
