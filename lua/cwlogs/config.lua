-- AWS configuration as the AWS CLI (botocore) reads it: region, endpoint, retry settings and
-- a lazy, caching credentials provider, from options, the environment and the shared
-- config/credentials files.
--
--   config.resolve{ profile=, region=, endpoint=, credentials=, getenv=, home=, http=, now= }
--   -> { region=, endpoint=, profile=, ca_bundle=, max_attempts=, retry_mode=,
--        credentials = provider, config_file=, credentials_file= }  or nil, err
--   provider:get() -> creds or nil, err;  provider:invalidate()
--
-- resolve() reads the environment and the files and picks the credential source, so that
-- configuration mistakes (unknown profile, role cycles, no credentials anywhere) show up
-- at once; it never runs credential_process nor calls STS: get() does, and caches.
local errors = require("cwlogs.errors")
local ini = require("cwlogs.ini")
local sts = require("cwlogs.sts")

local M = {}

-- Refresh credentials this long before they expire (ms).
M.REFRESH_WINDOW_MS = 5 * 60 * 1000

local function cfg_error(msg) return nil, errors.make("ConfigError", msg) end

local function truthy(v)
  return type(v) == "string" and v:lower() == "true" or v == true
end

-- Credentials ----------------------------------------------------------------------------

local Creds = {}
Creds.__index = Creds
Creds.__name = "cwlogs.credentials"
function Creds.__tostring(c)
  return string.format("credentials(access_key=%s, source=%s%s, secret_key=<hidden>%s)",
    tostring(c.access_key), tostring(c.source),
    c.expiration and (", expiration=" .. math.tointeger(c.expiration)) or "",
    c.session_token and ", session_token=<hidden>" or "")
end

local function new_creds(t, source)
  return setmetatable({
    access_key = t.access_key, secret_key = t.secret_key, session_token = t.session_token,
    expiration = t.expiration, source = source,
  }, Creds)
end
M.new_credentials = new_creds

local Provider = {}
Provider.__index = Provider
Provider.__name = "cwlogs.credentials_provider"
function Provider.__tostring(p)
  return "credentials_provider(" .. p.description .. ")"
end

-- fetch() -> creds or nil, err. sources: providers this one draws from (for invalidate).
local function new_provider(fetch, now, description, sources)
  return setmetatable({ _fetch = fetch, _now = now, _sources = sources or {},
    description = description }, Provider)
end

function Provider:get()
  local c = self._cached
  local now = self._now()
  if c and (not c.expiration or now < c.expiration - M.REFRESH_WINDOW_MS) then return c end
  local fresh, err = self._fetch()
  if not fresh then
    -- A failed early refresh keeps the credentials we have while they still work.
    if c and c.expiration and now < c.expiration then return c end
    return nil, err
  end
  self._cached = fresh
  return fresh
end

function Provider:invalidate()
  self._cached = nil
  for _, s in ipairs(self._sources) do s:invalidate() end
end

-- credential_process -----------------------------------------------------------------------

local function process_fetcher(command, profile_name)
  local function fail(why)
    return nil, errors.make("CredentialProcessError",
      "credential_process of profile '" .. profile_name .. "' " .. why)
  end
  return function()
    local ok_cjson, cjson = pcall(require, "cjson")
    if not ok_cjson then return fail("cannot be read: lua-cjson is not installed") end
    local pipe = io.popen(command, "r")
    if not pipe then return fail("could not be started") end
    local out = pipe:read("a") or ""
    local ok, how, code = pipe:close()
    if not ok then
      if how == "signal" then return fail("was killed by signal " .. tostring(code)) end
      return fail("failed with exit status " .. tostring(code))
    end
    -- Never quote the output: it holds secrets.
    local dok, doc = pcall(cjson.decode, out)
    if not dok or type(doc) ~= "table" then return fail("did not print a JSON object") end
    if doc.Version ~= 1 then
      local v = doc.Version
      return fail("printed Version " .. ((math.type(v) or type(v) == "string") and tostring(v):sub(1, 20)
        or "(missing)") .. "; only Version 1 is supported")
    end
    if type(doc.AccessKeyId) ~= "string" or doc.AccessKeyId == "" then
      return fail("printed no AccessKeyId")
    end
    if type(doc.SecretAccessKey) ~= "string" or doc.SecretAccessKey == "" then
      return fail("printed no SecretAccessKey")
    end
    local token = doc.SessionToken
    if token ~= nil and type(token) ~= "string" then token = nil end
    if token == "" then token = nil end
    local expiration
    if doc.Expiration ~= nil and doc.Expiration ~= cjson.null then
      expiration = sts.expiration_ms(doc.Expiration)
      if not expiration then return fail("printed an Expiration that is not an ISO 8601 time") end
    end
    return new_creds({ access_key = doc.AccessKeyId, secret_key = doc.SecretAccessKey,
      session_token = token, expiration = expiration }, "credential_process")
  end
