-- Turning events into bytes, and getting those bytes safely to their destination.
--
-- Formatters are pure functions (event -> line with its "\n"). A sink collects lines and
-- hands them to the file in chunks of about 64 KiB, so a million events cost a few hundred
-- writes, not a million. A sink writing to a named file goes through FILE.tmp.<random> and
-- is renamed onto FILE only when everything went well: a failed run never leaves half a
-- file behind and never clobbers an existing one.
local cjson = require("cjson")

local M = {}

local CHUNK = 65536
local EPIPE = 32   -- Linux errno; the message check below covers other systems

------------------------------------------------------------------------------------------
-- Trailing whitespace, as Python's str.rstrip() sees it.

-- Code points Python's str.isspace() accepts above ASCII, as their UTF-8 tails keyed by
-- their length: the C1 NEL and NBSP, OGHAM SPACE MARK, the U+2000 block spaces, LINE and
-- PARAGRAPH SEPARATOR, NARROW NBSP, MEDIUM MATHEMATICAL SPACE, IDEOGRAPHIC SPACE.
local WIDE_SPACES = {
  ["\194\133"] = true, ["\194\160"] = true,
  ["\225\154\128"] = true,
  ["\226\128\168"] = true, ["\226\128\169"] = true, ["\226\128\175"] = true,
  ["\226\129\159"] = true, ["\227\128\128"] = true,
}
for cp = 0x2000, 0x200A do WIDE_SPACES[utf8.char(cp)] = true end

local function is_ascii_space(b)
  -- \t \n \v \f \r, the four information separators 0x1C-0x1F, and space
  return (b >= 9 and b <= 13) or (b >= 28 and b <= 32)
end

-- Scans from the end, so the cost is the length of the trailing run, whatever the message.
local function lua_rstrip(s)
  local n = #s
  local i = n
  while i > 0 do
    local b = s:byte(i)
    if is_ascii_space(b) then
      i = i - 1
    elseif b >= 0x80 and (WIDE_SPACES[s:sub(i - 1, i)] or WIDE_SPACES[s:sub(i - 2, i)]) then
      i = i - (WIDE_SPACES[s:sub(i - 1, i)] and 2 or 3)
    else
      break
    end
  end
  if i == n then return s end
  return s:sub(1, i)
end
M.lua_rstrip = lua_rstrip

-- The rstrip text output uses: the core's (fast, ASCII only) when it has one, finished by
-- ours when what is left ends in a non-ASCII byte that may be a Unicode space (U+3000,
-- NBSP, ...), which the seed's Python str.rstrip() also removes.
function M.make_rstrip(fast)
  if not fast then return lua_rstrip end
  return function(s)
    local r = fast(s)
    if r:byte(-1) and r:byte(-1) >= 0x80 then return lua_rstrip(r) end
    return r
  end
end

function M.default_rstrip()
  local ok, core = pcall(require, "cwlogs.core")
  if ok and type(core) == "table" and type(core.rstrip) == "function" then
    return M.make_rstrip(core.rstrip)
  end
  return lua_rstrip
end

------------------------------------------------------------------------------------------
-- JSON pieces. Objects are assembled by hand so that keys come out in a fixed order and
-- integers never turn into 1.7e+12; lua-cjson encodes each string.

local function json_string(s)
  -- lua-cjson writes "/" as "\/"; every "/" it emits carries that backslash, so taking it
  -- off again cannot touch any other escape.
  return (cjson.encode(s):gsub("\\/", "/"))
end

local function json_value(v)
  local t = type(v)
  if t == "string" then return json_string(v) end
  if t == "number" then
    local i = math.tointeger(v)
    if i then return string.format("%d", i) end
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    return string.format("%.17g", v)
  end
  if t == "boolean" then return tostring(v) end
  if v == nil or v == cjson.null then return "null" end
  return json_string(tostring(v))
end
M.json_value = json_value

