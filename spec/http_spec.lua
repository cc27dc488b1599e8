-- The HTTP engine (cwlogs.core.http_engine) and its Lua face (cwlogs.http), against the
-- fault-injecting stub in spec/support/stub_server.py. Every describe starts its own stub
-- on its own port, with its own script, and kills it in teardown.
local cjson = require "cjson"
local core = require "cwlogs.core"
local http = require "cwlogs.http"
local errors = require "cwlogs.errors"

local function write_file(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

-- Starts the stub with a list of actions; returns { url=, port=, log=, ... }.
local stub_launcher = require("support.stub")

local function start_stub(actions) return stub_launcher.start(actions) end
local function stop_stub(stub) if stub then stub:stop() end end
local function received(stub) return stub:requests() end

-- Runs the engine until nothing is left; returns the results keyed by id.
local function drain(engine)
  local got, spins = {}, 0
  while engine:running() > 0 do
    engine:perform()
    for _, r in ipairs(engine:results()) do
      assert(got[r.id] == nil, "result delivered twice")
      got[r.id] = r
    end
    if engine:running() > 0 then engine:wait(200) end
    spins = spins + 1
    assert(spins < 5000, "engine never finished")
  end
  return got
end

-- Runs the engine until `pred()` holds (or a generous number of steps passed).
local function drive_until(engine, pred)
  for _ = 1, 2000 do
    if pred() then return true end
    engine:perform()
    engine:wait(20)
  end
  return pred()
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function b64encode(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = (a << 16) | ((b or 0) << 8) | (c or 0)
    local q = {}
    for k = 1, 4 do
      local v = (n >> (6 * (4 - k))) & 63
      q[k] = B64:sub(v + 1, v + 1)
    end
    if not b then q[3] = "=" end
    if not c then q[4] = "=" end
    out[#out + 1] = table.concat(q)
  end
  return table.concat(out)
end

local function b64decode(s)
  local map = {}
  for i = 1, 64 do map[B64:byte(i)] = i - 1 end
  local out, bits, nbits = {}, 0, 0
  for i = 1, #s do
    local v = map[s:byte(i)]
    if v then
      bits, nbits = ((bits << 6) | v) & 0xffffff, nbits + 6
      if nbits >= 8 then
        nbits = nbits - 8
        out[#out + 1] = string.char((bits >> nbits) & 0xff)
      end
    end
  end
  return table.concat(out)
end

local function all_bytes(n)
  local t = {}
  for i = 0, n - 1 do t[#t + 1] = string.char(i % 256) end
  return table.concat(t)
end

describe("http engine: round trips", function()
  local stub, engine
  setup(function()
    stub = start_stub({ { echo = true } })
    engine = assert(http.new())
  end)
  teardown(function()
    if engine then engine:close() end
    stop_stub(stub)
  end)

  it("does a GET and reports status, headers and body", function()
    local res = assert(http.request(engine, { url = stub.url .. "/get?x=1", method = "GET" }))
    assert.are.equal(200, res.status)
    assert.are.equal("application/json", res.headers["content-type"])
    local echoed = cjson.decode(res.body)
    assert.are.equal("GET", echoed.method)
    assert.are.equal("/get?x=1", echoed.path)
    assert.are.equal("cwlogs/" .. core.version, echoed.headers["user-agent"])
    assert.is_number(res.total_ms)
  end)

  it("POSTs by default, with our headers and without Expect or a default Content-Type", function()
    local res = assert(http.request(engine, {
      url = stub.url .. "/post",
      headers = { { "X-Amz-Target", "Logs_20140328.FilterLogEvents" }, { "X-Empty", "" } },
      body = '{"a":1}',
    }))
    assert.are.equal(200, res.status)
    local echoed = cjson.decode(res.body)
    assert.are.equal("POST", echoed.method)
    assert.are.equal('{"a":1}', echoed.body)
    assert.are.equal("Logs_20140328.FilterLogEvents", echoed.headers["x-amz-target"])
    assert.are.equal("", echoed.headers["x-empty"])
    assert.is_nil(echoed.headers["expect"])
    assert.is_nil(echoed.headers["content-type"])
  end)

  it("sends a large body in one go, without Expect: 100-continue", function()
    local body = string.rep("x", 2 * 1024 * 1024)
    local res = assert(http.request(engine, {
      url = stub.url .. "/big", body = body,
      headers = { { "Content-Type", "application/x-amz-json-1.1" } },
    }))
    assert.are.equal(200, res.status)
    local echoed = cjson.decode(res.body)
    assert.is_nil(echoed.headers["expect"])
    assert.are.equal("application/x-amz-json-1.1", echoed.headers["content-type"])
    assert.are.equal(tostring(#body), echoed.headers["content-length"])
    assert.are.equal(body, echoed.body)
  end)

  it("accepts headers as a name -> value map too", function()
    local res = assert(http.request(engine, {
      url = stub.url .. "/map", headers = { ["X-One"] = "1", ["X-Two"] = 2 },
    }))
    local echoed = cjson.decode(res.body)
    assert.are.equal("1", echoed.headers["x-one"])
    assert.are.equal("2", echoed.headers["x-two"])
  end)

  it("sends a request body with NUL and every other byte value exactly", function()
    local body = "a\0b\0" .. all_bytes(512)
    local res = assert(http.request(engine, { url = stub.url .. "/bytes", body = body }))
    local echoed = cjson.decode(res.body)
    assert.are.equal(tostring(#body), echoed.headers["content-length"])
    assert.is_true(b64decode(echoed.body_b64) == body)
  end)

  it("runs 20 transfers at once and maps every id to its own response", function()
    local ids = {}
    for i = 1, 20 do
      ids[i] = assert(engine:submit({ url = stub.url .. "/item/" .. i, method = "GET" }))
    end
    assert.are.equal(20, engine:running())
    local got = drain(engine)
    for i = 1, 20 do
      local r = got[ids[i]]
      assert.is_table(r)
      assert.is_nil(r.error)
      assert.are.equal(200, r.status)
      assert.are.equal("/item/" .. i, cjson.decode(r.body).path)
    end
    assert.are.equal(0, engine:running())
  end)
end)

describe("http engine: binary bodies and headers", function()
  local stub, engine
  local payload = all_bytes(200 * 1024)
  setup(function()
    stub = start_stub({ {
      status = 200,
      headers = { ["X-Amzn-RequestId"] = "req-123", ["Content-Type"] = "application/octet-stream" },
      body_b64 = b64encode(payload),
    } })
    engine = assert(http.new())
  end)
  teardown(function()
    if engine then engine:close() end
    stop_stub(stub)
  end)

  it("returns a 200 KB body with all byte values unchanged", function()
    local res = assert(http.request(engine, { url = stub.url .. "/bin", method = "GET" }))
    assert.are.equal(#payload, #res.body)
    assert.is_true(res.body == payload)
  end)

  it("lower-cases header names", function()
    local res = assert(http.request(engine, { url = stub.url .. "/bin", method = "GET" }))
    assert.are.equal("req-123", res.headers["x-amzn-requestid"])
    assert.are.equal("application/octet-stream", res.headers["content-type"])
    for name in pairs(res.headers) do
      assert.are.equal(name:lower(), name)
    end
  end)
end)

describe("http engine: keep-alive", function()
  local stub, engine
  setup(function()
    stub = start_stub({ { body = "ok" } })
    engine = assert(http.new())
  end)
  teardown(function()
    if engine then engine:close() end
    stop_stub(stub)
  end)

  it("reuses connections across requests", function()
    for i = 1, 10 do
      local res = assert(http.request(engine, { url = stub.url .. "/k" .. i, body = "{}" }))
      assert.are.equal("ok", res.body)
    end
    local reqs = received(stub)
    assert.are.equal(10, #reqs)
    local conns, distinct = {}, 0
    for _, r in ipairs(reqs) do
      if not conns[r.conn] then distinct = distinct + 1 end
      conns[r.conn] = true
    end
    assert.is_true(distinct < #reqs, "every request opened its own connection")
  end)
end)

describe("http engine: faults", function()
  local stubs, engine = {}, nil
  local function stub_for(action)
    local s = start_stub({ action })
    stubs[#stubs + 1] = s
    return s
  end
  setup(function() engine = assert(http.new()) end)
  teardown(function()
    if engine then engine:close() end
    for _, s in ipairs(stubs) do stop_stub(s) end
  end)

  it("turns a connection reset into a retryable NetworkError", function()
    local s = stub_for({ fault = "reset" })
    local res, err = http.request(engine, { url = s.url .. "/r", body = "{}" })
    assert.is_nil(res)
    assert.is_true(errors.is(err))
    assert.are.equal("NetworkError", err.code)
    assert.are.equal("reset", err.kind)
    assert.is_true(err.retryable)
    assert.is_string(err.message)
    assert.is_nil(err.message:find("\n", 1, true))
  end)

  it("never returns a short body when the peer resets mid-body", function()
    local s = stub_for({ fault = "reset_mid_body", body = string.rep("z", 64 * 1024) })
    local id = assert(engine:submit({ url = s.url .. "/m", method = "GET" }))
    local r = drain(engine)[id]
    assert.is_table(r.error)
    assert.are.equal("NetworkError", r.error.code)
    assert.is_truthy(r.error.kind == "reset" or r.error.kind == "partial", r.error.kind)
    assert.are.equal("", r.body)
    local res, err = http.request(engine, { url = s.url .. "/m", method = "GET" })
    assert.is_nil(res)
    assert.are.equal("NetworkError", err.code)
    assert.is_true(err.retryable)
  end)

  it("reports a truncated body (Content-Length not reached) as kind 'partial'", function()
    local s = stub_for({ fault = "truncate", body = string.rep("t", 1000) })
    local id = assert(engine:submit({ url = s.url .. "/t", method = "GET" }))
    local r = drain(engine)[id]
    assert.are.equal("partial", r.error.kind)
    assert.are.equal("", r.body)
    assert.are.equal("integer", math.type(r.error.curl_code))
    local res, err = http.request(engine, { url = s.url .. "/t", method = "GET" })
    assert.is_nil(res)
    assert.are.equal("partial", err.kind)
    assert.is_true(err.retryable)
  end)

  it("reports a closed port as kind 'connect'", function()
    local s = stub_for({ body = "never" })
    local url = s.url .. "/c"
    stop_stub(s)
    local res, err = http.request(engine, { url = url, method = "GET" })
    assert.is_nil(res)
    assert.are.equal("NetworkError", err.code)
    assert.are.equal("connect", err.kind)
    assert.is_true(err.retryable)
  end)

  it("stops a stalled transfer at timeout_ms with kind 'timeout'", function()
    local s = stub_for({ fault = "stall", delay_ms = 2000, body = "late" })
    local res, err = http.request(engine, { url = s.url .. "/s", method = "GET", timeout_ms = 300 })
    assert.is_nil(res)
    assert.are.equal("timeout", err.kind)
    assert.is_true(err.retryable)
  end)

  it("passes error statuses through as responses, not transport errors", function()
    local s = stub_for({ status = 400, body = { __type = "ThrottlingException", message = "Rate exceeded" } })
    local res = assert(http.request(engine, { url = s.url .. "/throttle", body = "{}" }))
    assert.are.equal(400, res.status)
    assert.are.equal("ThrottlingException", cjson.decode(res.body).__type)
  end)
end)

describe("http engine: request validation", function()
  local engine
  setup(function() engine = assert(http.new()) end)
  teardown(function() engine:close() end)

  it("rejects CR or LF in header values and names (header injection)", function()
    local cases = {
      { { "X-A", "1\r\nX-Evil: yes" } },
      { { "X-A", "1\nX-Evil: yes" } },
      { { "X-A", "1\rX" } },
      { { "X-A\r\nX-Evil", "1" } },
      { { "X-A:", "1" } },
      { { "", "1" } },
      { { "X-A", "a\0b" } },
    }
    for _, headers in ipairs(cases) do
      local id, msg = engine:submit({ url = "http://127.0.0.1:9/", headers = headers })
      assert.is_nil(id)
      assert.is_string(msg)
      assert.is_nil(msg:find("Evil", 1, true))
    end
    assert.are.equal(0, engine:running())
  end)

  it("rejects control characters in the url and method", function()
    assert.is_nil((engine:submit({ url = "http://127.0.0.1:9/\r\nX-Evil: 1" })))
    assert.is_nil((engine:submit({ url = "http://127.0.0.1:9/ a" })))
    assert.is_nil((engine:submit({ url = "http://127.0.0.1:9/", method = "GET /x HTTP/1.1\r\n" })))
    assert.is_nil((engine:submit({})))
    assert.are.equal(0, engine:running())
  end)

  it("turns a bad request into nil, InvalidArgument in http.request", function()
    local res, err = http.request(engine, { url = "http://127.0.0.1:9/", headers = { { "X", "\n" } } })
    assert.is_nil(res)
    assert.are.equal("InvalidArgument", err.code)
  end)

  it("rejects bad engine options with a ConfigError", function()
    local e1, err1 = http.new({ connect_timeout_ms = -1 })
    assert.is_nil(e1)
    assert.are.equal("ConfigError", err1.code)
    local e2, err2 = http.new({ conect_timeout_ms = 5 })
    assert.is_nil(e2)
    assert.are.equal("ConfigError", err2.code)
    assert.is_truthy(err2.message:find("conect_timeout_ms", 1, true))
    local e3, err3 = core.http_engine({ ca_bundle = 42 })
    assert.is_nil(e3)
    assert.is_string(err3)
  end)

  it("accepts every documented option", function()
    local e = assert(http.new({
      ca_bundle = "/etc/ssl/certs/ca-certificates.crt", connect_timeout_ms = 2000,
      low_speed_limit = 10, low_speed_time = 30, user_agent = "test/1",
      max_host_connections = 4, verbose = false,
    }))
    e:close()
  end)
end)

describe("http engine: lifecycle and polling", function()
  local stub, engine
  setup(function()
    stub = start_stub({ { fault = "stall", delay_ms = 5000, body = "slow" } })
  end)
  before_each(function() engine = assert(http.new()) end)
  after_each(function() engine:close() end)
  teardown(function() stop_stub(stub) end)

  it("close() can be called twice, and a closed engine refuses work", function()
    engine:close()
    engine:close()
    assert.has_error(function() engine:perform() end, "attempt to use a closed http engine")
    assert.are.equal("cwlogs.http_engine (closed)", tostring(engine))
  end)

  it("closes with a running transfer and via <close>", function()
    do
      local e <close> = assert(http.new())
      assert(e:submit({ url = stub.url .. "/x", method = "GET" }))
      e:perform()
    end
    assert(engine:submit({ url = stub.url .. "/y", method = "GET" }))
    engine:perform()
    engine:close()
    assert.are.equal("cwlogs.http_engine (closed)", tostring(engine))
  end)

  it("asks to be run at once after a submit", function()
    assert.are.equal(-1, engine:timeout())
    assert(engine:submit({ url = stub.url .. "/t", method = "GET" }))
    assert.are.equal(0, engine:timeout())
    assert.is_true(engine:wait(0))
  end)

  it("lists the sockets libcurl waits on while a transfer runs", function()
    assert.are.same({}, engine:sockets())
    assert(engine:submit({ url = stub.url .. "/s", method = "GET" }))
    local socks
    assert.is_true(drive_until(engine, function()
      socks = engine:sockets()
      return #socks > 0 and socks[1].read
    end))
    assert.are.equal("integer", math.type(socks[1].fd))
    assert.is_true(socks[1].fd >= 0)
    assert.is_boolean(socks[1].write)
  end)

  it("cancels a running transfer so that it never shows up in results", function()
    local id = assert(engine:submit({ url = stub.url .. "/c", method = "GET" }))
    assert.is_true(drive_until(engine, function() return #engine:sockets() > 0 end))
    assert.is_true(engine:cancel(id))
    assert.are.equal(0, engine:running())
    assert.is_false(engine:cancel(id))
    assert.are.equal(0, engine:perform())
    assert.are.same({}, engine:results())
  end)
end)

describe("http engine: results", function()
  local stub, engine
  setup(function()
    stub = start_stub({ { echo = true } })
    engine = assert(http.new())
  end)
  teardown(function()
    engine:close()
    stop_stub(stub)
  end)

  local function finish_in_curl()
    -- Until libcurl has nothing left in flight; finished transfers stay queued in the engine.
    local n
    for _ = 1, 2000 do
      n = engine:perform()
      if n == 0 then break end
      engine:wait(50)
    end
    return n
  end

  it("drains: each result is returned once", function()
    local id = assert(engine:submit({ url = stub.url .. "/d", method = "GET" }))
    assert.are.equal(0, finish_in_curl())
    assert.are.equal(1, engine:running())
    local first = engine:results()
    assert.are.equal(1, #first)
    assert.are.equal(id, first[1].id)
    assert.are.same({}, engine:results())
    assert.are.equal(0, engine:running())
  end)

  it("cancels a finished transfer that was not collected yet", function()
    local id = assert(engine:submit({ url = stub.url .. "/f", method = "GET" }))
    assert.are.equal(0, finish_in_curl())
    assert.is_true(engine:cancel(id))
    assert.are.same({}, engine:results())
    assert.are.equal(0, engine:running())
  end)

  it("http.request returns its own result and keeps the others for http.take", function()
    local other = assert(engine:submit({ url = stub.url .. "/other", method = "GET" }))
    assert.are.equal(0, finish_in_curl())
    local res = assert(http.request(engine, { url = stub.url .. "/mine", method = "GET" }))
    assert.are.equal("/mine", cjson.decode(res.body).path)
    local kept = http.take(engine, other)
    assert.is_table(kept)
    assert.are.equal(other, kept.id)
    assert.are.equal("/other", cjson.decode(kept.body).path)
    assert.is_nil(http.take(engine, other))
    local ok = assert(http.response(kept))
    assert.are.equal(200, ok.status)
  end)
end)

describe("http engine: verbose mode", function()
  local stub
  setup(function() stub = start_stub({ { body = "ok" } }) end)
  teardown(function() stop_stub(stub) end)

  it("prints libcurl's remarks but never request headers", function()
    local prog = string.format([[
      package.cpath = (os.getenv("CWLOGS_CPATH") or "build/?.so") .. ";" .. package.cpath
      package.path = "lua/?.lua;" .. package.path
      local http = require "cwlogs.http"
      local e = assert(http.new({ verbose = true }))
      local res = assert(http.request(e, { url = "%s/v", body = "{}",
        headers = { { "Authorization", "AWS4-HMAC-SHA256 Credential=SECRETSECRET" },
                    { "X-Amz-Security-Token", "TOKENTOKEN" } } }))
      io.stdout:write("status=", res.status, "\n")
      e:close()
    ]], stub.url)
    local path = os.tmpname()
    write_file(path, prog)
    local p = assert(io.popen("lua5.4 " .. path .. " 2>&1", "r"))
    local out = p:read("a")
    p:close()
    os.remove(path)
    assert.is_truthy(out:find("status=200", 1, true), out)
    assert.is_truthy(out:find("Connected to", 1, true), out)
    assert.is_nil(out:find("SECRETSECRET", 1, true))
    assert.is_nil(out:find("TOKENTOKEN", 1, true))
    assert.is_nil(out:find("Authorization", 1, true))
    local reqs = received(stub)
    assert.are.equal("AWS4-HMAC-SHA256 Credential=SECRETSECRET", reqs[1].headers["authorization"])
  end)
end)
