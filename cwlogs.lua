-- Lets `lua5.4 -e 'require "cwlogs"'` work from the top of a checkout (after `make`):
-- points the search paths at lua/ and build/ (or CWLOGS_CPATH), then loads the real module.
-- Not installed: a luarocks install puts lua/cwlogs/ on the standard paths instead.
local root = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
package.cpath = (os.getenv("CWLOGS_CPATH") or (root .. "/build/?.so")) .. ";" .. package.cpath
return dofile(root .. "/lua/cwlogs/init.lua")
