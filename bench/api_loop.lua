-- The Lua API path: count the events of a time range through require("cwlogs").
--
--   lua5.4 bench/api_loop.lua --start MS --end MS [--group NAME] [--batches]
--
-- The client reads AWS_* from the environment like the CLI does (the runner points
-- AWS_ENDPOINT_URL at the stand-in). By default it is the documented loop
--   for ev in client:events{...} do n = n + 1 end
-- with --batches it walks client:event_batches{...} (arrays of events) instead.
-- Prints "events=<n>". Exit status 1 on an error raised by the iterator.
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local root = here:match("^(.*)/[^/]*$") or (here == "." and ".." or ".")
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
package.cpath = (os.getenv("CWLOGS_CPATH") or (root .. "/build/?.so")) .. ";" .. package.cpath

local cwlogs = require("cwlogs")

local opts = { group = "/bench/group" }
local batches = false
do
  local i = 1
  while i <= #arg do
    local k, v = arg[i], arg[i + 1]
    if k == "--batches" then
      batches = true
      i = i + 1
    else
      if k == "--start" then opts.start = math.tointeger(tonumber(v))
      elseif k == "--end" then opts.stop = math.tointeger(tonumber(v))
      elseif k == "--group" then opts.group = v
      else
        io.stderr:write("api_loop: unknown argument '", tostring(k), "'\n")
        os.exit(2)
      end
      i = i + 2
    end
  end
end

local client, err = cwlogs.client{}
if not client then
  io.stderr:write("api_loop: ", tostring(err), "\n")
  os.exit(1)
end

local n = 0
local ok, e = pcall(function()
  if batches then
    for arr in client:event_batches(opts) do n = n + #arr end
  else
    for _ in client:events(opts) do n = n + 1 end
  end
end)
if not ok then
  io.stderr:write("api_loop: ", tostring(e), "\n")
  os.exit(1)
end
io.write(string.format("events=%d\n", n))