-- pairs: list of {key, value}; a nil value is written as null.
local function json_object(keys, values)
  local parts = {}
  for i, k in ipairs(keys) do
    parts[i] = json_string(k) .. ":" .. json_value(values[k])
  end
  return "{" .. table.concat(parts, ",") .. "}"
end
M.json_object = json_object

------------------------------------------------------------------------------------------
-- Formatters.

-- Batch formatters: fill(sink, events) appends the lines of a whole array of events to the
-- sink's buffer (no string per line: the pieces go into the buffer as they are) and hands
-- each full chunk to the file. -> true, or nil, write error. Pass a one-element array for a
-- single event.

local byte, find, gsub, sub, mtype = string.byte, string.find, string.gsub, string.sub, math.type
local encode = cjson.encode

-- Milliseconds as the three digits ISO 8601 times carry.
local MILLIS = {}
for i = 0, 999 do MILLIS[i] = string.format("%03d", i) end

-- A string in JSON, as lua-cjson writes it (control characters, DEL, quotes and backslashes
-- escaped; every other byte, valid UTF-8 or not, passed through) less its escaping of "/",
-- appended to buf[n+1...] in pieces (no copy of a string that needs no escaping).
-- -> new n, bytes appended
local slash_at = {}
local MAX_SLASHES = 32
local function json_into(s, buf, n)
  local e = encode(s)
  local extra = #e - #s - 2
  if extra == 0 then
    buf[n + 1], buf[n + 2], buf[n + 3] = '"', s, '"'
    return n + 3, #e
  end
  -- Every "/" in e is an escaped one, one byte of the extra; every other escape costs at
  -- least one byte too.
  local k, i = 0, 1
  while k < extra and k < MAX_SLASHES do
    local j = find(e, "/", i, true)
    if not j then break end
    k = k + 1
    slash_at[k] = j
    i = j + 1
  end
  if k == 0 then
    buf[n + 1] = e
    return n + 1, #e
  elseif k == extra then   -- only "/"s were escaped: s is its own JSON body
    buf[n + 1], buf[n + 2], buf[n + 3] = '"', s, '"'
    return n + 3, #s + 2
  elseif k == MAX_SLASHES and find(e, "/", i, true) then
    e = gsub(e, "\\/", "/")
    buf[n + 1] = e
    return n + 1, #e
  end
  -- the pieces of e between the "\/"s, each "/" kept and its backslash left out
  local p = 1
  for q = 1, k do
    local j = slash_at[q]
    n = n + 1
    buf[n] = sub(e, p, j - 2)
    p = j
  end
  n = n + 1
  buf[n] = sub(e, p)
  return n, #e - k
end

-- The same as one string.
local function json_str(s)
  local parts = {}
  local n = json_into(s, parts, 0)
  return table.concat(parts, "", 1, n)
end
M._json_str = json_str

-- One event's line the slow way (fields of unexpected types).
local function jsonl_line(ev)
  return '{"logGroupName":' .. json_value(ev.group) .. ',"logStreamName":' .. json_value(ev.stream)
    .. ',"timestamp":' .. json_value(ev.timestamp) .. ',"ingestionTime":'
    .. json_value(ev.ingestion_time) .. ',"eventId":' .. json_value(ev.id)
    .. ',"message":' .. json_value(ev.message) .. "}\n"
end

-- The batch formatters fill sink.buf themselves; when it holds a chunk's worth they record
-- how far they got and have the sink write it (sinks provide buf, n, size, flush_buffer).
-- -> the emptied buffer table, or nil, write error
local function spill(sink, n, size)
  sink.n, sink.size = n, size
  local ok, err = sink:flush_buffer()
  if not ok then return nil, err end
  return sink.buf
end

local NIL_KEY = {}

