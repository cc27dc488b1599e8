-- client:groups / client:streams and signed calls, against moto with signature checking on.
local cwlogs = require("cwlogs")
local moto = require("support.moto")

local srv, client, known

-- True when `c` lists the group created in setup.
local function sees_known_group(c)
  for g in c:groups{ prefix = known } do
    if g.name == known then return true end
  end
  return false
end

setup(function()
  srv = moto.start()
  client = assert(cwlogs.client(srv:client_opts()))
  known = moto.unique("/cwlogs/known")
  srv:admin("create_groups", { names = { known } })
end)

teardown(function() if client then client:close() end end)

describe("signed calls to moto", function()
  it("are accepted with the right secret", function()
    assert.is_true(sees_known_group(client))
    assert.are.equal(0, client.transport.stats.retries)
  end)

  it("are rejected with a wrong secret, as a clear error object", function()
    local bad = assert(cwlogs.client(srv:client_opts{
      credentials = { access_key = srv.access_key, secret_key = "not-the-secret" } }))
    local ok, err = pcall(function() for _ in bad:groups{} do end end)
    assert.is_false(ok)
    assert.are.equal("SignatureDoesNotMatch", err.code)
    assert.are.equal(403, err.status)
    assert.is_nil(tostring(err):find("not-the-secret", 1, true))
    assert.is_nil(tostring(err):find("\n", 1, true))
  end)

  it("are rejected for an unknown access key", function()
    local bad = assert(cwlogs.client(srv:client_opts{
      credentials = { access_key = "AKIAUNKNOWNKEY000000", secret_key = "x" } }))
    local ok, err = pcall(function() for _ in bad:groups{} do end end)
    assert.is_false(ok)
    assert.are.equal("InvalidClientTokenId", err.code)
  end)

  it("work with session credentials from STS (token signed)", function()
    local role = srv:admin("create_role", { name = moto.unique("cwlogs-role"):gsub("/", "-") })
    local sts = require("cwlogs.sts")
    local creds = assert(sts.assume_role{
      role_arn = role.arn, credentials = { access_key = srv.access_key, secret_key = srv.secret_key },
      region = srv.region, endpoint = srv.endpoint,
    })
    assert.matches("^ASIA", creds.access_key)
    local c = assert(cwlogs.client(srv:client_opts{ credentials = creds }))
    assert.is_true(sees_known_group(c))
    -- the same keys without their token are refused
    local no_token = assert(cwlogs.client(srv:client_opts{
      credentials = { access_key = creds.access_key, secret_key = creds.secret_key } }))
    local ok, err = pcall(function() for _ in no_token:groups{} do end end)
    assert.is_false(ok)
    assert.are.equal(403, err.status)
  end)
end)

describe("client:groups and client:streams", function()
  local prefix, group
  setup(function()
    prefix = moto.unique("/cwlogs/paging") .. "/"
    local names = {}
    for i = 1, 120 do names[i] = string.format("%sg%03d", prefix, i) end
    srv:admin("create_groups", { names = names })
    group = names[1]
    local streams = {}
    for i = 1, 75 do streams[i] = string.format("stream-%03d", i) end
    srv:admin("create_streams", { group = group, names = streams })
  end)

  it("lists every group past the first page, in name order, with snake_case fields", function()
    local got = {}
    for g in client:groups{ prefix = prefix } do got[#got + 1] = g end
    assert.are.equal(120, #got)
    for i, g in ipairs(got) do
      assert.are.equal(string.format("%sg%03d", prefix, i), g.name)
      assert.are.equal("integer", math.type(g.creation_time))
      assert.is_string(g.arn)
    end
  end)

  it("lists every stream past the first page", function()
    local got = {}
    for s in client:streams{ group = group } do got[#got + 1] = s.name end
    assert.are.equal(75, #got)
    assert.are.equal("stream-001", got[1])
    assert.are.equal("stream-075", got[75])
    local pre = {}
    for s in client:streams{ group = group, prefix = "stream-06" } do pre[#pre + 1] = s.name end
    assert.are.equal(10, #pre)
  end)

  it("keeps a client made just for the loop alive until the loop ends", function()
    local n = 0
    for _ in assert(cwlogs.client(srv:client_opts())):streams{ group = group } do
      n = n + 1
      collectgarbage()
    end
    assert.are.equal(75, n)
  end)

  it("says the client is closed instead of failing obscurely", function()
    local c = assert(cwlogs.client(srv:client_opts()))
    local it_ = c:groups{}
    c:close()
    local ok, err = pcall(it_)
    assert.is_false(ok)
    assert.matches("closed", err.message)
  end)

  it("names a missing group when listing its streams", function()
    local ok, err = pcall(function() for _ in client:streams{ group = "/no/such/group" } do end end)
    assert.is_false(ok)
    assert.are.equal("ResourceNotFoundException", err.code)
    assert.matches("'/no/such/group'", err.message, 1, true)
  end)
end)

describe("cwlogs.client", function()
  it("prints as its region and endpoint, never its credentials", function()
    local c = assert(cwlogs.client{ region = "eu-west-1", getenv = function() return nil end,
      credentials = { access_key = "AKIAEXAMPLEKEY", secret_key = "s3cr3t-value" } })
    assert.are.equal("cwlogs.client(eu-west-1, https://logs.eu-west-1.amazonaws.com)", tostring(c))
    c:close()
    assert.matches(", closed%)$", tostring(c))
    assert.is_nil(tostring(c.config.credentials):find("s3cr3t-value", 1, true))
  end)

  it("returns nil, err when no region can be found", function()
    local c, err = cwlogs.client{ getenv = function() return nil end, home = "/nonexistent",
      credentials = { access_key = "a", secret_key = "b" } }
    assert.is_nil(c)
    assert.are.equal("NoRegion", err.code)
  end)

  it("returns nil, err for a bad endpoint", function()
    local c, err = cwlogs.client{ region = "us-east-1", endpoint = "ftp://x",
      credentials = { access_key = "a", secret_key = "b" }, getenv = function() return nil end }
    assert.is_nil(c)
    assert.are.equal("ConfigError", err.code)
  end)
end)
