-- Specs for cwlogs.config (with cwlogs.ini and cwlogs.sts): configuration as the AWS CLI
-- reads it. Files come from spec/fixtures/config/ or are written to a temp dir; the
-- environment is injected through getenv, so the real one never matters.
local config = require("cwlogs.config")
local ini = require("cwlogs.ini")
local sts = require("cwlogs.sts")
local errors = require("cwlogs.errors")

local function abs_dir()
  local src = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "spec"
  if src:sub(1, 1) ~= "/" then
    local pwd = os.getenv("PWD") or io.popen("pwd"):read("l")
    src = pwd .. "/" .. src
  end
  return src
end

local FIX = abs_dir() .. "/fixtures/config"
local SCRIPT = FIX .. "/credential_process.sh"
local T2030 = 1893456000000 -- 2030-01-01T00:00:00Z in epoch ms

local function env_with(vars)
  local t = { AWS_CONFIG_FILE = FIX .. "/config", AWS_SHARED_CREDENTIALS_FILE = FIX .. "/credentials" }
  for k, v in pairs(vars or {}) do
    if v == false then t[k] = nil else t[k] = v end
  end
  return function(name) return t[name] end
end

-- resolve with the fixture files and an injected environment.
local function resolve(vars, opts)
  opts = opts or {}
  opts.getenv = env_with(vars)
  opts.home = opts.home or "/nonexistent-home"
  return config.resolve(opts)
end

local function get(vars, opts)
  local cfg = assert(resolve(vars, opts))
  return assert(cfg.credentials:get())
end