-- Keys in the AWS API's order, message untouched.
function M.jsonl_batch()
  -- '{"logGroupName":G,"logStreamName":S,"timestamp":' per group and stream, made once
  local heads = {}
  local function head(g, s)
    local gk = g == nil and NIL_KEY or g
    local per = heads[gk]
    if not per then
      per = {}
      heads[gk] = per
    end
    local sk = s == nil and NIL_KEY or s
    local h = per[sk]
    if not h then
      h = '{"logGroupName":' .. json_value(g) .. ',"logStreamName":' .. json_value(s)
        .. ',"timestamp":'
      per[sk] = h
    end
    return h
  end
  local last_g, last_s, last_h = NIL_KEY, NIL_KEY, nil
  -- Epoch ms as the digits of its second (made once per second) and of its milliseconds:
  -- formatting integers is what costs most here otherwise.
  local ts_sec, ts_secs, in_sec, in_secs = nil, nil, nil, nil
  return function(sink, arr)
    local buf, n, size = sink.buf, sink.n, sink.size
    for i = 1, #arr do
      local ev = arr[i]
      local ts, it, id, msg = ev.timestamp, ev.ingestion_time, ev.id, ev.message
      local ok = type(msg) == "string" and type(id) == "string" and type(ts) == "number"
      local ts_ms, in_ms
      if ok then
        local sec = ts // 1000
        if sec ~= ts_sec then
          if mtype(ts) == "integer" and sec > 0 then
            ts_sec, ts_secs = sec, tostring(sec)
          else
            ts_sec = nil
          end
        end
        ts_ms = ts_sec and MILLIS[ts - sec * 1000]
        if type(it) == "number" then
          sec = it // 1000
          if sec ~= in_sec then
            if mtype(it) == "integer" and sec > 0 then
              in_sec, in_secs = sec, tostring(sec)
            else
              in_sec = nil
            end
          end
          in_ms = in_sec and MILLIS[it - sec * 1000]
        end
        ok = ts_ms and in_ms
      end
      if ok then
        local g, s = ev.group, ev.stream
        local h = last_h
        if g ~= last_g or s ~= last_s then
          h = head(g, s)
          last_g, last_s, last_h = g, s, h
        end
        buf[n + 1] = h
        buf[n + 2] = ts_secs
        buf[n + 3] = ts_ms
        buf[n + 4] = ',"ingestionTime":'
        buf[n + 5] = in_secs
        buf[n + 6] = in_ms
        buf[n + 7] = ',"eventId":'
        local id_len, msg_len
        n, id_len = json_into(id, buf, n + 7)
        buf[n + 1] = ',"message":'
        n, msg_len = json_into(msg, buf, n + 1)
        buf[n + 1] = "}\n"
        n = n + 1
        size = size + #h + id_len + msg_len + 80   -- the numbers and fixed pieces, near enough
      else
        local line = jsonl_line(ev)
        n = n + 1
        buf[n] = line
        size = size + #line
      end
      if size >= CHUNK then
        local err
        buf, err = spill(sink, n, size)
        if not buf then return nil, err end
        n, size = 0, 0
      end
    end
    sink.n, sink.size = n, size
    return true
  end
end

