-- Specs for cwlogs.core.decode_events and cwlogs.core.rstrip (src/pager.c, src/lpager.c).
local core = require "cwlogs.core"
local cjson = require "cjson"

local decode = core.decode_events

-- Decodes under pcall so that a Lua error (which malformed input must never cause)
-- fails the spec with a clear message instead of passing by accident.
local function try_decode(body, group)
  local ok, page, err = pcall(decode, body, group)
  assert(ok, "decode_events raised: " .. tostring(page))
  return page, err
end

local function must_decode(body, group)
  local page, err = try_decode(body, group)
  assert(page, err)
  return page
end

local function must_fail(body)
  local page, err = try_decode(body)
  assert.is_nil(page)
  assert.is_string(err)
  return err
end

local SYNTAX = "^invalid JSON in response at byte (%d+): "
local SHAPE = "^invalid response at byte (%d+): "

describe("decode_events", function()
  it("decodes a FilterLogEvents page", function()
    local body = [[{"events":[
      {"logStreamName":"app/1","timestamp":1764079200000,"message":"first line",
       "ingestionTime":1764079200123,"eventId":"38001234567890123456789012345678901234567890123456789012"},
      {"logStreamName":"app/2","timestamp":1764079200001,"message":"second",
       "ingestionTime":1764079200124,"eventId":"38001234567890123456789012345678901234567890123456789013"}],
      "searchedLogStreams":[],"nextToken":"Bxkq6kVGFtq2y_MoigeqscPOdhXVbhiVtLoAmXb5jCrI"}]]
    local page = must_decode(body, "/aws/lambda/x")
    assert.are.equal(2, page.count)
    assert.are.equal(2, #page.events)
    assert.are.equal("Bxkq6kVGFtq2y_MoigeqscPOdhXVbhiVtLoAmXb5jCrI", page.next_token)
    assert.is_nil(page.next_forward_token)
    assert.is_nil(page.next_backward_token)
    assert.are.same({
      timestamp = 1764079200000, ingestion_time = 1764079200123, stream = "app/1",
      id = "38001234567890123456789012345678901234567890123456789012",
      message = "first line", group = "/aws/lambda/x",
    }, page.events[1])
    assert.are.same({
      timestamp = 1764079200001, ingestion_time = 1764079200124, stream = "app/2",
      id = "38001234567890123456789012345678901234567890123456789013",
      message = "second", group = "/aws/lambda/x",
    }, page.events[2])
    assert.are.equal("integer", math.type(page.events[1].timestamp))
    assert.are.equal("integer", math.type(page.events[1].ingestion_time))
  end)

  it("decodes a GetLogEvents page", function()
    local body = '{"events":[{"timestamp":1000,"message":"a","ingestionTime":1001},'
      .. '{"timestamp":1002,"message":"b","ingestionTime":1003}],'
      .. '"nextForwardToken":"f/3859","nextBackwardToken":"b/3858"}'
    local page = must_decode(body)
    assert.are.equal(2, page.count)
    assert.are.equal("f/3859", page.next_forward_token)
    assert.are.equal("b/3858", page.next_backward_token)
    assert.is_nil(page.next_token)
    assert.are.same({ timestamp = 1002, ingestion_time = 1003, message = "b" }, page.events[2])
    assert.is_nil(page.events[1].group)
    assert.is_nil(page.events[1].stream)
    assert.is_nil(page.events[1].id)
  end)

  it("treats null and absent tokens as nil", function()
    local page = must_decode('{"events":[],"nextToken":null}')
    assert.is_nil(page.next_token)
    page = must_decode('{"events":[]}')
    assert.is_nil(page.next_token)
    page = must_decode('{"events":[],"nextForwardToken":null,"nextBackwardToken":null}')
    assert.is_nil(page.next_forward_token)
    assert.is_nil(page.next_backward_token)
    -- A later duplicate key wins, null included.
    page = must_decode('{"nextToken":"a","events":[],"nextToken":null}')
    assert.is_nil(page.next_token)
    page = must_decode('{"nextToken":null,"events":[],"nextToken":"b"}')
    assert.are.equal("b", page.next_token)
  end)

  it("returns an empty events list with a token", function()
    local page = must_decode('{"events":[],"searchedLogStreams":[],"nextToken":"tok"}')
    assert.are.same({}, page.events)
    assert.are.equal(0, page.count)
    assert.are.equal("tok", page.next_token)
    -- events absent or null: still an empty list
    page = must_decode('{"nextToken":"tok"}')
    assert.are.same({ events = {}, count = 0, next_token = "tok" }, page)
    page = must_decode('{"events":null}')
    assert.are.same({ events = {}, count = 0 }, page)
    page = must_decode("  {}  ")
    assert.are.same({ events = {}, count = 0 }, page)
  end)

  it("skips unknown fields of any shape at every level", function()
    local body = [==[ {
      "searchedLogStreams": [{"logStreamName": "x", "searchedCompletely": true}],
      "weird": {"a": [1, -2.5e-3, 0, 1E+2, true, false, null, "s\"]}\\", {}, [], [[]]],
                "b": {"c": {"d": "\u00e9\ud83d\ude00"}}},
      "events": [ {
        "future": {"nested": ["}", "]", "{", "[", "\\\"", ","]},
        "timestamp": 5, "n": null, "t": true, "f": false, "num": -0.0e0,
        "message": "m", "arr": [ [ { "k": [ ] } ] ], "str": "a\/b\tc"
      } ],
      "trailingUnknown": "end", "nextToken" : "t"
    } ]==]
    local page = must_decode(body)
    assert.are.same({ events = { { timestamp = 5, message = "m" } }, count = 1, next_token = "t" }, page)
  end)

  it("skips unknown values nested deeply but refuses absurd depth", function()
    local deep = string.rep("[", 1000) .. string.rep("]", 1000)
    local page = must_decode('{"x":' .. deep .. ',"events":[{"timestamp":1,"message":"m"}]}')
    assert.are.equal(1, page.count)
    local objs = string.rep('{"a":', 1000) .. "1" .. string.rep("}", 1000)
    page = must_decode('{"events":[{"x":' .. objs .. ',"timestamp":1,"message":"m"}]}')
    assert.are.equal("m", page.events[1].message)
    local err = must_fail('{"x":' .. string.rep("[", 5000) .. string.rep("]", 5000) .. "}")
    assert.matches(SYNTAX .. "nesting too deep", err)
  end)

  it("decodes every simple escape", function()
    local page = must_decode([[{"events":[{"timestamp":1,"message":"q\" b\\ s\/ \b\f\n\r\t end"}]}]])
    assert.are.equal('q" b\\ s/ \b\f\n\r\t end', page.events[1].message)
  end)

  it("decodes \\u escapes, surrogate pairs included, to the same bytes as raw UTF-8", function()
    -- moto escapes all non-ASCII text like this
    local escaped = [[{"events":[{"timestamp":1,"message":"caf\u00e9 \u20ac \ud83d\ude00 \u0041\u00DF",]]
      .. [["logStreamName":"\u65e5\u672c"}]}]]
    local raw = '{"events":[{"timestamp":1,"message":"café € 😀 Aß","logStreamName":"日本"}]}'
    local a, b = must_decode(escaped), must_decode(raw)
    assert.are.equal("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 A\xC3\x9F", a.events[1].message)
    assert.are.same(b.events, a.events)
    assert.are.equal("日本", a.events[1].stream)
    assert.are.equal(utf8.char(0x1F600), must_decode(
      [[{"events":[{"timestamp":1,"message":"\uD83D\uDE00"}]}]]).events[1].message)
  end)

  it("turns lone or mismatched surrogates into U+FFFD and keeps \\u0000", function()
    local fffd = "\xEF\xBF\xBD"
    local cases = {
      { [[\ud800]], fffd },
      { [[\udc00]], fffd },
      { [[a\ud83dz]], "a" .. fffd .. "z" },
      { [[\ud83d\u0041]], fffd .. "A" },
      { [[\ud83d\ud83d\ude00]], fffd .. utf8.char(0x1F600) },
      { [[\ude00\ud83d]], fffd .. fffd },
      { [[\u0000]], "\0" },
      { [[\u007f\u0080\u07ff\u0800\uffff]], "\x7f\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF" },
    }
    for _, c in ipairs(cases) do
      local page = must_decode('{"events":[{"timestamp":1,"message":"' .. c[1] .. '"}]}')
      assert.are.equal(c[2], page.events[1].message)
    end
  end)

  it("passes raw UTF-8 through byte-exact", function()
    local msg = "Grüße, ☃, 𝄞, emoji 👍🏽, ZWJ 👩\u{200D}💻"
    local page = must_decode('{"events":[{"timestamp":1,"message":"' .. msg .. '"}]}')
    assert.are.equal(msg, page.events[1].message)
  end)

  it("keeps multi-line messages and trailing CR LF byte-exact", function()
    local body = [[{"events":[{"timestamp":1,"message":"line 1\nline 2\r\n"},]]
      .. [[{"timestamp":2,"message":"  indented\n\ttabbed\n\n"}]}]]
    local page = must_decode(body)
    assert.are.equal("line 1\nline 2\r\n", page.events[1].message)
    assert.are.equal("  indented\n\ttabbed\n\n", page.events[2].message)
  end)

  it("matches escaped key names and lets a later duplicate win", function()
    local page = must_decode([[{"events":[{"time\u0073tamp":7,"\u006dessage":"x","message":"y"}]}]])
    assert.are.same({ timestamp = 7, message = "y" }, page.events[1])
  end)

  it("accepts integral numbers written with a fraction or exponent", function()
    local cases = {
      { "1.7e12", 1700000000000 }, { "17E11", 1700000000000 }, { "1700000000000.000", 1700000000000 },
      { "1.764079200123e+12", 1764079200123 }, { "0", 0 }, { "-0", 0 }, { "-0.0", 0 },
      { "0e5", 0 }, { "5e0", 5 }, { "50e-1", 5 }, { "-12", -12 }, { "1234.5e1", 12345 },
      { "9223372036854775807", math.maxinteger }, { "-9223372036854775808", math.mininteger },
      { "9.223372036854775807e18", math.maxinteger }, { "0.000000000000000000001e21", 1 },
    }
    for _, c in ipairs(cases) do
      local page = must_decode('{"events":[{"timestamp":' .. c[1] .. ',"ingestionTime":' .. c[1]
        .. ',"message":""}]}')
      assert.are.equal(c[2], page.events[1].timestamp, c[1])
      assert.are.equal("integer", math.type(page.events[1].timestamp))
      assert.are.equal(c[2], page.events[1].ingestion_time, c[1])
    end
  end)

  it("refuses numbers that are not integers or do not fit", function()
    local cases = {
      { "1.5", "number is not an integer" }, { "1e-3", "number is not an integer" },
      { "1.7000000000001e12", "number is not an integer" },
      { "9223372036854775808", "integer out of range" },
      { "-9223372036854775809", "integer out of range" },
      { "1e19", "integer out of range" }, { "1e400", "integer out of range" },
      { "123456789012345678901234567890", "integer out of range" },
    }
    for _, c in ipairs(cases) do
      local err = must_fail('{"events":[{"timestamp":' .. c[1] .. ',"message":""}]}')
      assert.matches(SYNTAX .. c[2], err)
      assert.are.equal("25", err:match(SYNTAX), c[1]) -- the number's first byte
    end
  end)

  it("decodes a 200 KB message, plain and escaped", function()
    local chunk = "0123456789abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ_-+=|;:,.<>?!@#$%^&*()"
    local plain = string.rep(chunk, math.ceil(200 * 1024 / #chunk))
    assert.is_true(#plain >= 200 * 1024)
    local page = must_decode('{"events":[{"timestamp":1,"message":"' .. plain .. '"}]}')
    assert.are.equal(plain, page.events[1].message)

    local parts, want = {}, {}
    for i = 1, 3000 do
      parts[#parts + 1] = chunk .. [[\n\u00e9\"\\]] .. i
      want[#want + 1] = chunk .. '\n\xC3\xA9"\\' .. i
    end
    page = must_decode('{"events":[{"timestamp":1,"message":"' .. table.concat(parts) .. '"},'
      .. '{"timestamp":2,"message":"short\\n"}]}')
    assert.are.equal(table.concat(want), page.events[1].message)
    assert.is_true(#page.events[1].message > 200 * 1024)
    assert.are.equal("short\n", page.events[2].message)
  end)

  it("decodes a 10,000-event page with every field", function()
    local base = 1764079200000
    local parts = {}
    local function message(i)
      if i % 3 == 0 then return "event " .. i .. "\\n\\u00e9\\t\\\"q\\\"" end
      return "event " .. i .. " plain text"
    end
    local function want_message(i)
      if i % 3 == 0 then return "event " .. i .. "\n\xC3\xA9\t\"q\"" end
      return "event " .. i .. " plain text"
    end
    for i = 1, 10000 do
      parts[i] = string.format('{"logStreamName":"stream-%d","timestamp":%d,"message":"%s",'
        .. '"ingestionTime":%d,"eventId":"%056d"}', i % 7, base + i, message(i), base + i + 500, i)
    end
    local body = '{"events":[' .. table.concat(parts, ",") .. '],"searchedLogStreams":[],'
      .. '"nextToken":"next-page"}'
    local page = must_decode(body, "grp")
    assert.are.equal(10000, page.count)
    assert.are.equal(10000, #page.events)
    assert.are.equal("next-page", page.next_token)
    for i = 1, 10000 do
      local ev = page.events[i]
      assert(ev.timestamp == base + i and math.type(ev.timestamp) == "integer", i)
      assert(ev.ingestion_time == base + i + 500, i)
      assert(ev.stream == "stream-" .. (i % 7), i)
      assert(ev.id == string.format("%056d", i), i)
      assert(ev.message == want_message(i), i)
      assert(ev.group == "grp", i)
      local n = 0
      for _ in pairs(ev) do n = n + 1 end
      assert(n == 6, i)
    end
  end)

  it("agrees with cjson.decode on random generated pages", function()
    math.randomseed(20261125)
    local pool = { "a", "Z", " ", "\n", "\r", "\t", "\\", '"', "/", "\0", "\1", "\31", "\127",
      "é", "€", "😀", "日", "{", "}", "[", "]", ",", ":" }
    local function rand_string(maxlen)
      local t = {}
      for k = 1, math.random(0, maxlen) do
        t[k] = math.random() < 0.5 and string.char(math.random(32, 126)) or pool[math.random(#pool)]
      end
      return table.concat(t)
    end
    local function rand_value(depth)
      local r = math.random(1, depth > 3 and 5 or 7)
      if r == 1 then return rand_string(10)
      elseif r == 2 then return math.random(-1e6, 1e6) / 8
      elseif r == 3 then return math.random() < 0.5
      elseif r == 4 then return cjson.null
      elseif r == 5 then return math.random(-1000, 1000)
      elseif r == 6 then
        local t = {}
        for k = 1, math.random(0, 4) do t[k] = rand_value(depth + 1) end
        return t
      else
        local t = {}
        for _ = 1, math.random(0, 4) do t[rand_string(6)] = rand_value(depth + 1) end
        return t
      end
    end
    for _ = 1, 60 do
      local events = {}
      -- at least one event: this cjson encodes an empty table as {} (empty pages are tested above)
      for k = 1, math.random(1, 120) do
        local ev = { timestamp = math.random(0, 1 << 50), message = rand_string(300) }
        if math.random() < 0.8 then ev.ingestionTime = math.random(-(1 << 40), 1 << 40) end
        if math.random() < 0.8 then ev.logStreamName = rand_string(20) end
        if math.random() < 0.8 then ev.eventId = tostring(math.random(0, math.maxinteger)) end
        if math.random() < 0.3 then ev.extra = rand_value(0) end
        events[k] = ev
      end
      local doc = { events = events }
      local tok = math.random(1, 4)
      if tok == 1 then doc.nextToken = rand_string(40)
      elseif tok == 2 then doc.nextToken = cjson.null
      elseif tok == 3 then doc.nextForwardToken, doc.nextBackwardToken = rand_string(9), rand_string(9)
      end
      if math.random() < 0.5 then doc.searchedLogStreams = rand_value(0) end
      local body = cjson.encode(doc)
      local ref = cjson.decode(body)
      local page = must_decode(body, "g")
      assert.are.equal(#ref.events, page.count)
      assert.are.equal(#ref.events, #page.events)
      local function tok_of(v) if v == cjson.null then return nil end return v end
      assert.are.equal(tok_of(ref.nextToken), page.next_token)
      assert.are.equal(tok_of(ref.nextForwardToken), page.next_forward_token)
      assert.are.equal(tok_of(ref.nextBackwardToken), page.next_backward_token)
      for k, r in ipairs(ref.events) do
        local ev = page.events[k]
        assert.are.equal(math.tointeger(r.timestamp), ev.timestamp)
        assert.are.equal("integer", math.type(ev.timestamp))
        assert.are.equal(r.ingestionTime and math.tointeger(r.ingestionTime), ev.ingestion_time)
        assert.are.equal(r.logStreamName, ev.stream)
        assert.are.equal(r.eventId, ev.id)
        assert.are.equal(r.message, ev.message)
        assert.are.equal("g", ev.group)
      end
    end
  end)

  it("rejects a page truncated at every position", function()
    local body = '{"events":[{"logStreamName":"s\\u00e9","timestamp":17e11,"message":"a\\"b\\ud83d\\ude00",'
      .. '"ingestionTime":-5,"eventId":"1","x":[true,false,null,{"y":{}}]}],"nextToken":null}'
    must_decode(body)
    for i = 0, #body - 1 do
      local err = must_fail(body:sub(1, i))
      assert.matches(SYNTAX .. "unexpected end of input$", err)
      assert.are.equal(tostring(i + 1), err:match(SYNTAX), "prefix of length " .. i)
    end
  end)

  it("rejects malformed JSON with a position and a reason", function()
    local E = '{"events":[{"timestamp":1,"message":'
    local cases = {
      { "", 1, "unexpected end of input" },
      { "   ", 4, "unexpected end of input" },
      { '{"events":[]} x', 15, "trailing characters" },
      { '{"events":[]}{}', 14, "trailing characters" },
      { '{"events":[],}', 14, "unexpected character '}'" },
      { '{"events":[,]}', 12, "unexpected character ','" },
      { E .. '"a",}]}', 41, "unexpected character '}'" },
      { "{,}", 2, "unexpected character ','" },
      { "{'events':[]}", 2, "unexpected character '''" },
      { "{events:[]}", 2, "unexpected character 'e'" },
      { '{"events":[] "nextToken":null}', 14, "unexpected character '\"'" },
      { '{"events" []}', 11, "unexpected character '%['" },
      { '{"a":tru}', 6, "invalid literal" },
      { '{"a":nul}', 6, "invalid literal" },
      { '{"a":True}', 6, "unexpected character 'T'" },
      { '{"a":01}', 7, "unexpected character '1'" },
      { '{"a":1.}', 6, "invalid number" },
      { '{"a":.5}', 6, "unexpected character '%.'" },
      { '{"a":-}', 6, "invalid number" },
      { '{"a":-a}', 6, "invalid number" },
      { '{"a":1e}', 6, "invalid number" },
      { '{"a":1e+}', 6, "invalid number" },
      { '{"a":+1}', 6, "unexpected character '%+'" },
      { '{"a":0x10}', 7, "unexpected character 'x'" },
      { '{"a":NaN}', 6, "unexpected character 'N'" },
      { '{"a":"\\x"}', 7, "invalid escape" },
      { '{"a":"\\u12"}', 7, "invalid \\u escape" },
      { '{"a":"\\u12G4"}', 7, "invalid \\u escape" },
      { '{"a":"\\U1234"}', 7, "invalid escape" },
      { '{"a":"\\\'"}', 7, "invalid escape" },
      { '{"a":"tab\there"}', 10, "control character in string %(byte 0x09%)" },
      { '{"a":"nl\nhere"}', 9, "control character in string %(byte 0x0a%)" },
      { '{"a":"\0"}', 7, "control character in string %(byte 0x00%)" },
      { E .. '"x\31y"}]}', 39, "control character in string %(byte 0x1f%)" },
      { '{"a":[1,2}', 10, "unexpected character '}'" },
      { '{"a":{"b":1]}', 12, "unexpected character ']'" },
      { '{"a":{"b"}}', 10, "unexpected character '}'" },
      { '{"a":{1:2}}', 7, "unexpected character '1'" },
      { '{"a":[1 2]}', 9, "unexpected character '2'" },
      { '{"a":"unterminated}', 20, "unexpected end of input" },
      { '{"a":\1}', 6, "unexpected character %(byte 0x01%)" },
      { '{"a":1}\0', 8, "trailing characters" },
      { '\xEF\xBB\xBF{"events":[]}', 1, "unexpected character %(byte 0xef%)" },
      { '{"events":[{"timestamp":1,"message":"a"}', 41, "unexpected end of input" },
      { '{"nextToken":"\\ud83d\\', 22, "unexpected end of input" },
    }
    assert.is_true(#cases >= 30)
    for _, c in ipairs(cases) do
      local err = must_fail(c[1])
      assert.matches(SYNTAX .. c[3], err)
      assert.are.equal(tostring(c[2]), err:match(SYNTAX), c[1])
    end
  end)

  it("rejects well-formed bodies of the wrong shape", function()
    local cases = {
      { "[]", "the body is not a JSON object" },
      { "null", "the body is not a JSON object" },
      { '"x"', "the body is not a JSON object" },
      { '{"events":{}}', "events is not an array" },
      { '{"events":"x"}', "events is not an array" },
      { '{"events":[1]}', "an event is not an object" },
      { '{"events":[[]]}', "an event is not an object" },
      { '{"events":[],"nextToken":5}', "a paging token is not a string" },
      { '{"nextForwardToken":{}}', "a paging token is not a string" },
      { '{"events":[{"timestamp":"5","message":"m"}]}', "timestamp is not a number" },
      { '{"events":[{"timestamp":1,"message":5}]}', "message is not a string" },
      { '{"events":[{"timestamp":1,"message":"m","ingestionTime":true}]}', "ingestionTime is not a number" },
      { '{"events":[{"timestamp":1,"message":"m","logStreamName":[]}]}', "logStreamName is not a string" },
      { '{"events":[{"timestamp":1,"message":"m","eventId":1}]}', "eventId is not a string" },
      { '{"events":[{"message":"m"}]}', "an event has no timestamp" },
      { '{"events":[{"timestamp":null,"message":"m"}]}', "an event has no timestamp" },
      { '{"events":[{"timestamp":1}]}', "an event has no message" },
    }
    for _, c in ipairs(cases) do
      local err = must_fail(c[1])
      assert.matches(SHAPE .. c[2] .. "$", err)
    end
  end)

  it("never raises on randomly damaged pages", function()
    math.randomseed(7)
    local good = '{"events":[{"logStreamName":"s","timestamp":17e11,"message":"a\\u00e9\\n\\"",'
      .. '"ingestionTime":2,"eventId":"9","u":[{"v":null},-1.5e3,true]}],"nextToken":"t\\/"}'
    local accepted, rejected = 0, 0
    for _ = 1, 3000 do
      local b = { good:byte(1, -1) }
      for _ = 1, math.random(1, 3) do
        local pos, r = math.random(1, #b), math.random(1, 3)
        if r == 1 then b[pos] = math.random(0, 255)
        elseif r == 2 then table.remove(b, pos)
        else table.insert(b, pos, ('{}[]",:\\0e-.u'):byte(math.random(1, 13))) end
      end
      local page, err = try_decode(string.char(table.unpack(b)))
      if page then
        assert.is_table(page.events)
        accepted = accepted + 1
      else
        assert.matches("^invalid ", err)
        rejected = rejected + 1
      end
    end
    assert.is_true(rejected > 0)
    assert.is_true(accepted > 0)
  end)

  it("checks its arguments", function()
    assert.has_error(function() decode() end)
    assert.has_error(function() decode("{}", 5) end)
    assert.has_error(function() decode("{}", {}) end)
    assert.are.same({ events = {}, count = 0 }, decode("{}", nil))
  end)
end)

describe("rstrip", function()
  -- Truth table generated with python3:
  --   [c for c in range(128) if chr(c).rstrip() == '']  ->  [9, 10, 11, 12, 13, 28, 29, 30, 31, 32]
  local PY_STRIPPED = { [9] = true, [10] = true, [11] = true, [12] = true, [13] = true,
    [28] = true, [29] = true, [30] = true, [31] = true, [32] = true }

  it("strips exactly the ASCII characters Python's str.rstrip() strips", function()
    for c = 0, 127 do
      local s = "x" .. string.char(c)
      local want = PY_STRIPPED[c] and "x" or s
      assert.are.equal(want, core.rstrip(s), "byte " .. c)
    end
  end)

  it("keeps every byte >= 0x80, including the UTF-8 of U+0085 and U+00A0", function()
    for c = 128, 255 do
      local s = "x" .. string.char(c)
      assert.are.equal(s, core.rstrip(s))
    end
    assert.are.equal("a\xC2\x85", core.rstrip("a\xC2\x85"))
    assert.are.equal("a\xC2\xA0", core.rstrip("a\xC2\xA0 \n"))
  end)

  it("matches python3 on sample strings", function()
    -- pairs printed by python3: repr(s), repr(s.rstrip())
    local cases = {
      { "abc", "abc" }, { "abc  ", "abc" }, { "abc\r\n", "abc" },
      { " \t a b \x0b\x0c\x1c\x1d\x1e\x1f", " \t a b" }, { "", "" }, { "   ", "" },
      { "x\0", "x\0" }, { "x\x1b", "x\x1b" }, { "x\x7f", "x\x7f" }, { "a\n\nb\n", "a\n\nb" },
    }
    for _, c in ipairs(cases) do
      assert.are.equal(c[2], core.rstrip(c[1]))
    end
  end)

  it("returns the same string when nothing is stripped", function()
    local s = string.rep("long message ", 100) .. "end"
    assert.are.equal(s, core.rstrip(s))
    assert.are.equal(s, core.rstrip(s .. " \r\n"))
    assert.has_error(function() core.rstrip() end)
  end)
end)
