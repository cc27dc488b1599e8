-- cwlogs.core.sign against the AWS SigV4 test suite (spec/fixtures/sigv4-testsuite, see
-- its README.md) and the signer's own contract: header forms, added headers, bad arguments.
local core = require "cwlogs.core"

local spec_dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "spec"
local suite = spec_dir .. "/fixtures/sigv4-testsuite"

local ACCESS_KEY = "AKIDEXAMPLE"
local SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
local TIME = "20150830T123600Z"
local REGION = "us-east-1"

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return text
end

-- Every case dir holding NAME.req, except the ambiguous ones, in a stable order.
local function find_cases()
  local cases = {}
  local p = assert(io.popen("find '" .. suite .. "' -type f -name '*.req' -not -path '*/ambiguous/*'"))
  for line in p:lines() do
    local dir, name = line:match("^(.*)/([^/]+)%.req$")
    cases[#cases + 1] = { dir = dir, name = name, base = dir .. "/" .. name }
  end
  p:close()
  table.sort(cases, function(a, b) return a.base < b.base end)
  return cases
end

-- Parses a .req exactly as the suite's README describes.
local function parse_req(text)
  local head, body = text, ""
  local sep = text:find("\n\n", 1, true)
  if sep then
    head, body = text:sub(1, sep - 1), text:sub(sep + 2)
  end
  local lines = {}
  for line in (head .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end

  local request_line = lines[1]
  local first = assert(request_line:find(" ", 1, true))
  local last = assert(request_line:match(".*() "))
  local target = request_line:sub(first + 1, last - 1)
  local path, query = target, nil
  local q = target:find("?", 1, true)
  if q then path, query = target:sub(1, q - 1), target:sub(q + 1) end

  local headers = {}
  for i = 2, #lines do
    local line = lines[i]
    if line == "" then break end
    if line:match("^%s") then
      -- Continuation: hand the signer the folded value; unfolding is its job.
      local h = assert(headers[#headers], "continuation before any header")
      h[2] = h[2] .. "\n" .. line
    else
      local name, value = assert(line:match("^([^:]*):(.*)$"))
      headers[#headers + 1] = { name, value }
    end
  end
  return {
    method = request_line:sub(1, first - 1),
    path = path,
    query = query,
    headers = headers,
    body = body,
  }
end

local function sign_args(req, service, extra)
  local args = {
    method = req.method, path = req.path, query = req.query, headers = req.headers,
    body = req.body, region = REGION, service = service,
    access_key = ACCESS_KEY, secret_key = SECRET_KEY, time = TIME,
  }
  for k, v in pairs(extra or {}) do args[k] = v end
  return args
end

local function load_case(name)
  for _, c in ipairs(find_cases()) do
    if c.name == name then
      return c, parse_req(read_file(c.base .. ".req"))
    end
  end
  error("no such case " .. name)
end

local function copy_headers(headers)
  local out = {}
  for i, h in ipairs(headers) do out[i] = { h[1], h[2] } end
  return out
end

describe("cwlogs.core.sign on the SigV4 test suite", function()
  local cases = find_cases()

  it("finds 36 cases (34 AWS + 2 logs-*) outside ambiguous/", function()
    assert.are.equal(36, #cases)
    local logs = 0
    for _, c in ipairs(cases) do
      assert.is_nil(c.dir:find("/ambiguous/", 1, true))
      if c.name:match("^logs%-") then logs = logs + 1 end
    end
    assert.are.equal(2, logs)
  end)

  for _, c in ipairs(cases) do
    it(c.name, function()
      local creq = read_file(c.base .. ".creq")
      local req = parse_req(read_file(c.base .. ".req"))
      local token = creq:match("\nx%-amz%-security%-token:([^\n]*)")
      local service = c.name:match("^logs%-") and "logs" or "service"
      local res, err = core.sign(sign_args(req, service, { session_token = token }))
      assert.is_nil(err)
      assert.are.equal(creq, res.canonical_request)
      assert.are.equal(read_file(c.base .. ".sts"), res.string_to_sign)
      assert.are.equal(read_file(c.base .. ".authz"), res.authorization)
      -- The parts returned separately agree with the Authorization value.
      assert.are.equal(
        "AWS4-HMAC-SHA256 Credential=" .. ACCESS_KEY .. "/" .. res.credential_scope ..
        ", SignedHeaders=" .. res.signed_headers .. ", Signature=" .. res.signature,
        res.authorization)
      local added = res.headers[#res.headers]
      assert.are.same({ "Authorization", res.authorization }, added)
    end)
  end
end)

describe("cwlogs.core.sign", function()
  local logs_case, logs_req = load_case("logs-filter-log-events")
  local logs_authz = read_file(logs_case.base .. ".authz")
  local vanilla_case, vanilla_req = load_case("get-vanilla")
  local vanilla_authz = read_file(vanilla_case.base .. ".authz")

  local function without(headers, lname)
    local out = {}
    for _, h in ipairs(headers) do
      if h[1]:lower() ~= lname then out[#out + 1] = { h[1], h[2] } end
    end
    return out
  end

  it("gives the same signature for map-form headers as for the list form", function()
    local map = {}
    for _, h in ipairs(logs_req.headers) do map[h[1]] = h[2] end
    local from_list = assert(core.sign(sign_args(logs_req, "logs")))
    local from_map = assert(core.sign(sign_args(logs_req, "logs", { headers = map })))
    assert.are.equal(logs_authz, from_map.authorization)
    assert.are.equal(from_list.canonical_request, from_map.canonical_request)
  end)

  it("signs a logs request the same whatever order its headers come in", function()
    local h = logs_req.headers
    local orders = { { 4, 3, 2, 1 }, { 2, 4, 1, 3 }, { 3, 1, 4, 2 } }
    for _, order in ipairs(orders) do
      local shuffled = {}
      for i, k in ipairs(order) do shuffled[i] = h[k] end
      local res = assert(core.sign(sign_args(logs_req, "logs", { headers = shuffled })))
      assert.are.equal(logs_authz, res.authorization)
    end
  end)

  it("adds and signs X-Amz-Date from the time argument when the header is absent", function()
    local req = { method = "GET", path = "/", headers = without(vanilla_req.headers, "x-amz-date") }
    local res = assert(core.sign(sign_args(req, "service")))
    assert.are.equal(vanilla_authz, res.authorization)
    assert.are.same({ { "X-Amz-Date", TIME }, { "Authorization", vanilla_authz } }, res.headers)
  end)

  it("uses an X-Amz-Date header as is, over the time argument", function()
    local res = assert(core.sign(sign_args(vanilla_req, "service", { time = "20200101T000000Z" })))
    assert.are.equal(vanilla_authz, res.authorization)
    assert.are.equal(1, #res.headers)
  end)

  it("defaults the time to now (UTC) and adds the X-Amz-Date header", function()
    local before = os.date("!%Y%m%d")
    local req = { method = "GET", path = "/", headers = without(vanilla_req.headers, "x-amz-date") }
    local args = sign_args(req, "service")
    args.time = nil
    local res = assert(core.sign(args))
    local after = os.date("!%Y%m%d")
    local name, date = res.headers[1][1], res.headers[1][2]
    assert.are.equal("X-Amz-Date", name)
    assert.truthy(date:match("^%d%d%d%d%d%d%d%dT%d%d%d%d%d%dZ$"))
    assert.truthy(date:sub(1, 8) == before or date:sub(1, 8) == after)
    assert.are.equal(date, res.amz_date)
    assert.truthy(res.canonical_request:find("\nx-amz-date:" .. date .. "\n", 1, true))
    assert.are.equal("host;x-amz-date", res.signed_headers)
    assert.are.equal(date:sub(1, 8) .. "/us-east-1/service/aws4_request", res.credential_scope)
  end)

  it("adds and signs X-Amz-Security-Token when a session token is given", function()
    local c = load_case("get-vanilla-with-session-token")
    local token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"
    local res = assert(core.sign(sign_args(vanilla_req, "service", { session_token = token })))
    assert.are.equal("host;x-amz-date;x-amz-security-token", res.signed_headers)
    assert.are.equal(read_file(c.base .. ".authz"), res.authorization)
    assert.are.same({ { "X-Amz-Security-Token", token }, { "Authorization", res.authorization } },
      res.headers)
  end)

  it("does not add a second token header when the request has one", function()
    local c, req = load_case("post-sts-header-before")
    local token = req.headers[3][2]
    assert.are.equal("X-Amz-Security-Token", req.headers[3][1])
    local res = assert(core.sign(sign_args(req, "service", { session_token = token })))
    assert.are.equal(read_file(c.base .. ".authz"), res.authorization)
    assert.are.same({ { "Authorization", res.authorization } }, res.headers)
  end)

  it("treats an empty session token as none", function()
    local res = assert(core.sign(sign_args(vanilla_req, "service", { session_token = "" })))
    assert.are.equal(vanilla_authz, res.authorization)
  end)

  it("does not sign User-Agent, Expect, X-Amzn-Trace-Id or Authorization", function()
    local headers = copy_headers(vanilla_req.headers)
    table.insert(headers, 1, { "User-Agent", "cwlogs/0.1.0 lua/5.4" })
    headers[#headers + 1] = { "Expect", "100-continue" }
    headers[#headers + 1] = { "X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793" }
    headers[#headers + 1] = { "Authorization", "AWS4-HMAC-SHA256 stale" }
    local res = assert(core.sign(sign_args(vanilla_req, "service", { headers = headers })))
    assert.are.equal(vanilla_authz, res.authorization)
    assert.are.equal("host;x-amz-date", res.signed_headers)
    assert.is_nil(res.canonical_request:find("user-agent", 1, true))
  end)

  it("does sign other headers given as numbers", function()
    local headers = copy_headers(logs_req.headers)
    headers[#headers + 1] = { "Content-Length", #logs_req.body }
    local res = assert(core.sign(sign_args(logs_req, "logs", { headers = headers })))
    assert.are.equal("content-length;content-type;host;x-amz-date;x-amz-target", res.signed_headers)
    assert.truthy(res.canonical_request:find("\ncontent-length:" .. #logs_req.body .. "\n", 1, true))
    assert.are_not.equal(logs_authz, res.authorization)
  end)

  it("encodes an already percent-encoded path again, as non-S3 services do", function()
    local res = assert(core.sign(sign_args(vanilla_req, "service", { path = "/a%20b/./c//" })))
    assert.are.equal("/a%2520b/c/", res.canonical_request:match("^GET\n([^\n]*)\n"))
  end)

  it("decodes and re-encodes the query, and splits a query left on the path", function()
    local res = assert(core.sign(sign_args(vanilla_req, "service",
      { path = "/?b=%7e+1&a=x%2fy&c&b=%41" })))
    assert.are.equal("a=x%2Fy&b=A&b=~%2B1&c=", res.canonical_request:match("^GET\n/\n([^\n]*)\n"))
  end)

  it("uses X-Amz-Content-SHA256 as the payload hash when given", function()
    local headers = copy_headers(vanilla_req.headers)
    headers[#headers + 1] = { "X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD" }
    local res = assert(core.sign(sign_args(vanilla_req, "service", { headers = headers })))
    assert.are.equal("UNSIGNED-PAYLOAD", res.canonical_request:match("\n([^\n]*)$"))
  end)

  describe("bad arguments", function()
    local function good()
      return sign_args({ method = "POST", path = "/", headers = copy_headers(logs_req.headers),
        body = logs_req.body }, "logs")
    end

    local function assert_rejected(args, name)
      local res, err = core.sign(args)
      assert.is_nil(res)
      assert.are.equal("string", type(err))
      assert.truthy(err:find(name, 1, true), err)
      assert.is_nil(err:find(SECRET_KEY, 1, true))
    end

    it("accepts the good arguments these cases start from", function()
      assert.are.equal(logs_authz, assert(core.sign(good())).authorization)
    end)

    for _, name in ipairs({ "method", "region", "service", "access_key", "secret_key" }) do
      it("returns nil and a message naming a missing " .. name, function()
        local args = good()
        args[name] = nil
        assert_rejected(args, name)
      end)

      it("returns nil and a message naming an empty or non-string " .. name, function()
        local args = good()
        args[name] = ""
        assert_rejected(args, name)
        args[name] = 42
        assert_rejected(args, name)
      end)
    end

    it("rejects a time that is not YYYYMMDDTHHMMSSZ or not a real date", function()
      for _, t in ipairs({ "2015-08-30T12:36:00Z", "20150830T123600", "20150230T123600Z",
                           "20150830T243600Z", "" }) do
        local args = good()
        args.headers = without(args.headers, "x-amz-date")
        args.time = t
        assert_rejected(args, "time")
      end
    end)

    it("rejects a bad X-Amz-Date header", function()
      local args = good()
      args.headers = without(args.headers, "x-amz-date")
      args.headers[#args.headers + 1] = { "X-Amz-Date", "yesterday" }
      assert_rejected(args, "X-Amz-Date")
    end)

    it("rejects malformed headers", function()
      local bad = {
        "not a table", { "Host" }, { { "Host" } }, { { 1, "x" } }, { { "", "x" } },
        { { "Bad:Name", "x" } }, { Host = {} }, { [2.5] = "x" },
      }
      for _, headers in ipairs(bad) do
        local args = good()
        args.headers = headers
        assert_rejected(args, "headers")
      end
    end)

    it("rejects a scope part that would break the credential", function()
      local args = good()
      args.region = "us-east-1/x"
      assert_rejected(args, "region")
    end)

    it("rejects a call without an argument table", function()
      local res, err = core.sign("POST")
      assert.is_nil(res)
      assert.truthy(err:find("table", 1, true))
    end)

    it("never puts the secret key in a message", function()
      local args = good()
      args.secret_key = SECRET_KEY
      args.time = SECRET_KEY
      args.headers = without(args.headers, "x-amz-date")
      assert_rejected(args, "time")
    end)
  end)
end)