local tmp_files = {}
local function write_tmp(text)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  tmp_files[#tmp_files + 1] = path
  return path
end

local function count_lines(path)
  local f = io.open(path, "rb")
  if not f then return 0 end
  local n = 0
  for _ in f:lines() do n = n + 1 end
  f:close()
  return n
end

local function header(headers, name)
  for _, h in ipairs(headers) do
    if h[1]:lower() == name:lower() then return h[2] end
  end
  return nil
end

local function sts_xml(n)
  return ([[<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/reader/s</Arn></AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAFAKE%d</AccessKeyId>
      <SecretAccessKey>LEAKCHECK-sts-secret-%d</SecretAccessKey>
      <SessionToken>LEAKCHECK-token&amp;%d</SessionToken>
      <Expiration>2030-01-01T00:00:00.000Z</Expiration>
    </Credentials>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>req-%d</RequestId></ResponseMetadata>
</AssumeRoleResponse>]]):format(n, n, n, n)
end

-- A fake HTTP function that records the requests and answers STS successes.
local function fake_sts()
  local fake = { requests = {} }
  fake.http = function(req)
    fake.requests[#fake.requests + 1] = req
    return { status = 200, headers = {}, body = sts_xml(#fake.requests) }
  end
  return fake
end

local function has_core_sign()
  local ok, core = pcall(require, "cwlogs.core")
  return ok and type(core) == "table" and type(core.sign) == "function"
end

teardown(function()
  for _, p in ipairs(tmp_files) do os.remove(p) end
end)

describe("cwlogs.ini", function()
  it("reads sections, lower-cases keys, trims, keeps values with inline '#'", function()
    local s = assert(ini.parse(table.concat({
      "# comment",
      "; another",
      "[Default]",
      "  Region =  eu-west-1  ",
      "output: json",
      "note = a # not a comment",
      "",
      "[profile x]",
      "empty =",
    }, "\n")))
    assert.same({ region = "eu-west-1", output = "json", note = "a # not a comment" }, s.Default)
    assert.same({ empty = "" }, s["profile x"])
  end)

  it("parses nested sub-sections and keeps their key case", function()
    local s = assert(ini.parse("[services a]\ncloudwatch_logs =\n  endpoint_url = http://x:1\n"
      .. "  Other_Key = v\nsts =\n    endpoint_url = http://y\nregion = r\n"))
    assert.same({
      cloudwatch_logs = { endpoint_url = "http://x:1", Other_Key = "v" },
      sts = { endpoint_url = "http://y" },
      region = "r",
    }, s["services a"])
  end)

  it("joins indented continuation lines and applies [DEFAULT]", function()
    local s = assert(ini.parse("[DEFAULT]\nregion = d\n[a]\nk = one\n  two\n[b]\nregion = own\n"))
    assert.equal("one\ntwo", s.a.k)
    assert.equal("d", s.a.region)
    assert.equal("own", s.b.region)
    assert.is_nil(s.DEFAULT)
  end)

  it("rejects malformed lines as botocore does, with the line number", function()
    local s, err = ini.parse("[a]\nk = v\nthis line has no delimiter\n", "/p/config")
    assert.is_nil(s)
    assert.matches("/p/config, line 3", err, 1, true)
    s, err = ini.parse("k = v\n", "f")
    assert.is_nil(s)
    assert.matches("before any", err, 1, true)
    s, err = ini.parse("[a]\nk = 1\nK = 2\n", "f")
    assert.is_nil(s)
    assert.matches("repeated", err, 1, true)
    s, err = ini.parse("[a]\n[a]\n", "f")
    assert.is_nil(s)
    assert.matches("repeated", err, 1, true)
  end)

  it("treats an unreadable file as absent", function()
    local s, err = ini.read("/nonexistent/dir/config")
    assert.is_nil(s)
    assert.is_nil(err)
  end)

  it("splits section names like shlex", function()
    assert.same({ "profile", "my name" }, ini.split_words('profile  "my name"'))
    assert.same({ "profile", "a" }, ini.split_words("profile a"))
  end)
end)

describe("cwlogs.sts helpers", function()
  it("parses AWS ISO 8601 times to epoch ms", function()
    assert.equal(T2030, sts.parse_iso8601("2030-01-01T00:00:00Z"))
    assert.equal(T2030 + 123, sts.parse_iso8601("2030-01-01T00:00:00.123456Z"))
    assert.equal(T2030, sts.parse_iso8601("2030-01-01T02:00:00+02:00"))
    assert.equal(T2030, sts.parse_iso8601("2029-12-31T19:00:00-0500"))
    assert.equal(951782400000, sts.parse_iso8601("2000-02-29T00:00:00Z"))
    assert.is_nil(sts.parse_iso8601("2030-02-30T00:00:00Z"))
    assert.is_nil(sts.parse_iso8601("2030-01-01T00:00:00"))
    assert.is_nil(sts.parse_iso8601("soon"))
  end)

  it("form-encodes and decodes XML entities", function()
    assert.equal("arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fa%20b~-_.", sts.form_encode("arn:aws:iam::1:role/a b~-_."))
    assert.equal("<a&b>\"'é€", sts.xml_unescape("&lt;a&amp;b&gt;&quot;&apos;&#233;&#x20AC;"))
    assert.equal("x&y", sts.xml_leaf("<r><Code>x&amp;y</Code></r>", "Code"))
  end)
end)

describe("config.resolve credentials", function()
  it("takes keys from the environment, without a session token", function()
    local c = get({ AWS_ACCESS_KEY_ID = "AKIDENV", AWS_SECRET_ACCESS_KEY = "env-secret" })
    assert.equal("AKIDENV", c.access_key)
    assert.equal("env-secret", c.secret_key)
    assert.is_nil(c.session_token)
    assert.equal("env", c.source)
  end)

  it("takes the session token from AWS_SESSION_TOKEN or AWS_SECURITY_TOKEN", function()
    local c = get({ AWS_ACCESS_KEY_ID = "AKIDENV", AWS_SECRET_ACCESS_KEY = "s", AWS_SESSION_TOKEN = "tok" })
    assert.equal("tok", c.session_token)
    c = get({ AWS_ACCESS_KEY_ID = "AKIDENV", AWS_SECRET_ACCESS_KEY = "s", AWS_SECURITY_TOKEN = "old" })
    assert.equal("old", c.session_token)
  end)

  it("refuses half of the environment keys", function()
    local cfg, err = resolve({ AWS_ACCESS_KEY_ID = "AKIDENV" })
    assert.is_nil(cfg)
    assert.matches("AWS_SECRET_ACCESS_KEY", err.message, 1, true)
  end)

  it("skips environment keys when a profile is given explicitly", function()
    local c = get({ AWS_ACCESS_KEY_ID = "AKIDENV", AWS_SECRET_ACCESS_KEY = "s" }, { profile = "creds" })
    assert.equal("AKIDCREDS", c.access_key)
    assert.equal("profile:creds", c.source)
  end)

  it("does not skip environment keys for AWS_PROFILE, but uses it for other settings", function()
    local cfg = assert(resolve({ AWS_ACCESS_KEY_ID = "AKIDENV", AWS_SECRET_ACCESS_KEY = "s",
      AWS_PROFILE = "creds" }))
    assert.equal("AKIDENV", assert(cfg.credentials:get()).access_key)
    assert.equal("creds", cfg.profile)
    assert.equal("ca-central-1", cfg.region) -- region from the credentials-file profile
  end)

  it("selects the profile by AWS_PROFILE, then AWS_DEFAULT_PROFILE, then default", function()
    assert.equal("AKIDCREDS", get({ AWS_PROFILE = "creds", AWS_DEFAULT_PROFILE = "cfgkeys" }).access_key)
    assert.equal("AKIDCONFIG", get({ AWS_DEFAULT_PROFILE = "cfgkeys" }).access_key)
    local cfg = assert(resolve({}))
    assert.equal("default", cfg.profile)
    assert.equal("AKIDDEFAULT", assert(cfg.credentials:get()).access_key)
  end)

  it("reads a credentials-file profile with its session token", function()
    local c = get({}, { profile = "creds" })
    assert.same({ "AKIDCREDS", "creds-secret", "creds-token" },
      { c.access_key, c.secret_key, c.session_token })
  end)

  it("reads keys from a config-file [profile x] section", function()
    local cfg = assert(resolve({}, { profile = "cfgkeys" }))
    assert.equal("AKIDCONFIG", assert(cfg.credentials:get()).access_key)
    assert.equal("ap-southeast-2", cfg.region)
    assert.equal("AKIDQUOTED", get({}, { profile = "quoted name" }).access_key)
  end)

  it("prefers the credentials file over the config file", function()
    local cfg = assert(resolve({}, { profile = "both" }))
    local c = assert(cfg.credentials:get())
    assert.equal("AKIDFROMCREDS", c.access_key)
    assert.equal("secret-from-creds", c.secret_key)
    assert.equal("us-west-2", cfg.region)
  end)

  it("puts explicit credentials before everything else", function()
    local c = get({ AWS_ACCESS_KEY_ID = "AKIDENV", AWS_SECRET_ACCESS_KEY = "s" },
      { credentials = { access_key = "AKIDX", secret_key = "x-secret", session_token = "x-token" } })
    assert.same({ "AKIDX", "x-secret", "x-token", "explicit" },
      { c.access_key, c.secret_key, c.session_token, c.source })
    local cfg, err = resolve({}, { credentials = { access_key = "AKIDX" } })
    assert.is_nil(cfg)
    assert.equal("ConfigError", err.code)
  end)

  it("names the profile and both files when a named profile does not exist", function()
    local cfg, err = resolve({ AWS_PROFILE = "ghost" })
    assert.is_nil(cfg)
    assert.equal("ConfigError", err.code)
    assert.matches("'ghost'", err.message, 1, true)
    assert.matches(FIX .. "/config", err.message, 1, true)
    assert.matches(FIX .. "/credentials", err.message, 1, true)
  end)

  it("says where it looked when no credentials are found", function()
    local cfg, err = resolve({ AWS_CONFIG_FILE = "/nonexistent/cfg",
      AWS_SHARED_CREDENTIALS_FILE = "/nonexistent/creds", AWS_REGION = "us-east-1" })
    assert.is_nil(cfg)
    assert.equal("NoCredentials", err.code)
    local msg = tostring(err)
    assert.is_nil(msg:find("\n"))
    for _, part in ipairs({ "AWS_ACCESS_KEY_ID", "/nonexistent/cfg", "/nonexistent/creds", "'default'",
      "SSO", "IMDS", "container", "not supported" }) do
      assert.matches(part, msg, 1, true)
    end
  end)

  it("mentions SSO when the profile uses it", function()
    local cfg, err = resolve({}, { profile = "sso" })
    assert.is_nil(cfg)
    assert.equal("NoCredentials", err.code)
    assert.matches("profile uses SSO", err.message, 1, true)
    assert.matches("'sso'", err.message, 1, true)
  end)

  it("expands ~ in the default file paths from home", function()
    local home = os.tmpname()
    os.remove(home)
    assert(os.execute("mkdir -p " .. home .. "/.aws"))
    local f = assert(io.open(home .. "/.aws/credentials", "wb"))
    f:write("[default]\naws_access_key_id = AKIDHOME\naws_secret_access_key = home-secret\n")
    f:close()
    local cfg = assert(config.resolve{ getenv = function() return nil end, home = home,
      region = "us-east-1" })
    assert.equal(home .. "/.aws/credentials", cfg.credentials_file)
    assert.equal("AKIDHOME", assert(cfg.credentials:get()).access_key)
    os.execute("rm -rf " .. home)
  end)

  it("reports a malformed config file with its path and line", function()
    local path = write_tmp("[default]\nregion = x\nnot a setting\n")
    local cfg, err = resolve({ AWS_CONFIG_FILE = path })
    assert.is_nil(cfg)
    assert.equal("ConfigError", err.code)
    assert.matches(path .. ", line 3", err.message, 1, true)
  end)

  it("hides secrets in tostring of credentials, provider and config", function()
    local cfg = assert(resolve({ AWS_ACCESS_KEY_ID = "AKIDENV", AWS_SECRET_ACCESS_KEY = "LEAKCHECK-s",
      AWS_SESSION_TOKEN = "LEAKCHECK-t" }))
    local c = assert(cfg.credentials:get())
    for _, s in ipairs({ tostring(c), tostring(cfg.credentials), tostring(cfg) }) do
      assert.is_nil(s:find("LEAKCHECK", 1, true))
    end
    assert.matches("AKIDENV", tostring(c), 1, true)
    assert.matches("hidden", tostring(c), 1, true)
  end)
end)

describe("credential_process", function()
  local function process_config(mode, counter, where)
    local text = "[profile proc]\nregion = us-east-1\ncredential_process = sh " .. SCRIPT .. " " .. mode
      .. (counter and (" " .. counter) or "") .. "\n"
    if where == "credentials" then
      return { AWS_CONFIG_FILE = write_tmp("[profile proc]\nregion = us-east-1\n"),
        AWS_SHARED_CREDENTIALS_FILE = write_tmp((text:gsub("%[profile proc%]", "[proc]"))) }
    end
    return { AWS_CONFIG_FILE = write_tmp(text), AWS_SHARED_CREDENTIALS_FILE = "/nonexistent/creds" }
  end

  it("runs lazily, caches, and refreshes within 5 minutes of Expiration", function()
    local counter = os.tmpname()
    os.remove(counter)
    tmp_files[#tmp_files + 1] = counter
    local clock = T2030 - 3600 * 1000
    local cfg = assert(resolve(process_config("ok", counter),
      { profile = "proc", now = function() return clock end }))
    assert.equal(0, count_lines(counter)) -- resolve() did not run it
    local c = assert(cfg.credentials:get())
    assert.same({ "AKIDPROCESS", "LEAKCHECK-secret", "LEAKCHECK-token", T2030, "credential_process" },
      { c.access_key, c.secret_key, c.session_token, c.expiration, c.source })
    assert.equal(1, count_lines(counter))
    clock = T2030 - 6 * 60 * 1000
    assert.equal(c, cfg.credentials:get())
    assert.equal(1, count_lines(counter))
    clock = T2030 - 4 * 60 * 1000
    assert.truthy(cfg.credentials:get())
    assert.equal(2, count_lines(counter))
    cfg.credentials:invalidate()
    clock = T2030 - 3600 * 1000
    assert.truthy(cfg.credentials:get())
    assert.equal(3, count_lines(counter))
  end)

  it("never refreshes credentials without an Expiration", function()
    local counter = os.tmpname()
    os.remove(counter)
    tmp_files[#tmp_files + 1] = counter
    local clock = 0
    local cfg = assert(resolve(process_config("noexpiry", counter), { profile = "proc",
      now = function() return clock end }))
    assert.is_nil(assert(cfg.credentials:get()).expiration)
    clock = T2030 * 2
    assert.truthy(cfg.credentials:get())
    assert.equal(1, count_lines(counter))
  end)

  it("is read from the credentials file too", function()
    local c = get(process_config("noexpiry", nil, "credentials"), { profile = "proc" })
    assert.equal("AKIDPROCESS", c.access_key)
  end)

  it("comes after credentials-file keys and before config-file keys", function()
    local cfgfile = write_tmp("[profile p]\nregion = us-east-1\naws_access_key_id = AKIDCONFIGFILE\n"
      .. "aws_secret_access_key = s\ncredential_process = sh " .. SCRIPT .. " noexpiry\n")
    assert.equal("AKIDPROCESS", get({ AWS_CONFIG_FILE = cfgfile, AWS_SHARED_CREDENTIALS_FILE = "/none" },
      { profile = "p" }).access_key)
    local credfile = write_tmp("[p]\naws_access_key_id = AKIDCREDFILE\naws_secret_access_key = s\n")
    assert.equal("AKIDCREDFILE", get({ AWS_CONFIG_FILE = cfgfile, AWS_SHARED_CREDENTIALS_FILE = credfile },
      { profile = "p" }).access_key)
  end)

  for _, case in ipairs({
    { "fail", "exit status 3" },
    { "badjson", "JSON" },
    { "version2", "Version 2" },
    { "badexpiry", "Expiration" },
  }) do
    it("fails with CredentialProcessError naming the profile, not the output (" .. case[1] .. ")", function()
      local cfg = assert(resolve(process_config(case[1]), { profile = "proc" }))
      local c, err = cfg.credentials:get()
      assert.is_nil(c)
      assert.equal("CredentialProcessError", err.code)
      assert.matches("'proc'", err.message, 1, true)
      assert.matches(case[2], err.message, 1, true)
      assert.is_nil(tostring(err):find("LEAKCHECK", 1, true))
    end)
  end
end)

describe("assume role (fake STS)", function()
  before_each(function()
    if not has_core_sign() then
      error("cwlogs.core.sign is not available: build the C core (make build BUILD_DIR=build-config)")
    end
  end)

  it("builds a signed, form-encoded AssumeRole request, lazily, and parses the answer", function()
    local fake = fake_sts()
    local cfg = assert(resolve({}, { profile = "role", http = fake.http,
      now = function() return T2030 - 7200000 end }))
    assert.equal(0, #fake.requests)
    local c = assert(cfg.credentials:get())
    assert.equal(1, #fake.requests)
    local req = fake.requests[1]
    assert.equal("POST", req.method)
    assert.equal("https://sts.us-east-1.amazonaws.com/", req.url)
    assert.equal("sts.us-east-1.amazonaws.com", header(req.headers, "Host"))
    assert.equal("application/x-www-form-urlencoded; charset=utf-8", header(req.headers, "Content-Type"))
    local auth = assert(header(req.headers, "Authorization"))
    assert.matches("^AWS4%-HMAC%-SHA256 Credential=AKIDBASE/%d+/us%-east%-1/sts/aws4_request", auth)
    assert.truthy(header(req.headers, "X-Amz-Date"))
    assert.is_nil(header(req.headers, "X-Amz-Security-Token"))
    local params = {}
    for k, v in req.body:gmatch("([^&=]+)=([^&]*)") do params[k] = v end
    assert.same({
      Action = "AssumeRole", Version = "2011-06-15",
      RoleArn = "arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Freader",
      RoleSessionName = "my-session", ExternalId = "ext-42", DurationSeconds = "1800",
    }, params)
    assert.same({ "ASIAFAKE1", "LEAKCHECK-sts-secret-1", "LEAKCHECK-token&1", T2030, "assume_role" },
      { c.access_key, c.secret_key, c.session_token, c.expiration, c.source })
    assert.equal(c, cfg.credentials:get())
    assert.equal(1, #fake.requests)
  end)

  it("refreshes near expiration and defaults the session name to cwlogs-<epoch seconds>", function()
    local fake = fake_sts()
    local clock = T2030 - 3600 * 1000
    local profile = write_tmp("[profile r]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = k\n"
      .. "[profile k]\naws_access_key_id = AKIDK\naws_secret_access_key = k\n")
    local cfg = assert(resolve({ AWS_CONFIG_FILE = profile, AWS_REGION = "eu-west-3" },
      { profile = "r", http = fake.http, now = function() return clock end }))
    assert.equal("ASIAFAKE1", assert(cfg.credentials:get()).access_key)
    assert.matches("RoleSessionName=cwlogs%-" .. (clock // 1000) .. "&", fake.requests[1].body .. "&")
    assert.equal("https://sts.eu-west-3.amazonaws.com/", fake.requests[1].url)
    clock = T2030 - 60 * 1000
    assert.equal("ASIAFAKE2", assert(cfg.credentials:get()).access_key)
    assert.equal(2, #fake.requests)
  end)

  it("chains roles, signing the second call with the first call's session", function()
    local fake = fake_sts()
    local c = get({}, { profile = "chained", http = fake.http })
    assert.equal(2, #fake.requests)
    assert.matches("Credential=AKIDBASE/", header(fake.requests[1].headers, "Authorization"), 1, true)
    assert.matches("role%%2Freader", fake.requests[1].body)
    assert.matches("Credential=ASIAFAKE1/", header(fake.requests[2].headers, "Authorization"), 1, true)
    assert.equal("LEAKCHECK-token&1", header(fake.requests[2].headers, "X-Amz-Security-Token"))
    assert.matches("role%%2Fsecond", fake.requests[2].body)
    assert.equal("ASIAFAKE2", c.access_key)
  end)

  it("lets a profile be its own source when it has keys", function()
    local fake = fake_sts()
    assert.equal("ASIAFAKE1", get({}, { profile = "self", http = fake.http }).access_key)
    assert.matches("Credential=AKIDSELF/", header(fake.requests[1].headers, "Authorization"), 1, true)
  end)

  it("detects source_profile cycles and dangling source profiles", function()
    local cfg, err = resolve({ AWS_REGION = "us-east-1" }, { profile = "loop-a", http = fake_sts().http })
    assert.is_nil(cfg)
    assert.equal("ConfigError", err.code)
    assert.matches("loop-a -> loop-b -> loop-a", err.message, 1, true)
    cfg, err = resolve({ AWS_REGION = "us-east-1" }, { profile = "dangling" })
    assert.is_nil(cfg)
    assert.matches("'nowhere'", err.message, 1, true)
  end)

  it("takes source credentials from the environment with credential_source = Environment", function()
    local fake = fake_sts()
    local c = get({ AWS_ACCESS_KEY_ID = "AKIDENVSRC", AWS_SECRET_ACCESS_KEY = "e" },
      { profile = "envsource", http = fake.http })
    assert.equal("ASIAFAKE1", c.access_key)
    assert.matches("Credential=AKIDENVSRC/", header(fake.requests[1].headers, "Authorization"), 1, true)
  end)

  it("sends STS to AWS_ENDPOINT_URL_STS, then AWS_ENDPOINT_URL, then [services] sts", function()
    local fake = fake_sts()
    get({ AWS_ENDPOINT_URL_STS = "http://127.0.0.1:9/sts-only", AWS_ENDPOINT_URL = "http://127.0.0.1:8" },
      { profile = "role", http = fake.http })
    assert.equal("http://127.0.0.1:9/sts-only", fake.requests[1].url)
    assert.equal("127.0.0.1:9", header(fake.requests[1].headers, "Host"))
    get({ AWS_ENDPOINT_URL = "http://127.0.0.1:8/" }, { profile = "role", http = fake.http })
    assert.equal("http://127.0.0.1:8/", fake.requests[2].url)
    local cfgfile = write_tmp("[profile r]\nregion = us-east-1\nservices = s\n"
      .. "role_arn = arn:aws:iam::1:role/r\n"
      .. "source_profile = k\n[profile k]\naws_access_key_id = A\naws_secret_access_key = k\n"
      .. "[services s]\nsts =\n  endpoint_url = http://127.0.0.1:7\n")
    get({ AWS_CONFIG_FILE = cfgfile }, { profile = "r", http = fake.http })
    assert.equal("http://127.0.0.1:7/", fake.requests[3].url)
  end)

  it("turns an STS error document into an error object without secrets", function()
    local cfg = assert(resolve({}, { profile = "role", http = function()
      return { status = 403, headers = {}, body = [[<ErrorResponse xmlns="https://sts.amazonaws.com/">
  <Error><Type>Sender</Type><Code>AccessDenied</Code>
  <Message>User is not authorized to perform: sts:AssumeRole on &quot;reader&quot;</Message></Error>
  <RequestId>rid-9</RequestId></ErrorResponse>]] }
    end }))
    local c, err = cfg.credentials:get()
    assert.is_nil(c)
    assert.is_true(errors.is(err))
    assert.same({ "AccessDenied", 403, "rid-9" }, { err.code, err.status, err.request_id })
    assert.matches('sts:AssumeRole on "reader"', err.message, 1, true)
    assert.matches("role/reader", err.message, 1, true)
    assert.is_nil(tostring(err):find("base-secret", 1, true))
  end)

  it("passes network errors through and rejects answers without credentials", function()
    local cfg = assert(resolve({}, { profile = "role", http = function()
      return nil, errors.make("NetworkError", "connection refused")
    end }))
    local c, err = cfg.credentials:get()
    assert.is_nil(c)
    assert.equal("NetworkError", err.code)
    assert.matches("connection refused", err.message, 1, true)
    cfg = assert(resolve({}, { profile = "role", http = function()
      return { status = 200, headers = {}, body = "<AssumeRoleResponse/>" }
    end }))
    c, err = cfg.credentials:get()
    assert.is_nil(c)
    assert.equal("ParseError", err.code)
  end)
end)

describe("config.resolve region", function()
  it("takes opts, then AWS_REGION, then AWS_DEFAULT_REGION, then the profile", function()
    local env = { AWS_REGION = "us-west-1", AWS_DEFAULT_REGION = "us-west-2" }
    assert.equal("ap-south-1", assert(resolve(env, { region = "ap-south-1" })).region)
    assert.equal("us-west-1", assert(resolve(env)).region)
    env.AWS_REGION = nil
    assert.equal("us-west-2", assert(resolve(env)).region)
    assert.equal("eu-west-1", assert(resolve({})).region)
  end)

  it("fails with NoRegion saying where it looked and how to set it", function()
    local cfg, err = resolve({}, { profile = "noregion" })
    assert.is_nil(cfg)
    assert.equal("NoRegion", err.code)
    for _, part in ipairs({ "--region", "AWS_REGION", "AWS_DEFAULT_REGION", "'noregion'",
      FIX .. "/config" }) do
      assert.matches(part, err.message, 1, true)
    end
  end)

  it("rejects a region that cannot be a host name label", function()
    local cfg, err = resolve({}, { region = "us-east-1/evil" })
    assert.is_nil(cfg)
    assert.equal("ConfigError", err.code)
  end)
end)

describe("config.resolve endpoint", function()
  it("walks all five levels in order", function()
    local env = {
      AWS_ENDPOINT_URL_CLOUDWATCH_LOGS = "http://svc-env:1",
      AWS_ENDPOINT_URL = "http://global-env:2",
    }
    assert.equal("http://opt:9",
      assert(resolve(env, { profile = "svc", endpoint = "http://opt:9/" })).endpoint)
    assert.equal("http://svc-env:1", assert(resolve(env, { profile = "svc" })).endpoint)
    env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS = nil
    assert.equal("http://global-env:2", assert(resolve(env, { profile = "svc" })).endpoint)
    assert.equal("http://services-endpoint:4566", assert(resolve({}, { profile = "svc" })).endpoint)
    local cfgfile = write_tmp("[default]\nregion = us-east-1\nendpoint_url = http://profile-only:5\n")
    assert.equal("http://profile-only:5", assert(resolve({ AWS_CONFIG_FILE = cfgfile })).endpoint)
    assert.equal("https://logs.eu-west-1.amazonaws.com", assert(resolve({})).endpoint)
  end)

  it("uses the services section for STS as well", function()
    assert.equal("http://sts-endpoint:4567", assert(resolve({}, { profile = "svc" })).sts_endpoint)
  end)

  it("ignores configured endpoints when told to, but not the endpoint option", function()
    local env = { AWS_ENDPOINT_URL = "http://global-env:2", AWS_IGNORE_CONFIGURED_ENDPOINT_URLS = "true" }
    assert.equal("https://logs.us-east-2.amazonaws.com", assert(resolve(env, { profile = "svc" })).endpoint)
    assert.equal("http://opt:9",
      assert(resolve(env, { profile = "svc", endpoint = "http://opt:9" })).endpoint)
    assert.equal("https://logs.us-east-2.amazonaws.com",
      assert(resolve({ AWS_ENDPOINT_URL = "http://global-env:2" }, { profile = "ignoring" })).endpoint)
    -- The environment variable wins over the profile setting.
    assert.equal("http://global-env:2", assert(resolve({ AWS_ENDPOINT_URL = "http://global-env:2",
      AWS_IGNORE_CONFIGURED_ENDPOINT_URLS = "false" }, { profile = "ignoring" })).endpoint)
  end)

  it("builds partition, FIPS and dual-stack hosts", function()
    local function ep(region, env, profile)
      return assert(resolve(env or {}, { region = region, profile = profile })).endpoint
    end
    assert.equal("https://logs.cn-north-1.amazonaws.com.cn", ep("cn-north-1"))
    assert.equal("https://logs-fips.us-east-1.amazonaws.com", ep("us-east-1", nil, "fips"))
    local fips = { AWS_USE_FIPS_ENDPOINT = "true" }
    assert.equal("https://logs-fips.us-east-2.amazonaws.com", ep("us-east-2", fips))
    assert.equal("https://logs.us-gov-west-1.amazonaws.com", ep("us-gov-west-1", fips))
    assert.equal("https://logs-fips.cn-north-1.amazonaws.com.cn", ep("cn-north-1", fips))
    assert.equal("https://logs.eu-west-1.api.aws", ep("eu-west-1", { AWS_USE_DUALSTACK_ENDPOINT = "true" }))
    assert.equal("https://logs-fips.us-east-1.api.aws",
      ep("us-east-1", { AWS_USE_DUALSTACK_ENDPOINT = "true", AWS_USE_FIPS_ENDPOINT = "true" }))
    assert.equal("https://logs.us-iso-east-1.c2s.ic.gov", ep("us-iso-east-1"))
    assert.equal("https://sts.cn-north-1.amazonaws.com.cn",
      assert(resolve({}, { region = "cn-north-1" })).sts_endpoint)
    local cfg, err = resolve({ AWS_USE_DUALSTACK_ENDPOINT = "true" }, { region = "us-iso-east-1" })
    assert.is_nil(cfg)
    assert.matches("dual%-stack", err.message)
  end)

  it("rejects an endpoint that is not an http(s) URL with a host, naming it and its source", function()
    for _, case in ipairs({
      { { endpoint = "ftp://host" }, {}, "ftp://host", "endpoint option" },
      { { endpoint = "localhost:4566" }, {}, "localhost:4566", "endpoint option" },
      { {}, { AWS_ENDPOINT_URL = "http://" }, "http://", "AWS_ENDPOINT_URL" },
      { {}, { AWS_ENDPOINT_URL_CLOUDWATCH_LOGS = "https:///path" }, "https:///path",
        "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS" },
    }) do
      local cfg, err = resolve(case[2], case[1])
      assert.is_nil(cfg)
      assert.equal("ConfigError", err.code)
      assert.matches("'" .. case[3] .. "'", err.message, 1, true)
      assert.matches(case[4], err.message, 1, true)
    end
  end)
end)

describe("config.resolve retry and TLS settings", function()
  it("defaults to standard retries with no attempt count or CA bundle", function()
    local cfg = assert(resolve({}))
    assert.same({ "standard", nil, nil }, { cfg.retry_mode, cfg.max_attempts, cfg.ca_bundle })
  end)

  it("reads them from the profile", function()
    local cfg = assert(resolve({}, { profile = "settings" }))
    assert.same({ "adaptive", 7, "/etc/ssl/custom.pem" }, { cfg.retry_mode, cfg.max_attempts, cfg.ca_bundle })
    assert.equal(math.type(cfg.max_attempts), "integer")
  end)

  it("prefers the environment over the profile", function()
    local cfg = assert(resolve({ AWS_RETRY_MODE = "legacy", AWS_MAX_ATTEMPTS = "2",
      AWS_CA_BUNDLE = "/ca.pem" }, { profile = "settings" }))
    assert.same({ "legacy", 2, "/ca.pem" }, { cfg.retry_mode, cfg.max_attempts, cfg.ca_bundle })
  end)

  it("rejects bad values, naming them", function()
    local cfg, err = resolve({ AWS_MAX_ATTEMPTS = "many" })
    assert.is_nil(cfg)
    assert.matches("'many'", err.message, 1, true)
    cfg, err = resolve({ AWS_MAX_ATTEMPTS = "0" })
    assert.is_nil(cfg)
    assert.equal("ConfigError", err.code)
    cfg, err = resolve({ AWS_RETRY_MODE = "eager" })
    assert.is_nil(cfg)
    assert.matches("'eager'", err.message, 1, true)
  end)
end)

describe("assume role against moto's STS", function()
  local moto, srv
  setup(function()
    moto = require("support.moto")
    srv = moto.start()
  end)

  it("returns session credentials for role_arn + source_profile", function()
    local role = srv:admin("create_role", { name = "cwlogs-config-" .. os.time() })
    local cfgfile = write_tmp(table.concat({
      "[profile assumer]",
      "region = " .. srv.region,
      "role_arn = " .. role.arn,
      "source_profile = keys",
      "[profile keys]",
      "aws_access_key_id = " .. srv.access_key,
      "aws_secret_access_key = " .. srv.secret_key,
    }, "\n"))
    local cfg = assert(config.resolve{
      profile = "assumer", home = "/nonexistent-home",
      getenv = env_with({ AWS_CONFIG_FILE = cfgfile, AWS_SHARED_CREDENTIALS_FILE = "/none",
        AWS_ENDPOINT_URL = srv.endpoint }),
    })
    local c, err = cfg.credentials:get()
    assert.is_nil(err)
    assert.matches("^ASIA", c.access_key)
    assert.truthy(c.secret_key and #c.secret_key > 0)
    assert.truthy(c.session_token and #c.session_token > 0)
    assert.equal("integer", math.type(c.expiration))
    assert.is_true(c.expiration > os.time() * 1000)
    assert.equal("assume_role", c.source)
  end)

  it("reports moto's refusal when the source keys are wrong", function()
    local role = srv:admin("create_role", { name = "cwlogs-config-bad-" .. os.time() })
    local cfgfile = write_tmp(table.concat({
      "[profile assumer]", "region = " .. srv.region, "role_arn = " .. role.arn, "source_profile = keys",
      "[profile keys]", "aws_access_key_id = " .. srv.access_key, "aws_secret_access_key = LEAKCHECK-wrong",
    }, "\n"))
    local cfg = assert(config.resolve{
      profile = "assumer", home = "/nonexistent-home",
      getenv = env_with({ AWS_CONFIG_FILE = cfgfile, AWS_SHARED_CREDENTIALS_FILE = "/none",
        AWS_ENDPOINT_URL = srv.endpoint }),
    })
    local c, err = cfg.credentials:get()
    assert.is_nil(c)
    assert.equal(403, err.status)
    assert.equal("SignatureDoesNotMatch", err.code)
    assert.is_nil(tostring(err):find("LEAKCHECK", 1, true))
  end)
end)