end

-- Endpoints --------------------------------------------------------------------------------

-- Partition facts for the default endpoint: DNS suffix, dual-stack suffix (nil: none).
local function partition(region)
  if region:find("^cn%-") then return "amazonaws.com.cn", "api.amazonwebservices.com.cn" end
  if region:find("^us%-gov%-") then return "amazonaws.com", "api.aws", true end
  if region:find("^us%-isob%-") then return "sc2s.sgov.gov" end
  if region:find("^us%-isof%-") then return "csp.hci.ic.gov" end
  if region:find("^us%-iso%-") then return "c2s.ic.gov" end
  if region:find("^eu%-isoe%-") then return "cloud.adc-e.uk" end
  return "amazonaws.com", "api.aws"
end

-- default_endpoint("logs", region, fips, dualstack) -> URL or nil, err
function M.default_endpoint(service, region, fips, dualstack)
  local suffix, dual_suffix, gov = partition(region)
  if dualstack then
    if not dual_suffix then
      return cfg_error("dual-stack endpoints are not available in region " .. region)
    end
    suffix = dual_suffix
  end
  -- GovCloud's standard endpoints are already FIPS ones.
  local prefix = service
  if fips and not (gov and not dualstack) then prefix = service .. "-fips" end
  return "https://" .. prefix .. "." .. region .. "." .. suffix
end

-- Checks an endpoint URL; returns it without trailing slashes, or nil, err naming where it
-- came from.
local function check_endpoint(url, origin)
  if type(url) == "string" then
    local scheme, host = url:match("^(%a[%w+.-]*)://([^/?#]*)")
    if scheme and (scheme:lower() == "http" or scheme:lower() == "https")
      and host and host:gsub("^[^@]*@", ""):match("^[%w%.%-%[%]:]+$")
      and not host:find("^:") then
      return (url:gsub("/+$", ""))
    end
  end
  return cfg_error("bad endpoint URL '" .. tostring(url) .. "' (from " .. origin
    .. "): it must start with http:// or https:// and name a host")
end

local function valid_region(r)
  return type(r) == "string" and #r <= 63 and r:match("^%w[%w%-]*$") ~= nil and not r:find("%-$")
end

-- Files and profiles -----------------------------------------------------------------------

local function expand_path(path, home, getenv)
  path = path:gsub("%${([%w_]+)}", function(v) return getenv(v) end)
  path = path:gsub("%$([%a_][%w_]*)", function(v) return getenv(v) end)
  if home and (path == "~" or path:find("^~/")) then path = home .. path:sub(2) end
  return path
end

-- Loads both files and builds the profile maps the way botocore does.
local function load_profiles(config_path, creds_path)
  local config_sections, err = ini.read(config_path)
  if err then return cfg_error("cannot parse the AWS config file: " .. err) end
  local creds_sections
  creds_sections, err = ini.read(creds_path)
  if err then return cfg_error("cannot parse the AWS credentials file: " .. err) end

  local config_profiles, services = {}, {}
  local default_from_profile = false
  for name, values in pairs(config_sections or {}) do
    if name == "default" then
      if not default_from_profile then config_profiles.default = values end
    else
      local words = ini.split_words(name)
      if words and #words == 2 and words[1] == "profile" then
        config_profiles[words[2]] = values
        if words[2] == "default" then default_from_profile = true end
      elseif words and #words == 2 and words[1] == "services" then
        services[words[2]] = values
      end
    end
  end
  local creds_profiles = creds_sections or {}

  -- The profile as botocore sees it: config-file keys, overridden by credentials-file keys.
  local merged = {}
  for name, values in pairs(config_profiles) do
    local m = {}
    for k, v in pairs(values) do m[k] = v end
    merged[name] = m
  end
  for name, values in pairs(creds_profiles) do
    local m = merged[name] or {}
    for k, v in pairs(values) do m[k] = v end
    merged[name] = m
  end
  return { config = config_profiles, creds = creds_profiles, merged = merged, services = services }
end

-- Resolution -------------------------------------------------------------------------------

