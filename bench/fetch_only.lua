-- The transport lower bound: fetch every FilterLogEvents page of a time range through the
-- same C HTTP engine cwlogs uses, and do nothing else with them. No signing (the stand-in
-- does not check), no JSON decoding: the nextToken is read with a plain search in the last
-- bytes of the body. Counts pages and bytes.
--
--   lua5.4 bench/fetch_only.lua --endpoint http://127.0.0.1:PORT --start MS --end MS
--                               [--group NAME] [--parallel N] [--decode] [--pattern P]
--                               [--stream NAME]...
--
-- --pattern sends a filterPattern; --stream names streams (batches of 100, read one after
-- the other, as a sequential reader must).
-- --parallel 1 (the default) is one plain sequential loop: request, wait, next token.
-- --parallel N cuts [start, end] into N equal time slices and keeps one request per slice
-- in flight, like the pager does; pages are still only counted.
-- --decode is not a lower bound: it also runs each page through core.decode_events (the C
-- decoder the pager uses) and counts the events, to show what decoding adds.
-- Prints one line: "pages=<n> bytes=<n> seconds=<s>" (and events=<n> with --decode).
-- Exit status 1 on any failed request.
-- Module search path: CWLOGS_CPATH (e.g. build-bench/?.so), else build/?.so.
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local root = here:match("^(.*)/[^/]*$") or (here == "." and ".." or ".")
package.cpath = (os.getenv("CWLOGS_CPATH") or (root .. "/build/?.so")) .. ";" .. package.cpath

local core = require("cwlogs.core")

local function usage(msg)
  io.stderr:write("fetch_only: ", msg, "\n")
  os.exit(2)
end

local opts = { group = "/bench/group", parallel = 1, streams = {} }
do
  local i = 1
  while i <= #arg do
    local k, v = arg[i], arg[i + 1]
    if k == "--decode" then
      opts.decode, v, i = true, "", i - 1
    elseif k == "--endpoint" then opts.endpoint = v
    elseif k == "--start" then opts.start = math.tointeger(tonumber(v))
    elseif k == "--end" then opts.stop = math.tointeger(tonumber(v))
    elseif k == "--group" then opts.group = v
    elseif k == "--parallel" then opts.parallel = math.tointeger(tonumber(v))
    elseif k == "--pattern" then opts.pattern = v
    elseif k == "--stream" then opts.streams[#opts.streams + 1] = v
    else usage("unknown argument '" .. tostring(k) .. "'") end
    if v == nil then usage("missing value for " .. k) end
    i = i + 2
  end
end
if not opts.endpoint or not opts.start or not opts.stop then
  usage("need --endpoint URL --start MS --end MS")
end
if not opts.parallel or opts.parallel < 1 then usage("--parallel must be a positive integer") end

local url = opts.endpoint:gsub("/*$", "") .. "/"
local headers = {
  { "Content-Type", "application/x-amz-json-1.1" },
  { "X-Amz-Target", "Logs_20140328.FilterLogEvents" },
}
local TIMEOUT_MS = 60000

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

local group_json = json_string(opts.group)

local pattern_json = opts.pattern and json_string(opts.pattern)

local function request_body(lo, hi, token, names)
  local body = string.format('{"logGroupName":%s,"startTime":%d,"endTime":%d,"interleaved":true',
    group_json, lo, hi)
  if pattern_json then body = body .. ',"filterPattern":' .. pattern_json end
  if names then
    local quoted = {}
    for i, n in ipairs(names) do quoted[i] = json_string(n) end
    body = body .. ',"logStreamNames":[' .. table.concat(quoted, ",") .. "]"
  end
  if token then body = body .. ',"nextToken":' .. json_string(token) end
  return body .. "}"
end

-- The token is the last member of the stand-in's (and AWS's usual) response; look only at
-- the tail so the cost does not grow with the page size.
local TAIL = 4096
local function next_token(body)
  local from = #body > TAIL and #body - TAIL or 1
  local s, e = body:find('"nextToken":"', from, true)
  if not s then return nil end
  local stop = body:find('"', e + 1, true)
  return stop and body:sub(e + 1, stop - 1) or nil
end

local engine = assert(core.http_engine{})
local pages, bytes, nevents = 0, 0, 0
local t0 = core.clock_ms()

-- slices: { lo, hi, token, id, names }; with --stream, one chain per batch of 100 names
-- after another
local slices, pending = {}, {}
do
  local batches = { false }
  if #opts.streams > 0 then
    batches = {}
    for i = 1, #opts.streams, 100 do
      batches[#batches + 1] = table.move(opts.streams, i, math.min(i + 99, #opts.streams), 1, {})
    end
  end
  local n = opts.parallel
  local width = (opts.stop - opts.start + 1) // n
  if width < 1 then n, width = 1, opts.stop - opts.start + 1 end
  for b, names in ipairs(batches) do
    for i = 1, n do
      local lo = opts.start + (i - 1) * width
      local hi = (i == n) and opts.stop or (lo + width - 1)   -- endTime is inclusive
      local slice = { lo = lo, hi = hi, names = names or nil }
      if b == 1 then slices[#slices + 1] = slice else pending[#pending + 1] = slice end
    end
  end
end

local function send(slice)
  local id, err = engine:submit{ url = url, method = "POST", headers = headers,
    body = request_body(slice.lo, slice.hi, slice.token, slice.names), timeout_ms = TIMEOUT_MS }
  if not id then
    io.stderr:write("fetch_only: submit failed: ", tostring(err), "\n")
    os.exit(1)
  end
  slice.id = id
end

local by_id = {}
local live = 0
for _, s in ipairs(slices) do
  send(s); by_id[s.id] = s; live = live + 1
end

-- Bounded: every round either completes a request or waits; a stuck request ends at
-- TIMEOUT_MS inside libcurl, and the whole run has a hard deadline.
local deadline = t0 + 30 * 60 * 1000
while live > 0 do
  if core.clock_ms() > deadline then
    io.stderr:write("fetch_only: deadline exceeded\n")
    os.exit(1)
  end
  engine:perform()
  local results = engine:results()
  if #results == 0 then
    engine:wait(1000)
  else
    for i = 1, #results do
      local res = results[i]
      local s = by_id[res.id]
      by_id[res.id] = nil
      if res.error or res.status ~= 200 then
        io.stderr:write("fetch_only: request failed: ",
          res.error and tostring(res.error.message) or ("HTTP " .. tostring(res.status) .. " " ..
          tostring(res.body):sub(1, 200)), "\n")
        os.exit(1)
      end
      pages = pages + 1
      bytes = bytes + #res.body
      if opts.decode then
        local page, derr = core.decode_events(res.body, opts.group)
        if not page then
          io.stderr:write("fetch_only: decode failed: ", tostring(derr), "\n")
          os.exit(1)
        end
        nevents = nevents + #page.events
      end
      local token = next_token(res.body)
      if token then
        s.token = token
        send(s); by_id[s.id] = s
      elseif #pending > 0 then
        local nxt = table.remove(pending, 1)
        send(nxt); by_id[nxt.id] = nxt
      else
        live = live - 1
      end
    end
  end
end

engine:close()
io.write(string.format("pages=%d bytes=%d seconds=%.3f%s\n", pages, bytes, (core.clock_ms() - t0) / 1000,
  opts.decode and (" events=" .. nevents) or ""))