-- opts: timestamp (bool), show_stream (bool), rstrip (function), fast_rstrip (the core's
-- ASCII rstrip: then rstrip is used only when what it leaves ends in a non-ASCII byte),
-- zone (a core zone object: times come from zone:format, made once per distinct second),
-- format_time (function(ms) -> string, used when there is no zone).
-- Prefix order: time, stream, message.
function M.text_batch(opts)
  local fast = opts.fast_rstrip
  local rstrip = fast and lua_rstrip or opts.rstrip or lua_rstrip
  local want_time = opts.timestamp and true or false
  local zone = want_time and opts.zone or nil
  local format_time = want_time and opts.format_time or nil
  local show_stream = opts.show_stream and true or false
  -- the current second's time, split around its milliseconds; suffix carries the " "
  local cur_sec, pre, suf, plen = nil, nil, nil, 0
  return function(sink, arr)
    local buf, n, size = sink.buf, sink.n, sink.size
    for i = 1, #arr do
      local ev = arr[i]
      if want_time then
        local t = ev.timestamp
        local done = false
        if zone then
          local sec = t // 1000
          if sec ~= cur_sec then
            local s = zone:format(sec * 1000)
            local p, q = nil, nil
            if s then p, q = s:match("^(.*%.)000(.*)$") end
            if p then
              cur_sec, pre, suf = sec, p, q .. " "
              plen = #pre + 3 + #suf
            else
              cur_sec, pre = nil, nil
            end
          end
          local ms = pre and MILLIS[t - sec * 1000]
          if ms then
            buf[n + 1], buf[n + 2], buf[n + 3] = pre, ms, suf
            n = n + 3
            size = size + plen
            done = true
          end
        end
        if not done then
          local s = zone and zone:format(t) or format_time and format_time(t)
          s = (s or tostring(t)) .. " "
          n = n + 1
          buf[n] = s
          size = size + #s
        end
      end
      if show_stream then
        local s = ev.stream or ""
        buf[n + 1], buf[n + 2] = s, " "
        n = n + 2
        size = size + #s + 1
      end
      local msg = ev.message or ""
      local r
      if fast then
        r = fast(msg)
        local b = byte(r, -1)
        if b and b >= 0x80 then r = rstrip(r) end
      else
        r = rstrip(msg)
      end
      buf[n + 1], buf[n + 2] = r, "\n"
      n = n + 2
      size = size + #r + 1
      if size >= CHUNK then
        local err
        buf, err = spill(sink, n, size)
        if not buf then return nil, err end
        n, size = 0, 0
      end
    end
    sink.n, sink.size = n, size
    return true
  end
end

