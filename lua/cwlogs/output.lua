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

local EVENT_KEYS = { "logGroupName", "logStreamName", "timestamp", "ingestionTime", "eventId", "message" }

-- One JSON object per event, keys as in the AWS API, message untouched.
function M.jsonl_event(ev)
  return json_object(EVENT_KEYS, {
    logGroupName = ev.group, logStreamName = ev.stream, timestamp = ev.timestamp,
    ingestionTime = ev.ingestion_time, eventId = ev.id, message = ev.message,
  }) .. "\n"
end

-- opts: timestamp (bool), show_stream (bool), format_time (function(ms) -> string),
-- rstrip (function). Prefix order: time, stream, message.
function M.text_event(opts)
  local rstrip = opts.rstrip or lua_rstrip
  local format_time = opts.format_time
  if opts.timestamp and opts.show_stream then
    return function(ev)
      return format_time(ev.timestamp) .. " " .. tostring(ev.stream) .. " "
        .. rstrip(ev.message or "") .. "\n"
    end
  elseif opts.timestamp then
    return function(ev)
      return format_time(ev.timestamp) .. " " .. rstrip(ev.message or "") .. "\n"
    end
  elseif opts.show_stream then
    return function(ev)
      return tostring(ev.stream) .. " " .. rstrip(ev.message or "") .. "\n"
    end
  end
  return function(ev)
    return rstrip(ev.message or "") .. "\n"
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

function Sink:flush_buffer()
  if self.n == 0 then return true end
  local data = table.concat(self.buf, "", 1, self.n)
  self.buf, self.n, self.size = {}, 0, 0
  local ok, msg, errno = self.file:write(data)
  if not ok then
    self.failed = write_error(msg, errno)
    return nil, self.failed
  end
  return true
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
