-- Specs for core.renderer (src/render.c, src/lrender.c): a FilterLogEvents page rendered in C
-- must be byte for byte what the Lua path writes for it, that is output.lua's text_batch /
-- jsonl_batch over core.decode_events, kept by the same bounds as events.lua's admit() and
-- put in stable timestamp order.
local core = require "cwlogs.core"
local output = require "cwlogs.output"

local char, concat = string.char, table.concat

------------------------------------------------------------------------------------------
-- The reference: the Lua path.

-- A sink that keeps everything the formatters hand it.
local function collector()
  local parts = {}
  local sink = { buf = {}, n = 0, size = 0 }
  function sink.flush_buffer(self)
    parts[#parts + 1] = concat(self.buf, "", 1, self.n)
    self.n, self.size = 0, 0
    return true
  end
  function sink.text(self)
    self:flush_buffer()
    return concat(parts)
  end
  return sink
end

-- What events.lua's admit() keeps, in stable timestamp order.
local function admitted(events, lo, hi, prefix)
  local kept = {}
  for i, ev in ipairs(events) do
    local ts = ev.timestamp
    if not ((lo and ts < lo) or (hi and ts >= hi) or
            (prefix and (ev.stream or ""):sub(1, #prefix) ~= prefix)) then
      kept[#kept + 1] = { ev = ev, i = i }
    end
  end
  table.sort(kept, function(a, b)
    if a.ev.timestamp ~= b.ev.timestamp then return a.ev.timestamp < b.ev.timestamp end
    return a.i < b.i
  end)
  for i, k in ipairs(kept) do kept[i] = k.ev end
  return kept
end

-- opts: format, timestamp, tz, show_stream, group -> the Lua path's bytes for body
local function reference(body, opts, lo, hi, prefix)
  local page = assert(core.decode_events(body, opts.group))
  local evs = admitted(page.events, lo, hi, prefix)
  local fill
  if opts.format == "jsonl" then
    fill = output.jsonl_batch()
  else
    fill = output.text_batch{
      timestamp = opts.timestamp, show_stream = opts.show_stream,
      fast_rstrip = core.rstrip, rstrip = output.make_rstrip(core.rstrip),
      zone = opts.timestamp and assert(core.zone(opts.tz or "local")) or nil,
    }
  end
  local sink = collector()
  assert(fill(sink, evs))
  return sink:text(), #evs, page.count, page.next_token
end

------------------------------------------------------------------------------------------
-- Generated pages. A message is a list of atoms, each its bytes and how JSON may spell it,
-- so that the same message reaches the scanner written in many ways.

local rand = math.random

local function hex4(cp, upper)
  local s = string.format("%04x", cp)
  return "\\u" .. (upper and s:upper() or s)
end

-- Atom: { s = bytes, cp = code point (or nil for a raw byte), json = fixed spelling }
local function atom_cp(cp) return { s = utf8.char(cp), cp = cp } end

local WIDE = { 0x85, 0xA0, 0x1680, 0x2000, 0x2001, 0x2005, 0x200A, 0x2028, 0x2029, 0x202F,
  0x205F, 0x3000 }
local NOT_WIDE = { 0x200B, 0x2030, 0x00E9, 0x4E2D, 0x1F600, 0xFEFF, 0x0100, 0x2060, 0x3001 }

local function random_atom()
  local k = rand(100)
  if k <= 40 then
    local words = { "hello", "GET /api/v1/items?id=42", "{\"k\":\"v\"}", "C:\\path\\x", "a/b/c",
      "tab\there", "x", "0", " ", "  ", "end" }
    local w = words[rand(#words)]
    return { s = w, word = true }
  elseif k <= 50 then
    return atom_cp(WIDE[rand(#WIDE)])
  elseif k <= 58 then
    return atom_cp(NOT_WIDE[rand(#NOT_WIDE)])
  elseif k <= 70 then
    local ws = { 9, 10, 11, 12, 13, 0x1c, 0x1d, 0x1e, 0x1f, 32 }
    return atom_cp(ws[rand(#ws)])
  elseif k <= 78 then
    return atom_cp(rand(0, 0x1f))
  elseif k <= 82 then
    return atom_cp(0x7f)
  elseif k <= 86 then
    local q = { 34, 92, 47 }
    return atom_cp(q[rand(#q)])
  elseif k <= 90 then
    -- a byte that is not UTF-8 on its own (JSON lets it through raw)
    local b = ({ 0x80, 0xC2, 0xE2, 0xE3, 0xFF, 0xA0, 0x85 })[rand(7)]
    return { s = char(b) }
  elseif k <= 93 then
    -- a lone surrogate: the scanner makes it U+FFFD
    return { s = "\239\191\189", json = hex4(0xD800 + rand(0, 0x7ff), rand(2) == 1) }
  else
    return { s = "\r\n", json = "\\r\\n" }
  end
end

-- One atom as JSON, in one of the ways it may be written.
local function atom_json(a)
  if a.json then return a.json end
  if a.word then
    return (a.s:gsub('[%c"\\]', function(c)
      local map = { ['"'] = '\\"', ["\\"] = "\\\\", ["\t"] = "\\t" }
      return map[c] or hex4(c:byte())
    end))
  end
  local cp = a.cp
  if not cp then return a.s end
  if cp == 34 then return '\\"' end
  if cp == 92 then return "\\\\" end
  if cp == 47 then return rand(2) == 1 and "\\/" or "/" end
  local short = { [8] = "\\b", [9] = "\\t", [10] = "\\n", [12] = "\\f", [13] = "\\r" }
  if cp < 0x20 then
    if short[cp] and rand(2) == 1 then return short[cp] end
    return hex4(cp, rand(2) == 1)
  end
  if rand(4) == 1 then
    if cp >= 0x10000 then
      local v = cp - 0x10000
      return hex4(0xD800 + (v >> 10), rand(2) == 1) .. hex4(0xDC00 + (v & 0x3ff), rand(2) == 1)
    end
    return hex4(cp, rand(2) == 1)
  end
  return a.s
end

local function random_message()
  local atoms = {}
  local k = rand(100)
  local n = k <= 10 and 0 or rand(1, 12)
  for i = 1, n do atoms[i] = random_atom() end
  if k > 95 then
    -- a plain tail, so that trailing-space runs end somewhere
    atoms[#atoms + 1] = { s = "done" }
  end
  local j = {}
  for i, a in ipairs(atoms) do j[i] = atom_json(a) end
  return concat(j)
end

local function json_plain(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return hex4(c:byte()) end) .. '"'
end

local T0 = 1764079200000

-- A page body: { events = { {ts, stream, ingestion, id, message_json}, ... }, token }
local function random_page(opts)
  opts = opts or {}
  local n = opts.n or rand(0, 40)
  local ts = T0 + rand(0, 5000)
  local evs = {}
  for i = 1, n do
    if rand(3) > 1 then ts = ts + rand(0, 1500) end
    local t = ts
    if opts.shuffle and rand(3) == 1 then t = T0 + rand(0, 20000) end
    local streams = { "app/1", "app/2", "web", "a\\/b", "\\u0061pp/3", "batch/\\u00e9" }
    evs[i] = {
      ts = t,
      stream = rand(8) > 1 and streams[rand(#streams)] or nil,
      ingestion = rand(8) > 1 and t + rand(0, 3000) or nil,
      id = rand(8) > 1 and tostring(37000000000 + i) or nil,
      msg = random_message(),
    }
  end
  if opts.shuffle then
    for i = #evs, 2, -1 do
      local j = rand(i)
      evs[i], evs[j] = evs[j], evs[i]
    end
  end
  local parts = {}
  for i, e in ipairs(evs) do
    -- now and then a spelling only the general walk reads (the fast one gives up)
    local odd = opts.odd and rand(20) == 1
    local fields = {
      (odd and rand(2) == 1 and '"time\\u0073tamp":' or '"timestamp":') .. e.ts ..
        (odd and rand(2) == 1 and ".000" or ""),
      '"message":"' .. e.msg .. '"',
    }
    if e.stream then fields[#fields + 1] = '"logStreamName":"' .. e.stream .. '"'
    elseif rand(2) == 1 then fields[#fields + 1] = '"logStreamName":null' end
    if e.ingestion then fields[#fields + 1] = '"ingestionTime":' .. e.ingestion
    elseif rand(2) == 1 then fields[#fields + 1] = '"ingestionTime":null' end
    if e.id then fields[#fields + 1] = '"eventId":"' .. e.id .. '"' end
    if rand(4) == 1 then fields[#fields + 1] = '"extra":{"a":[1,2,{"b":null}],"c":"x\\"y"}' end
    for k = #fields, 2, -1 do
      local j = rand(k)
      fields[k], fields[j] = fields[j], fields[k]
    end
    parts[i] = "{" .. concat(fields, rand(2) == 1 and "," or " ,\n ") .. "}"
  end
  local members = { '"events":[' .. concat(parts, ",") .. "]", '"searchedLogStreams":[]' }
  local token = opts.token
  if token == nil and rand(3) > 1 then token = "tok" .. rand(1000) end
  if token then members[#members + 1] = '"nextToken":' .. json_plain(token) end
  if rand(2) == 1 then members[1], members[#members] = members[#members], members[1] end
  return "{" .. concat(members, ",") .. "}", n, token
end

------------------------------------------------------------------------------------------

-- Every renderer has two walks over a page (a fast one that gives up on what it was not
-- written for, and the general one); `_slow = true` makes it take only the general walk.
local function with_slow(opts)
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o._slow = true
  return o
end

local function render1(opts, body, lo, hi, prefix)
  local r = assert(core.renderer(opts))
  local chunk, kept, total, token = r:page(body, lo, hi, prefix)
  r:close()
  return chunk, kept, total, token
end

-- Renders with both walks, which must agree in everything.
local function render(opts, body, lo, hi, prefix)
  local a = table.pack(render1(opts, body, lo, hi, prefix))
  local b = table.pack(render1(with_slow(opts), body, lo, hi, prefix))
  assert.are.same(b, a)
  return table.unpack(a, 1, 4)
end

-- The renderer and the reference agree on body for opts (and on the counts and token).
local function agree(opts, body, lo, hi, prefix, r)
  local want, wkept, wtotal, wtoken = reference(body, opts, lo, hi, prefix)
  local chunk, kept, total, token
  if r then
    chunk, kept, total, token = r:page(body, lo, hi, prefix)
  else
    chunk, kept, total, token = render1(opts, body, lo, hi, prefix)
    assert.are.same({ chunk, kept, total, token },
      { render1(with_slow(opts), body, lo, hi, prefix) })
  end
  assert(chunk, kept)
  if chunk ~= want then
    -- show the first differing line
    local i = 1
    while chunk:sub(i, i) == want:sub(i, i) do i = i + 1 end
    local from = math.max(1, i - 60)
    error(("renderer differs at byte %d:\n got  %q\n want %q\nbody %q"):format(i,
      chunk:sub(from, i + 60), want:sub(from, i + 60), body:sub(1, 2000)), 2)
  end
  assert.are.equal(wkept, kept)
  assert.are.equal(wtotal, total)
  assert.are.equal(wtoken, token)
end

local VARIANTS = {
  { format = "text" },
  { format = "text", show_stream = true },
  { format = "text", timestamp = true, tz = "utc" },
  { format = "text", timestamp = true, tz = "+05:30", show_stream = true },
  { format = "text", timestamp = true, tz = "America/New_York" },
  { format = "text", timestamp = true, tz = "-00:30" },
  { format = "jsonl", group = "/aws/lambda/x" },
  { format = "jsonl", group = 'odd "group"/\1\127\195\169' },
}

describe("core.renderer", function()
  setup(function() math.randomseed(20261125) end)

  it("writes what text_batch and jsonl_batch write, for many generated pages", function()
    for round = 1, 150 do
      local body = random_page{ shuffle = round % 5 == 0, odd = round % 3 == 0 }
      for _, v in ipairs(VARIANTS) do agree(v, body) end
    end
  end)

  it("keeps one renderer's pages apart (buffers and the time cache are reused)", function()
    local both = {}
    for _, v in ipairs(VARIANTS) do both[#both + 1] = v; both[#both + 1] = with_slow(v) end
    for _, v in ipairs(both) do
      local r = assert(core.renderer(v))
      for round = 1, 30 do
        agree(v, random_page{ shuffle = round % 3 == 0 }, nil, nil, nil, r)
      end
      r:close()
    end
  end)

  it("keeps only [lo, hi) and the streams with the prefix, as admit() does", function()
    for round = 1, 120 do
      local body = random_page{ n = 30, shuffle = round % 4 == 0 }
      local lo = rand(2) == 1 and T0 + rand(0, 20000) or nil
      local hi = rand(2) == 1 and (lo or T0) + rand(0, 20000) or nil
      local prefixes = { "app/", "app/1", "a/", "batch/\195\169", "w", "zzz", "" }
      local prefix = rand(3) > 1 and prefixes[rand(#prefixes)] or nil
      for _, v in ipairs(VARIANTS) do agree(v, body, lo, hi, prefix) end
    end
  end)

  it("counts kept lines and the page's events, and returns the next token", function()
    local body = '{"events":[{"timestamp":5,"message":"a"},{"timestamp":10,"message":"b"},' ..
      '{"timestamp":15,"message":"c"}],"nextToken":"t\\/1\\u0041"}'
    local chunk, kept, total, token = render({ format = "text" }, body, 6, 15)
    assert.are.equal("b\n", chunk)
    assert.are.equal(1, kept)
    assert.are.equal(3, total)
    assert.are.equal("t/1A", token)
    chunk, kept, total, token = render({ format = "text" }, '{"events":[],"nextToken":null}')
    assert.are.same({ "", 0, 0 }, { chunk, kept, total })
    assert.is_nil(token)
    chunk, kept, total = render({ format = "text" }, body, 100)
    assert.are.same({ "", 0, 3 }, { chunk, kept, total })
    -- a later duplicate wins, as in decode_events
    local _, _, _, t2 = render({ format = "text" }, '{"nextToken":"a","nextToken":"b"}')
    assert.are.equal("b", t2)
    local _, _, _, t3 = render({ format = "text" }, '{"nextToken":"a","nextToken":null}')
    assert.is_nil(t3)
    local c4, k4, n4 = render({ format = "text" },
      '{"events":[{"timestamp":1,"message":"x"}],"events":[{"timestamp":2,"message":"y"},' ..
      '{"timestamp":3,"message":"z"}]}')
    assert.are.same({ "y\nz\n", 2, 2 }, { c4, k4, n4 })
  end)

  it("puts unsorted and equal timestamps in stable timestamp order", function()
    local body = '{"events":[' ..
      '{"timestamp":30,"message":"c1"},{"timestamp":10,"message":"a1"},' ..
      '{"timestamp":30,"message":"c2"},{"timestamp":20,"message":"b1"},' ..
      '{"timestamp":10,"message":"a2"},{"timestamp":30,"message":"c3"}]}'
    assert.are.equal("a1\na2\nb1\nc1\nc2\nc3\n", (render({ format = "text" }, body)))
    local many = {}
    for i = 1, 3000 do
      many[i] = ('{"timestamp":%d,"message":"m%d"}'):format(rand(1, 50), i)
    end
    body = '{"events":[' .. concat(many, ",") .. "]}"
    for _, v in ipairs(VARIANTS) do agree(v, body) end
  end)

  it("strips trailing whitespace as str.rstrip() does, Unicode spaces included", function()
    local cases = {
      { "a \\t\\n\\r\\u000b\\u000c\\u001c\\u001f ", "a" },
      { "a\\u3000\\u00a0 \\u2028", "a" },
      { "a\226\128\139", "a\226\128\139" },               -- U+200B is not a space
      { "\\u0085", "" },
      { "x\194", "x\194" },                               -- a broken sequence stays
      { "x\226\128", "x\226\128" },
      { "x\\u2000\226\128\138\\r\\n", "x" },
      { "keep \\\\ ", "keep \\" },
    }
    for _, c in ipairs(cases) do
      local body = '{"events":[{"timestamp":1,"message":"' .. c[1] .. '"}]}'
      assert.are.equal(c[2] .. "\n", (render({ format = "text" }, body)))
      agree({ format = "text" }, body)
    end
  end)

  it("writes JSONL strings as lua-cjson does, with / left alone and nulls for absent fields", function()
    local body = '{"events":[{"timestamp":1764079200001,"message":"q\\"b\\\\s\\/ \\u0001\\u007f\\t\\b' ..
      '\\f\\u00e9\128","logStreamName":null,"eventId":null}]}'
    local want = '{"logGroupName":"/g","logStreamName":null,"timestamp":1764079200001,' ..
      '"ingestionTime":null,"eventId":null,"message":"q\\"b\\\\s/ \\u0001\\u007f\\t\\b\\f\195\169\128"}\n'
    assert.are.equal(want, (render({ format = "jsonl", group = "/g" }, body)))
    agree({ format = "jsonl", group = "/g" }, body)
  end)

  it("handles 200 KB messages, with and without escapes", function()
    local big = string.rep("0123456789abcdef", 12800)
    local escaped = string.rep('x\\"\\/\\u00e9\\n', 20000)
    local body = '{"events":[{"timestamp":2,"message":"' .. big .. ' \\r\\n"},' ..
      '{"timestamp":1,"message":"' .. escaped .. '\\u3000"},' ..
      '{"timestamp":3,"message":"' .. big .. '\127"}],"nextToken":"n"}'
    for _, v in ipairs(VARIANTS) do agree(v, body) end
  end)

  it("formats times at the edges as the Lua path does", function()
    local stamps = { 0, -1, -999, -1000, -1001, 999, 1000, T0, 253402300799999, 253402300800000,
      -62135596800001, 100000000000000000, -100000000000000000, 100000000000000001,
      math.maxinteger, math.mininteger, math.mininteger + 999, math.mininteger + 1000 }
    local parts = {}
    for i, t in ipairs(stamps) do parts[i] = ('{"timestamp":%d,"message":"m"}'):format(t) end
    local body = '{"events":[' .. concat(parts, ",") .. "]}"
    for _, v in ipairs(VARIANTS) do agree(v, body) end
  end)

  it("fails on malformed bodies with decode_events' messages", function()
    local bad = {
      "", "[]", "null", "{", '{"events":', '{"events":{}}', '{"events":[1]}',
      '{"events":[{"message":"m"}]}', '{"events":[{"timestamp":1}]}',
      '{"events":[{"timestamp":"1","message":"m"}]}', '{"events":[{"timestamp":1.5,"message":"m"}]}',
      '{"events":[{"timestamp":1,"message":5}]}', '{"events":[{"timestamp":1,"message":"\1"}]}',
      '{"events":[{"timestamp":1,"message":"\\x"}]}', '{"events":[{"timestamp":1,"message":"a"}]}x',
      '{"nextToken":5}', '{"nextForwardToken":[]}', '{"events":[{"timestamp":1,"message":"m",' ..
      '"logStreamName":7}]}', '{"events":[{"timestamp":1,"message":"m","eventId":{}}]}',
      '{"events":[{"timestamp":1,"message":"m","ingestionTime":"x"}]}', '{"a":[1,2,}',
      '{"events":[{"timestamp":99999999999999999999,"message":"m"}]}', '{"events":[]}\0',
      '{"events":[{"timestamp":1,"message":"m",}]}', '{"x":tru}', "\255",
    }
    for _, body in ipairs(bad) do
      local _, want = core.decode_events(body)
      assert.is_string(want, body)
      for _, v in ipairs(VARIANTS) do
        local chunk, msg = render(v, body)
        assert.is_nil(chunk, body)
        assert.are.equal(want, msg, body)
      end
    end
  end)

  it("agrees with decode_events on cut and mangled bodies", function()
    local noise = { "", "}", "]", ",", '"', "\\", "0", "\1", "null", "{", "[" }
    for _ = 1, 300 do
      local body = random_page{ n = rand(0, 5) }
      local at = rand(0, #body)
      local mangled = body:sub(1, at) .. noise[rand(#noise)] .. body:sub(at + rand(0, 3) + 1)
      local page, want = core.decode_events(mangled, "/g")
      for _, v in ipairs({ VARIANTS[2], VARIANTS[4], VARIANTS[7] }) do
        if page then
          agree(v, mangled)
        else
          local chunk, msg = render(v, mangled)
          assert.is_nil(chunk, mangled)
          assert.are.equal(want, msg, mangled)
        end
      end
    end
  end)

  it("refuses bad options and closes any number of times", function()
    local r, msg = core.renderer{ format = "csv" }
    assert.is_nil(r)
    assert.truthy(msg:find("csv", 1, true))
    r, msg = core.renderer{ format = "text", timestamp = true, tz = "Mars/Olympus" }
    assert.is_nil(r)
    assert.is_string(msg)
    assert.has_error(function() core.renderer{ format = 5 } end)
    assert.has_error(function() core.renderer("text") end)
    r = assert(core.renderer{ format = "text" })
    assert.truthy(tostring(r):find("open", 1, true))
    assert.has_error(function() r:page(nil) end)
    assert.has_error(function() r:page("{}", "x") end)
    r:close()
    r:close()
    assert.truthy(tostring(r):find("closed", 1, true))
    assert.has_error(function() r:page("{}") end, "renderer is closed")
    do
      local c <close> = assert(core.renderer{ format = "jsonl", group = "g" })
      assert.are.equal(1, select(2, c:page('{"events":[{"timestamp":1,"message":"m"}]}')))
    end
    collectgarbage()
    collectgarbage()
  end)
end)

------------------------------------------------------------------------------------------
-- client:event_chunks against moto: the same lines as event_batches + the formatters.

describe("client:event_chunks", function()
  local cwlogs = require("cwlogs")
  local moto = require("support.moto")
  local util = require("support.util")
  local srv, client, T1, G, G2

  setup(function()
    srv = moto.start()
    client = assert(cwlogs.client(srv:client_opts()))
    T1 = util.now_ms() - 3 * 3600 * 1000
    G = moto.unique("/cwlogs/chunks")
    G2 = moto.unique("/cwlogs/chunks2")
    local streams = {}
    for s = 1, 8 do
      local evs = {}
      for i = 0, 49 do
        local msg = ("stream %d event %d"):format(s, i)
        if i % 7 == 1 then msg = msg .. ' "quoted" a/b \\ héllo ✓ 😀\u{3000}' end
        if i % 7 == 2 then msg = msg .. "\nsecond\r\n" end
        if i % 7 == 3 then msg = msg .. "\1\127\t " end
        evs[#evs + 1] = { timestamp = T1 + i * 1000 + (s % 3), message = msg }
      end
      streams[("app/%02d"):format(s)] = evs
    end
    streams["big"] = { { timestamp = T1 + 20500, message = string.rep("0123456789abcdef", 12800) } }
    srv:admin("seed", { group = G, streams = streams })
    srv:admin("seed", { group = G2, streams = { other = { { timestamp = T1, message = "x" } } } })
  end)

  teardown(function()
    if client then client:close() end
  end)

  local function via_batches(opts, ropts)
    local fill
    if ropts.format == "jsonl" then
      fill = output.jsonl_batch()
    else
      fill = output.text_batch{ timestamp = ropts.timestamp, show_stream = ropts.show_stream,
        fast_rstrip = core.rstrip, zone = ropts.timestamp and assert(core.zone(ropts.tz)) or nil }
    end
    local sink = collector()
    for arr in assert(client:event_batches(opts)) do assert(fill(sink, arr)) end
    return sink:text()
  end

  local function via_chunks(opts, ropts)
    local r <close> = assert(core.renderer(ropts))
    local parts = {}
    for chunk in assert(client:event_chunks(opts, r)) do
      assert.is_true(#chunk > 0)
      parts[#parts + 1] = chunk
    end
    return concat(parts)
  end

  local function lines(s)
    local out = {}
    for l in s:gmatch("[^\n]*\n") do out[#out + 1] = l end
    return out
  end

  -- Same lines; timestamps never go back (ties between streams may come in either order).
  local function assert_same(opts, ropts)
    local want, got = via_batches(opts, ropts), via_chunks(opts, ropts)
    local a, b = lines(want), lines(got)
    assert.are.equal(#a, #b)
    if ropts.format == "jsonl" then
      local prev = math.mininteger
      for _, l in ipairs(b) do
        local ts = math.tointeger(tonumber(l:match('"timestamp":(%-?%d+)')))
        assert(ts >= prev, "out of order")
        prev = ts
      end
    end
    table.sort(a)
    table.sort(b)
    assert.are.same(a, b)
    return got
  end

  it("writes the same lines as event_batches and the formatters, over many pages", function()
    local variants = {
      { format = "text" },
      { format = "text", timestamp = true, tz = "utc", show_stream = true },
      { format = "jsonl", group = G },
    }
    for _, v in ipairs(variants) do
      local got = assert_same({ group = G, page_limit = 37 }, v)
      if v.format == "jsonl" then assert.are.equal(401, #lines(got)) end
      assert_same({ group = G, start = T1 + 10000, stop = T1 + 30000, parallel = 3,
        page_limit = 29 }, v)
      assert_same({ group = G, stream_prefix = "app/0", page_limit = 50 }, v)
      assert_same({ group = G, streams = { "app/02", "big" }, page_limit = 10 }, v)
    end
  end)

  it("says NotEligible for what it cannot render alone", function()
    local r <close> = assert(core.renderer{ format = "text" })
    for _, opts in ipairs{
      { groups = { G, G2 } }, { group = G, grep = "x" }, { group = G, limit = 5 },
      { group = G, filter = function() return true end },
    } do
      local it, err = client:event_chunks(opts, r)
      assert.is_nil(it)
      assert.are.equal("NotEligible", err.code)
    end
    local it, err = client:event_chunks({ group = G, start = "tuesdy" }, r)
    assert.is_nil(it)
    assert.are.equal("InvalidArgument", err.code)
    it, err = client:event_chunks({ group = G }, nil)
    assert.is_nil(it)
    assert.are.equal("InvalidArgument", err.code)
  end)

  it("releases its requests when the loop is left early, and raises service errors", function()
    local r <close> = assert(core.renderer{ format = "text" })
    local n = 0
    for _ in client:event_chunks({ group = G, page_limit = 10, parallel = 4 }, r) do
      n = n + 1
      if n == 2 then break end
    end
    assert.are.equal(2, n)
    assert.are.equal(0, client.transport:busy())
    local ok, err = pcall(function()
      for _ in client:event_chunks({ group = "/cwlogs/does-not-exist" }, r) do end
    end)
    assert.is_false(ok)
    assert.are.equal("ResourceNotFoundException", err.code)
  end)
end)