-- The credentials chain for one resolve() call. Each `*_provider` function returns a
-- provider, false when that source has nothing, or nil, err for a configuration mistake.
local function chain(ctx)
  local getenv, now = ctx.env, ctx.now
  local P = ctx.profiles

  local function env_fetch()
    local ak, sk = getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
    if not ak and not sk then return false end
    if not ak or not sk then
      return nil, errors.make("NoCredentials", (ak and "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY"
        or "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID") .. " is not")
    end
    local exp = getenv("AWS_CREDENTIAL_EXPIRATION")
    return new_creds({ access_key = ak, secret_key = sk,
      session_token = getenv("AWS_SESSION_TOKEN") or getenv("AWS_SECURITY_TOKEN"),
      expiration = exp and sts.expiration_ms(exp) }, "env")
  end

  local function env_provider()
    local first, err = env_fetch()
    if first == false then return false end
    if not first then return nil, err end
    return new_provider(function()
      local c, e = env_fetch()
      if c == false then
        return nil, errors.make("NoCredentials",
          "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are no longer set")
      end
      return c, e
    end, now, "env")
  end

  local function static_keys(section, name, where)
    local ak = section and section.aws_access_key_id
    if not ak then return false end
    local sk = section.aws_secret_access_key
    if not sk or sk == "" or type(ak) ~= "string" or type(sk) ~= "string" then
      return nil, errors.make("ConfigError", "profile '" .. name .. "' in " .. where
        .. " has aws_access_key_id but no aws_secret_access_key")
    end
    local c = new_creds({ access_key = ak, secret_key = sk,
      session_token = section.aws_session_token or section.aws_security_token }, "profile:" .. name)
    return new_provider(function() return c end, now, "profile:" .. name)
  end

  -- Every source of a profile but assume-role (botocore's profile provider chain).
  local function plain_profile_provider(name)
    local p, err = static_keys(P.creds[name], name, ctx.creds_path)
    if p ~= false then return p, err end
    local proc = P.merged[name] and P.merged[name].credential_process
    if type(proc) == "string" and proc ~= "" then
      return new_provider(process_fetcher(proc, name), now, "credential_process:" .. name)
    end
    return static_keys(P.config[name], name, ctx.config_path)
  end

  local assume_role_provider

  local function source_provider(name, profile, visited)
    if profile.credential_source and profile.source_profile then
      return cfg_error("profile '" .. name .. "' sets both source_profile and credential_source")
    end
    local cs = profile.credential_source
    if cs then
      if cs == "Environment" then
        return new_provider(function()
          local c, e = env_fetch()
          if c == false then
            return nil, errors.make("NoCredentials", "profile '" .. name
              .. "' takes credentials from the environment, but AWS_ACCESS_KEY_ID is not set")
          end
          return c, e
        end, now, "env")
      elseif cs == "Ec2InstanceMetadata" or cs == "EcsContainer" then
        return cfg_error("profile '" .. name .. "': credential_source = " .. cs
          .. " is not supported yet (only Environment)")
      end
      return cfg_error("profile '" .. name .. "': unknown credential_source '" .. tostring(cs) .. "'")
    end
    local sp = profile.source_profile
    if type(sp) ~= "string" or sp == "" then
      return cfg_error("profile '" .. name
        .. "' has role_arn but neither source_profile nor credential_source")
    end
    local src = P.merged[sp]
    if not src then
      return cfg_error("source_profile '" .. sp .. "' of profile '" .. name .. "' not found in "
        .. ctx.config_path .. " or " .. ctx.creds_path)
    end
    local has_static = src.aws_access_key_id or src.aws_secret_access_key or src.aws_session_token
    if visited[sp] and not (sp == name and has_static) then
      local path = {}
      for i, v in ipairs(visited) do path[i] = v end
      path[#path + 1] = sp
      return cfg_error("profiles form a cycle through source_profile: " .. table.concat(path, " -> "))
    end
    if has_static or not src.role_arn then
      local p, err = plain_profile_provider(sp)
      if p == false then
        return cfg_error("source_profile '" .. sp .. "' of profile '" .. name .. "' has no credentials")
      end
      return p, err
    end
    return assume_role_provider(sp, visited)
  end

  assume_role_provider = function(name, visited)
    local profile = P.merged[name]
    local seen = { [name] = true }
    for i, v in ipairs(visited or {}) do seen[i] = v; seen[v] = true end
    seen[#seen + 1] = name
    if profile.mfa_serial then
      return cfg_error("profile '" .. name .. "' needs an MFA code (mfa_serial), which cwlogs cannot ask for")
    end
    local duration
    if profile.duration_seconds then
      duration = math.tointeger(tonumber(profile.duration_seconds))
      if not duration or duration <= 0 then
        return cfg_error("profile '" .. name .. "': duration_seconds must be a positive integer")
      end
    end
    local src, err = source_provider(name, profile, seen)
    if not src then return nil, err end
    local role_arn = profile.role_arn
    local fetch = function()
      local sc, serr = src:get()
      if not sc then return nil, serr end
      local c, aerr = sts.assume_role{
        role_arn = role_arn, session_name = profile.role_session_name,
        external_id = profile.external_id, duration_seconds = duration,
        credentials = sc, region = ctx.region, endpoint = ctx.sts_endpoint,
        http = ctx.http, now = now,
      }
      if not c then return nil, aerr end
      return new_creds(c, "assume_role")
    end
    return new_provider(fetch, now, "assume_role:" .. name, { src })
  end

  local function profile_provider(name)
    local profile = P.merged[name]
    if not profile then return false end
    if profile.role_arn then return assume_role_provider(name, {}) end
    return plain_profile_provider(name)
  end

  return { env = env_provider, profile = profile_provider }
end

local function no_credentials(ctx, env_skipped)
  local profile = ctx.profiles.merged[ctx.profile]
  local parts = {}
  parts[#parts + 1] = env_skipped and "env AWS_ACCESS_KEY_ID (skipped: a profile was given)"
    or "env AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (not set)"
  parts[#parts + 1] = "profile '" .. ctx.profile .. "' in " .. ctx.creds_path .. " and "
    .. ctx.config_path .. (profile and " (no keys, credential_process or role_arn)" or " (no such profile)")
  local unsupported = ""
  if profile and (profile.sso_session or profile.sso_start_url) then
    unsupported = "; the profile uses SSO"
  elseif profile and profile.web_identity_token_file then
    unsupported = "; the profile uses web identity"
  end
  return nil, errors.make("NoCredentials", "no AWS credentials found: looked at "
    .. table.concat(parts, ", ") .. unsupported
    .. "; SSO, web identity, IMDS and container credentials are not supported yet")
end

function M.resolve(opts)
  opts = opts or {}
  local raw_getenv = opts.getenv or os.getenv
  -- An empty variable counts as unset.
  local function getenv(name)
    local v = raw_getenv(name)
    if v == "" then return nil end
    return v
  end
  local now = opts.now or function() return os.time() * 1000 end
  local home = opts.home or getenv("HOME")

  local config_path = expand_path(getenv("AWS_CONFIG_FILE") or "~/.aws/config", home, getenv)
  local creds_path = expand_path(getenv("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials", home, getenv)
  local profiles, perr = load_profiles(config_path, creds_path)
  if not profiles then return nil, perr end

  local explicit_profile = opts.profile
  if explicit_profile == "" then explicit_profile = nil end
  local named = explicit_profile or getenv("AWS_PROFILE") or getenv("AWS_DEFAULT_PROFILE")
  local profile_name = named or "default"
  if named and not profiles.merged[profile_name] then
    return cfg_error("profile '" .. profile_name .. "' not found in " .. config_path .. " or " .. creds_path)
  end
  local profile = profiles.merged[profile_name] or {}

  -- A setting from the environment, else from the profile.
  local function setting(env_name, key)
    local v = env_name and getenv(env_name)
    if v ~= nil then return v, env_name end
    v = profile[key]
    if type(v) == "string" and v ~= "" then return v, "profile '" .. profile_name .. "' " .. key end
    return nil
  end

  -- Region.
  local region = opts.region
  if region == "" then region = nil end
  region = region or getenv("AWS_REGION") or getenv("AWS_DEFAULT_REGION")
  if not region and type(profile.region) == "string" and profile.region ~= "" then region = profile.region end
  if not region then
    return nil, errors.make("NoRegion", "no AWS region: pass --region or set AWS_REGION (looked at the"
      .. " region option, AWS_REGION, AWS_DEFAULT_REGION and profile '" .. profile_name .. "' in "
      .. config_path .. ")")
  end
  if not valid_region(region) then return cfg_error("invalid region '" .. tostring(region) .. "'") end

  -- Endpoints.
  local ignore = setting("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "ignore_configured_endpoint_urls")
  ignore = truthy(ignore)
  local services_name = profile.services
  local services = type(services_name) == "string" and profiles.services[services_name] or nil
  local function configured_endpoint(env_suffix, service_key)
    if ignore then return nil end
    local v = getenv("AWS_ENDPOINT_URL_" .. env_suffix)
    if v then return v, "AWS_ENDPOINT_URL_" .. env_suffix end
    v = getenv("AWS_ENDPOINT_URL")
    if v then return v, "AWS_ENDPOINT_URL" end
    local svc = services and services[service_key]
    if type(svc) == "table" and svc.endpoint_url and svc.endpoint_url ~= "" then
      return svc.endpoint_url, "[services " .. services_name .. "] " .. service_key .. " endpoint_url"
    end
    if type(profile.endpoint_url) == "string" and profile.endpoint_url ~= "" then
      return profile.endpoint_url, "profile '" .. profile_name .. "' endpoint_url"
    end
    return nil
  end
  local fips = truthy((setting("AWS_USE_FIPS_ENDPOINT", "use_fips_endpoint")))
  local dualstack = truthy((setting("AWS_USE_DUALSTACK_ENDPOINT", "use_dualstack_endpoint")))

  local endpoint, origin = opts.endpoint, "the endpoint option"
  if endpoint == "" then endpoint = nil end
  if not endpoint then endpoint, origin = configured_endpoint("CLOUDWATCH_LOGS", "cloudwatch_logs") end
  local err
  if endpoint then
    endpoint, err = check_endpoint(endpoint, origin)
  else
    endpoint, err = M.default_endpoint("logs", region, fips, dualstack)
  end
  if not endpoint then return nil, err end

  local sts_endpoint, sts_origin = configured_endpoint("STS", "sts")
  if sts_endpoint then
    sts_endpoint, err = check_endpoint(sts_endpoint, sts_origin)
  else
    sts_endpoint, err = M.default_endpoint("sts", region, fips, dualstack)
  end
  if not sts_endpoint then return nil, err end

  -- Retry and TLS settings.
  local ca_bundle = setting("AWS_CA_BUNDLE", "ca_bundle")
  local max_attempts, ma_origin = setting("AWS_MAX_ATTEMPTS", "max_attempts")
  if max_attempts then
    local n = math.tointeger(tonumber(max_attempts))
    if not n or n < 1 then
      return cfg_error("max_attempts must be a whole number of at least 1, not '" .. tostring(max_attempts)
        .. "' (from " .. ma_origin .. ")")
    end
    max_attempts = n
  end
  local retry_mode, rm_origin = setting("AWS_RETRY_MODE", "retry_mode")
  retry_mode = retry_mode or "standard"
  if retry_mode ~= "standard" and retry_mode ~= "legacy" and retry_mode ~= "adaptive" then
    return cfg_error("retry_mode must be standard, legacy or adaptive, not '" .. retry_mode
      .. "' (from " .. rm_origin .. ")")
  end

  local cfg = setmetatable({
    region = region, endpoint = endpoint, profile = profile_name, ca_bundle = ca_bundle,
    max_attempts = max_attempts, retry_mode = retry_mode, sts_endpoint = sts_endpoint,
    config_file = config_path, credentials_file = creds_path,
  }, { __tostring = function(c)
    return string.format("cwlogs.config(profile=%s, region=%s, endpoint=%s)", c.profile, c.region, c.endpoint)
  end })

  -- Credentials.
  local explicit = opts.credentials
  if type(explicit) == "table" and type(explicit.get) == "function" then
    cfg.credentials = explicit
    return cfg
  end
  if explicit ~= nil then
    if type(explicit) ~= "table" or type(explicit.access_key) ~= "string" or explicit.access_key == ""
      or type(explicit.secret_key) ~= "string" or explicit.secret_key == "" then
      return cfg_error("explicit credentials need access_key and secret_key")
    end
    local c = new_creds(explicit, "explicit")
    cfg.credentials = new_provider(function() return c end, now, "explicit")
    return cfg
  end

  local ctx = {
    env = getenv, now = now, profiles = profiles, profile = profile_name,
    config_path = config_path, creds_path = creds_path, region = region,
    sts_endpoint = sts_endpoint,
    http = opts.http or sts.default_http({ ca_bundle = ca_bundle }),
  }
  local sources = chain(ctx)
  local provider
  if not explicit_profile then
    provider, err = sources.env()
    if provider == nil then return nil, err end
  end
  if not provider then
    provider, err = sources.profile(profile_name)
    if provider == nil then return nil, err end
  end
  if not provider then return no_credentials(ctx, explicit_profile ~= nil) end
  cfg.credentials = provider
  return cfg
end

return M
