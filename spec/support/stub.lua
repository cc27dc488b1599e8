-- Launches spec/support/stub_server.py (the fault-injecting HTTP stub) from specs.
--   local stub = require("support.stub").start({ {status=500}, {status=200, body={...}} })
--   stub.url, stub:requests() (what it received, in order), stub:stop()
local cjson = require("cjson")
local util = require("support.util")

local M = {}
local Stub = {}
Stub.__index = Stub

local SCRIPT = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "spec/support")
  .. "/stub_server.py"

function M.start(actions)
  local script, log = os.tmpname(), os.tmpname()
  util.write_file(script, cjson.encode(actions))
  -- sh prints its pid and then becomes python (exec), so the pid is the stub's own.
  -- LD_PRELOAD (set for sanitizer runs) must not reach python.
  local cmd = string.format(
    "sh -c 'echo PID $$; exec env -u LD_PRELOAD python3 %s --script %s --log %s --idle-exit 30'",
    SCRIPT, script, log)
  local pipe = assert(io.popen(cmd, "r"))
  local pid = assert(pipe:read("l"):match("^PID (%d+)$"))
  local port = assert((pipe:read("l") or ""):match("^PORT (%d+)$"), "stub did not start")
  return setmetatable({ pid = pid, port = tonumber(port), pipe = pipe, script = script,
    log = log, url = "http://127.0.0.1:" .. port }, Stub)
end

function Stub:stop()
  if self.stopped then return end
  self.stopped = true
  os.execute("kill " .. self.pid .. " 2>/dev/null")
  self.pipe:close()   -- waits until the process is gone
  os.remove(self.script)
  os.remove(self.log)
end

-- Requests the stub received, in arrival order (decoded log lines).
function Stub:requests()
  local out = {}
  for line in io.lines(self.log) do out[#out + 1] = cjson.decode(line) end
  return out
end

return M
