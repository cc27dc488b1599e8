-- Retries, error parsing and paging quirks, against the fault-injecting stub (moto never
-- throttles, never resets, never returns empty pages with a token).
local cjson = require("cjson")
local cwlogs = require("cwlogs")
local stubs = require("support.stub")

local SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

local function env(vars)
  local all = { AWS_CONFIG_FILE = "/dev/null", AWS_SHARED_CREDENTIALS_FILE = "/dev/null" }
  for k, v in pairs(vars or {}) do all[k] = v end
  return function(name) return all[name] end
end

local function client_for(stub, extra)
  local opts = {
    region = "us-east-1", endpoint = stub.url,
    credentials = { access_key = "AKIDEXAMPLE", secret_key = SECRET },
    retry_base_ms = 5, getenv = env(extra and extra.env),
  }
  for k, v in pairs(extra or {}) do if k ~= "env" then opts[k] = v end end
  return assert(cwlogs.client(opts))
end

local GROUPS_OK = { status = 200, body = { logGroups = { { logGroupName = "/g", creationTime = 1 } } } }

local function throttle()
  return { status = 400, body = { __type = "ThrottlingException", message = "Rate exceeded" },
           headers = { ["x-amzn-RequestId"] = "req-throttle" } }
end

local function groups_of(client)
  local names = {}
  for g in client:groups{} do names[#names + 1] = g.name end
  return names
end

describe("retries", function()
  local stub
  after_each(function() if stub then stub:stop() end end)

  it("retries a 500 and then succeeds", function()
    stub = stubs.start({ { status = 500, body = "oops" }, GROUPS_OK })
    assert.are.same({ "/g" }, groups_of(client_for(stub)))
    assert.are.equal(2, #stub:requests())
  end)

  it("retries throttling, 502/503/504, a reset and a truncated body, then succeeds", function()
    stub = stubs.start({ throttle(), { status = 502 }, { status = 503 }, { status = 504 },
      { fault = "reset" }, { fault = "truncate", body = { logGroups = {} } }, GROUPS_OK })
    local client = client_for(stub)
    assert.are.same({ "/g" }, groups_of(client))
    assert.are.equal(7, #stub:requests())
    assert.are.equal(1, client.transport.stats.throttles)
    -- libcurl itself resends once when a reused connection dies before answering, so
    -- the transport may see one failure fewer than the stub saw requests.
    assert.is_true(client.transport.stats.retries >= 5)
  end)

  it("retries through a connection reset in the middle of the body", function()
    stub = stubs.start({ { fault = "reset_mid_body", body = string.rep("x", 100000) }, GROUPS_OK })
    assert.are.same({ "/g" }, groups_of(client_for(stub)))
  end)

  it("fails at once on an error that is not retryable, with code, status and request id", function()
    stub = stubs.start({ { status = 400, headers = { ["x-amzn-RequestId"] = "abc-123" },
      body = { __type = "com.amazonaws.logs#AccessDeniedException", message = "no access" } } })
    local ok, err = pcall(groups_of, client_for(stub))
    assert.is_false(ok)
    assert.are.equal("AccessDeniedException", err.code)
    assert.are.equal("no access", err.message)
    assert.are.equal(400, err.status)
    assert.are.equal("abc-123", err.request_id)
    assert.matches("AccessDeniedException: no access (HTTP 400, request id abc-123)",
      tostring(err), 1, true)
    assert.are.equal(1, #stub:requests())
  end)

  it("gives up after AWS_MAX_ATTEMPTS attempts", function()
    stub = stubs.start({ { status = 503,
      body = { __type = "ServiceUnavailableException", message = "busy" } } })
    local client = client_for(stub, { env = { AWS_MAX_ATTEMPTS = "3" } })
    local ok, err = pcall(groups_of, client)
    assert.is_false(ok)
    assert.are.equal("ServiceUnavailableException", err.code)
    assert.are.equal(3, err.attempts)
    assert.are.equal(3, #stub:requests())
  end)

  it("reads XML auth errors and the x-amzn-errortype header", function()
    stub = stubs.start({ { status = 403, body = '<?xml version="1.0"?><ErrorResponse><Error>'
      .. '<Code>SignatureDoesNotMatch</Code><Message>bad sig</Message></Error>'
      .. '<RequestId>rid-9</RequestId></ErrorResponse>' },
      { status = 400, headers = { ["x-amzn-ErrorType"] = "ExpiredTokenException:http://x" }, body = "" } })
    local client = client_for(stub)
    local _, err = pcall(groups_of, client)
    assert.are.equal("SignatureDoesNotMatch", err.code)
    assert.are.equal("bad sig", err.message)
    assert.are.equal("rid-9", err.request_id)
    assert.are.equal(403, err.status)
    _, err = pcall(groups_of, client)
    assert.are.equal("ExpiredTokenException", err.code)
  end)

  it("sends signed JSON 1.1 requests and never sends the secret", function()
    stub = stubs.start({ GROUPS_OK })
    groups_of(client_for(stub))
    local req = stub:requests()[1]
    local h = req.headers
    assert.are.equal("POST", req.method)
    assert.are.equal("/", req.path)
    assert.are.equal("Logs_20140328.DescribeLogGroups", h["x-amz-target"])
    assert.are.equal("application/x-amz-json-1.1", h["content-type"])
    assert.are.equal("cwlogs/" .. cwlogs.version, h["user-agent"])
    assert.matches("^AWS4%-HMAC%-SHA256 Credential=AKIDEXAMPLE/%d+/us%-east%-1/logs/aws4_request, "
      .. "SignedHeaders=content%-type;host;x%-amz%-date;x%-amz%-target, Signature=%x+$", h.authorization)
    assert.is_nil(h.expect)
    for _, v in pairs(h) do assert.is_nil(v:find(SECRET, 1, true)) end
    assert.is_nil(req.body:find(SECRET, 1, true))
  end)
end)

describe("paging quirks (FilterLogEvents)", function()
  local stub
  after_each(function() if stub then stub:stop() end end)

  local function page(events, token)
    local evs = {}
    for i, e in ipairs(events) do
      evs[i] = { logStreamName = "s", timestamp = e[1], ingestionTime = e[1] + 1,
        eventId = tostring(e[1]) .. "-" .. i, message = e[2] }
    end
    local body = cjson.encode({ events = evs, nextToken = token or cjson.null })
    if #evs == 0 then body = body:gsub('"events":{}', '"events":[]') end  -- cjson: {} for empty
    return { status = 200, body = body }
  end

  it("keeps paging through empty pages and repeated tokens until there is no token", function()
    stub = stubs.start({
      page({ { 1000, "a" } }, "t1"),
      page({}, "t2"),                -- empty page with a token
      page({}, "t2"),                -- the same token again
      page({ { 2000, "b" } }, "t2"), -- same token, but events: keep going
      throttle(),                    -- a throttle in the middle
      page({ { 3000, "c" }, { 3000, "d" } }, nil),
    })
    local client = client_for(stub)
    local got = {}
    for ev in client:events{ group = "/g", parallel = 1 } do got[#got + 1] = ev.message end
    assert.are.same({ "a", "b", "c", "d" }, got)
    local reqs = stub:requests()
    assert.are.equal(6, #reqs)
    local tokens = {}
    for i, r in ipairs(reqs) do tokens[i] = cjson.decode(r.body).nextToken or "-" end
    assert.are.same({ "-", "t1", "t2", "t2", "t2", "t2" }, tokens)
  end)

  it("stops when the service hands back the same token with empty pages forever", function()
    stub = stubs.start({ page({ { 1000, "a" } }, "stuck"), page({}, "stuck") })
    local got = {}
    for ev in client_for(stub):events{ group = "/g", parallel = 1 } do got[#got + 1] = ev.message end
    assert.are.same({ "a" }, got)
    assert.are.equal(21, #stub:requests())   -- 1 + 20 identical empty rounds
  end)

  it("sends endTime one past the inclusive stop and drops what lies outside", function()
    stub = stubs.start({ page({ { 999, "before" }, { 1000, "start" }, { 5000, "stop" },
      { 5001, "after" } }, nil) })
    local got = {}
    for ev in client_for(stub):events{ group = "/g", start = 1000, stop = 5000, parallel = 1 } do
      got[#got + 1] = ev.message
    end
    assert.are.same({ "start", "stop" }, got)
    local body = cjson.decode(stub:requests()[1].body)
    assert.are.equal(1000, math.tointeger(body.startTime))
    assert.are.equal(5001, math.tointeger(body.endTime))
    assert.are.equal("/g", body.logGroupName)
  end)

  it("raises a parse error for a malformed page", function()
    stub = stubs.start({ { status = 200, body = '{"events": [{"timestamp": 1, "message": "x"' } })
    local ok, err = pcall(function()
      for _ in client_for(stub):events{ group = "/g" } do end
    end)
    assert.is_false(ok)
    assert.are.equal("ParseError", err.code)
  end)
end)
