-- The moto test harness: one moto_server per test process, signature checking on.
--
--   local srv = require("support.moto").start()
--   srv.endpoint, srv.access_key, srv.secret_key, srv.region
--   srv:admin("seed", { group = "/g", streams = { s1 = { {timestamp=..., message=...} } } })
--   srv:env()  -> table of AWS_* variables pointing a client at this server
--
-- The server runs under a small shell watchdog that kills it when this Lua process exits,
-- so an aborted test run never leaves a moto_server behind.
local cjson = require("cjson")
local util = require("support.util")

local M = {}
local Server = {}
Server.__index = Server

local sh_quote, read_file = util.sh_quote, util.read_file

local function my_pid()
  local stat = read_file("/proc/self/stat")
  return stat and stat:match("^(%d+)")
end

local function free_port()
  local p = io.popen("env -u LD_PRELOAD python3 -c "
    .. "'import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0));"
    .. " print(s.getsockname()[1])'")
  local port = p:read("l")
  p:close()
  return assert(tonumber(port), "could not find a free port")
end

M.support_dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "spec/support"

-- Runs a moto_admin.py command; returns the decoded JSON result or raises.
function Server:admin(command, args)
  local input = os.tmpname()
  local output = os.tmpname()
  local f = assert(io.open(input, "wb"))
  f:write(cjson.encode(args or {}))
  f:close()
  local cmd = string.format(
    "env -u LD_PRELOAD MOTO_ENDPOINT=%s MOTO_KEY=%s MOTO_SECRET=%s "
      .. "python3 %s/moto_admin.py %s < %s > %s 2>%s.err",
    sh_quote(self.endpoint), sh_quote(self.access_key or "bootstrap"),
    sh_quote(self.secret_key or "bootstrap"), sh_quote(M.support_dir), sh_quote(command),
    sh_quote(input), sh_quote(output), sh_quote(output))
  local ok = os.execute(cmd)
  local out = read_file(output) or ""
  local err = read_file(output .. ".err") or ""
  os.remove(input); os.remove(output); os.remove(output .. ".err")
  if not ok then
    error("moto_admin " .. command .. " failed: " .. err:sub(-800), 2)
  end
  return cjson.decode(out)
end

-- Environment for a subprocess (bin/cwlogs) or an injected getenv.
function Server:env(extra)
  local e = {
    AWS_ACCESS_KEY_ID = self.access_key,
    AWS_SECRET_ACCESS_KEY = self.secret_key,
    AWS_REGION = self.region,
    AWS_ENDPOINT_URL = self.endpoint,
    AWS_CONFIG_FILE = "/dev/null",
    AWS_SHARED_CREDENTIALS_FILE = "/dev/null",
  }
  for k, v in pairs(extra or {}) do e[k] = v end
  return e
end

-- "K=V K=V" prefix for a shell command, from Server:env().
function Server:env_prefix(extra)
  local parts = { "env -u AWS_PROFILE -u AWS_DEFAULT_REGION -u AWS_SESSION_TOKEN" }
  for k, v in pairs(self:env(extra)) do
    if v ~= false then parts[#parts + 1] = k .. "=" .. sh_quote(v) end
  end
  return table.concat(parts, " ")
end

-- Client options for this server (explicit credentials, no files consulted).
function Server:client_opts(extra)
  local o = {
    region = self.region,
    endpoint = self.endpoint,
    credentials = { access_key = self.access_key, secret_key = self.secret_key },
  }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

local function wait_ready(endpoint)
  for _ = 1, 200 do
    -- no sanitizer preload for curl, and a time limit: a half-started server may
    -- accept a connection before it can answer
    if os.execute("env -u LD_PRELOAD curl -s --max-time 2 -o /dev/null "
        .. sh_quote(endpoint .. "/moto-api/")) then
      return true
    end
    os.execute("sleep 0.05")
  end
  return false
end

function M.start()
  if M.server then return M.server end
  local port = free_port()
  local endpoint = "http://127.0.0.1:" .. port
  local log = os.tmpname()
  local pid = assert(my_pid())
  -- Watchdog: moto lives as long as this Lua process.
  local cmd = string.format(
    "(env -u LD_PRELOAD moto_server -H 127.0.0.1 -p %d > %s 2>&1 & m=$!; "
      .. "while kill -0 %s 2>/dev/null; do sleep 1; done; kill $m 2>/dev/null) "
      .. "> /dev/null 2>&1 < /dev/null &",
    port, sh_quote(log), pid)
  assert(os.execute(cmd))
  if not wait_ready(endpoint) then
    error("moto_server did not start on port " .. port .. ": " .. (read_file(log) or ""):sub(-500))
  end
  local srv = setmetatable({ endpoint = endpoint, port = port, region = "us-east-1", log = log }, Server)
  local keys = srv:admin("setup", {})
  srv.access_key, srv.secret_key = keys.access_key, keys.secret_key
  M.server = srv
  return srv
end

-- A unique name per call, so specs sharing one server never collide.
local counter = 0
function M.unique(prefix)
  counter = counter + 1
  return string.format("%s-%d-%d", prefix or "/cwlogs/test", os.time(), counter)
end

return M
