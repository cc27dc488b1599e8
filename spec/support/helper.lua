-- Loaded by busted before any spec: point package.cpath at the in-tree C core.
local cpath = os.getenv("CWLOGS_CPATH") or "build/?.so"
package.cpath = cpath .. ";" .. package.cpath