-- The field order of a query row: its `fields` list if it has one, else sorted names.
function M.row_fields(row)
  if type(row.fields) == "table" then return row.fields end
  local names = {}
  for k in pairs(row) do
    if type(k) == "string" then names[#names + 1] = k end
  end
  table.sort(names)
  return names
end

-- field=value pairs separated by tabs; values lose trailing whitespace as messages do.
function M.text_row(rstrip)
  rstrip = rstrip or lua_rstrip
  return function(row)
    local parts = {}
    for _, f in ipairs(M.row_fields(row)) do
      local v = row[f]
      if v == nil or v == cjson.null then v = "" end
      parts[#parts + 1] = f .. "=" .. rstrip(tostring(v))
    end
    return table.concat(parts, "\t") .. "\n"
  end
end

function M.jsonl_row(row)
  return json_object(M.row_fields(row), row) .. "\n"
end

-- For groups/streams in jsonl: every scalar field, names sorted.
function M.jsonl_record(rec)
  local keys = {}
  for k, v in pairs(rec) do
    if type(k) == "string" and type(v) ~= "table" and type(v) ~= "function" then
      keys[#keys + 1] = k
    end
  end
  table.sort(keys)
  return json_object(keys, rec) .. "\n"
end

------------------------------------------------------------------------------------------
-- Sinks.

-- What a failed write looks like to the caller: `broken_pipe` means the reader went away
-- (`| head`) and the run should end quietly.
local WriteError = {}
WriteError.__index = WriteError
function WriteError.__tostring(e) return "cannot write output: " .. e.message end

local function write_error(msg, errno)
  msg = tostring(msg or "unknown error")
  local broken = errno == EPIPE or msg:find("Broken pipe", 1, true) ~= nil
  return setmetatable({ message = msg, errno = errno, broken_pipe = broken }, WriteError)
end

function M.is_write_error(v)
  return getmetatable(v) == WriteError
end

local Sink = {}
Sink.__index = Sink

-- Queues a line; passes a full chunk on to the file. -> true, or nil, write error
function Sink:write(s)
  local n = self.n + 1
  self.buf[n] = s
  self.n = n
  self.size = self.size + #s
  if self.size >= CHUNK then return self:flush_buffer() end
  return true
end

-- Queues a string of whole lines (a renderer's chunk). A large one goes to the file as it
-- is, after what was queued before it, instead of being copied into the next chunk.
-- -> true, or nil, write error
function Sink:write_chunk(s)
  if #s < CHUNK then return self:write(s) end
  local ok, err = self:flush_buffer()
  if not ok then return nil, err end
  return self:put(s)
end

-- Writes data to the file; a failure is remembered. -> true, or nil, write error
function Sink:put(data)
  local ok, msg, errno = self.file:write(data)
  if not ok then
    self.failed = write_error(msg, errno)
    return nil, self.failed
  end
  return true
end

function Sink:flush_buffer()
  if self.n == 0 then return true end
  -- the buffer table is kept for the next chunk (entries past n are never read)
  local data = table.concat(self.buf, "", 1, self.n)
  self.n, self.size = 0, 0
  return self:put(data)
end

-- Pushes everything to the OS (used after each event when following).
function Sink:flush()
  local ok, err = self:flush_buffer()
  if not ok then return nil, err end
  if self.file.flush then
    local fok, msg, errno = self.file:flush()
    if not fok then
      self.failed = write_error(msg, errno)
      return nil, self.failed
    end
  end
  return true
end

-- Everything written: flush, and for a named file close and move it into place.
function Sink:finish()
  local ok, err = self:flush()
  if not ok then
    self:abort()
    return nil, err
  end
  if self.direct and not self.closed then
    local cok, msg, errno = self.file:close()
    self.closed = true
    if not cok then return nil, write_error(msg, errno) end
  end
  if self.tmp_path then
    local cok, msg, errno = self.file:close()
    self.closed = true
    if not cok then
      os.remove(self.tmp_path)
      return nil, write_error(msg, errno)
    end
    local rok, rmsg = os.rename(self.tmp_path, self.path)
    if not rok then
      os.remove(self.tmp_path)
      return nil, write_error(rmsg)
    end
    self.tmp_path = nil
  end
  return true
end

-- Something went wrong. Standard output gets what was read before the failure (as the
-- events would have been printed had they not been buffered); a named file's temporary
-- copy goes away, so no half file is left.
function Sink:abort()
  if not self.tmp_path and not self.failed then
    pcall(self.flush, self)
  end
  if self.direct and not self.closed then
    pcall(self.file.close, self.file)
    self.closed = true
  end
  self.buf, self.n, self.size = {}, 0, 0
  if self.tmp_path then
    if not self.closed then pcall(self.file.close, self.file) end
    self.closed = true
    os.remove(self.tmp_path)
    self.tmp_path = nil
  end
end

-- A sink over an open file-like object (anything with :write; :flush is used if present).
function M.stream_sink(file)
  if io.type(file) == "file" then pcall(file.setvbuf, file, "full", CHUNK) end
  return setmetatable({ file = file, buf = {}, n = 0, size = 0 }, Sink)
end

-- A sink straight into `path` (truncated), for output that has no natural end, such as
-- `tail --follow -o FILE`: what was written stays when the run is interrupted.
function M.direct_file_sink(path)
  local file, msg, errno = io.open(path, "wb")
  if not file then return nil, write_error(msg, errno) end
  local sink = M.stream_sink(file)
  sink.direct = true
  return sink
end

-- A sink that ends up in `path`. -> sink, or nil, write error
function M.file_sink(path)
  local tmp, file, msg, errno
  for _ = 1, 10 do
    tmp = string.format("%s.tmp.%06x%06x", path, math.random(0, 0xffffff), math.random(0, 0xffffff))
    local probe = io.open(tmp, "rb")
    if probe then
      probe:close()
    else
      file, msg, errno = io.open(tmp, "wb")
      break
    end
  end
  if not file then
    -- io.open names the temporary file; the user knows only the one they asked for
    msg = tostring(msg or "cannot create a temporary file")
    local reason = msg:match(": ([^:]+)$") or msg
    return nil, write_error(path .. ": " .. reason, errno)
  end
  local sink = M.stream_sink(file)
  sink.path, sink.tmp_path = path, tmp
  return sink
end

return M
