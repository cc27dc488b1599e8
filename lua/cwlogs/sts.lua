-- STS AssumeRole over the query protocol (form-encoded POST, XML answer), signed with SigV4.
--
--   sts.assume_role{ role_arn=, session_name=, external_id=, duration_seconds=,
--                    credentials = {access_key=, secret_key=, session_token=},
--                    region=, endpoint=, http=function(req) -> res | nil, err, now= }
--   -> { access_key=, secret_key=, session_token=, expiration=<epoch ms> } or nil, err
--
-- Errors never carry the source or the returned secrets: only the role, the AWS error code
-- and message, the HTTP status and the request id.
local errors = require("cwlogs.errors")

local M = {}

-- Percent-encoding of a form value: everything but the RFC 3986 unreserved characters.
function M.form_encode(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end

local ENTITIES = { lt = "<", gt = ">", amp = "&", quot = '"', apos = "'" }

function M.xml_unescape(s)
  return (s:gsub("&(#?[xX]?)(%w+);", function(kind, name)
    local cp
    if kind == "" then
      return ENTITIES[name]
    elseif kind == "#" then
      cp = tonumber(name, 10)
    else
      cp = tonumber(name, 16)
    end
    if cp and cp >= 0 and cp <= 0x10FFFF then return utf8.char(cp) end
    return nil
  end))
end

-- Text of the first leaf element <name>...</name> (with or without a namespace prefix) in xml.
function M.xml_leaf(xml, name)
  if not xml then return nil end
  local text = xml:match("<" .. name .. "[^>]*>([^<]*)</" .. name .. ">")
    or xml:match("<[%w_]+:" .. name .. "[^>]*>([^<]*)</[%w_]+:" .. name .. ">")
  if text then return M.xml_unescape(text) end
  return nil
end

-- Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
local function days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = (153 * mp + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

local function days_in_month(y, m)
  local leap = (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0
  return ({ 31, leap and 29 or 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 })[m]
end

-- ISO 8601 timestamp as AWS writes it (2026-01-02T03:04:05Z, optional fraction, Z or an
-- offset) -> epoch milliseconds, or nil. The date and time must both be present.
function M.parse_iso8601(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, h, mi, sec, rest = s:match("^(%d%d%d%d)-(%d%d)-(%d%d)[Tt ](%d%d):(%d%d):(%d%d)(.*)$")
  if not y then return nil end
  y, mo, d, h, mi, sec = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(sec)
  if mo < 1 or mo > 12 or d < 1 or d > days_in_month(y, mo) or h > 23 or mi > 59 or sec > 60 then
    return nil
  end
  local ms = 0
  local frac, zone = rest:match("^%.(%d+)(.*)$")
  if frac then
    ms = tonumber((frac .. "00"):sub(1, 3))
    rest = zone
  end
  local offset
  if rest == "Z" or rest == "z" then
    offset = 0
  else
    local sign, oh, om = rest:match("^([+-])(%d%d):?(%d%d)$")
    if not sign then return nil end
    oh, om = tonumber(oh), tonumber(om)
    if oh > 23 or om > 59 then return nil end
    offset = (oh * 60 + om) * 60
    if sign == "-" then offset = -offset end
  end
  local secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset
  return secs * 1000 + ms
end

-- Our parser first (it is exact for AWS's format); the C core's parse_time as a fallback
-- for anything else ISO-shaped it may accept.
function M.expiration_ms(s)
  local ms = M.parse_iso8601(s)
  if ms then return ms end
  local ok, core = pcall(require, "cwlogs.core")
  if ok and type(core) == "table" and type(core.parse_time) == "function" and type(s) == "string" then
    local pok, v = pcall(core.parse_time, s, { tz = "utc" })
    if pok and math.type(v) == "integer" then return v end
  end
  return nil
end

-- Splits "http(s)://host[:port][/path]" -> scheme, hostport, path (no trailing slash).
local function split_url(url)
  local scheme, hostport, path = url:match("^(https?)://([^/?#]+)([^?#]*)")
  if not scheme then return nil end
  path = path:gsub("/+$", "")
  return scheme, hostport, path
end

-- The default HTTP function: cwlogs.http, loaded and set up on first use.
function M.default_http(http_opts)
  local engine
  return function(req)
    local okreq, http = pcall(require, "cwlogs.http")
    if not okreq then
      return nil, errors.make("NetworkError", "HTTP engine unavailable: " .. tostring(http))
    end
    if not engine then
      local e, err = http.new(http_opts or {})
      if not e then return nil, err end
      engine = e
    end
    return http.request(engine, req)
  end
end

local function describe(role_arn)
  return "could not assume role " .. tostring(role_arn)
end

-- assume_role{...} -> creds or nil, err (see the file header).
function M.assume_role(o)
  if type(o) ~= "table" or type(o.role_arn) ~= "string" or o.role_arn == "" then
    return nil, errors.make("InvalidArgument", "assume_role: role_arn is required")
  end
  local src = o.credentials
  if type(src) ~= "table" or not src.access_key or not src.secret_key then
    return nil, errors.make("NoCredentials", describe(o.role_arn) .. ": no source credentials")
  end
  local region = o.region or "us-east-1"
  local endpoint = o.endpoint
  if not endpoint then
    endpoint = "https://sts." .. region .. ".amazonaws.com"
    if region:find("^cn%-") then endpoint = endpoint .. ".cn" end
  end
  local scheme, hostport, path = split_url(endpoint)
  if not scheme then
    return nil, errors.make("ConfigError", describe(o.role_arn) .. ": bad STS endpoint '" .. endpoint .. "'")
  end
  -- The Host header as botocore sends it: the default port is left out.
  local host = hostport
  if (scheme == "https" and host:find(":443$")) or (scheme == "http" and host:find(":80$")) then
    host = host:gsub(":%d+$", "")
  end

  local now_s = o.now and (o.now() // 1000) or os.time()
  local params = {
    { "Action", "AssumeRole" },
    { "Version", "2011-06-15" },
    { "RoleArn", o.role_arn },
    { "RoleSessionName", o.session_name or ("cwlogs-" .. math.tointeger(now_s)) },
  }
  if o.external_id then params[#params + 1] = { "ExternalId", o.external_id } end
  if o.duration_seconds then params[#params + 1] = { "DurationSeconds", tostring(o.duration_seconds) } end
  local parts = {}
  for i, p in ipairs(params) do parts[i] = M.form_encode(p[1]) .. "=" .. M.form_encode(p[2]) end
  local body = table.concat(parts, "&")

  local content_type = "application/x-www-form-urlencoded; charset=utf-8"
  local headers = { { "Host", host }, { "Content-Type", content_type } }
  local okcore, core = pcall(require, "cwlogs.core")
  if not okcore or type(core) ~= "table" or type(core.sign) ~= "function" then
    return nil, errors.make("InternalError", describe(o.role_arn) .. ": the SigV4 signer is not available")
  end
  local signed, serr = core.sign{
    method = "POST", path = path == "" and "/" or path, headers = headers, body = body,
    region = region, service = "sts",
    access_key = src.access_key, secret_key = src.secret_key, session_token = src.session_token,
  }
  if not signed then
    return nil, errors.make("InternalError", describe(o.role_arn) .. ": signing failed: " .. tostring(serr))
  end
  for _, h in ipairs(signed.headers or {}) do headers[#headers + 1] = { h[1], h[2] } end

  local http = o.http or M.default_http()
  local res, herr = http{
    method = "POST", url = scheme .. "://" .. hostport .. (path == "" and "/" or path),
    headers = headers, body = body, timeout_ms = o.timeout_ms or 30000,
  }
  if not res then
    if errors.is(herr) then
      herr.message = describe(o.role_arn) .. ": " .. tostring(herr.message or herr.code)
      return nil, herr
    end
    return nil, errors.make("NetworkError", describe(o.role_arn) .. ": " .. tostring(herr))
  end

  local xml = res.body or ""
  local request_id = M.xml_leaf(xml, "RequestId")
    or (res.headers and (res.headers["x-amzn-requestid"] or res.headers["x-amz-request-id"]))
  local status = tonumber(res.status)
  if not status or status < 200 or status >= 300 then
    local code = M.xml_leaf(xml, "Code") or (status == 403 and "AccessDenied") or "STSError"
    local message = M.xml_leaf(xml, "Message")
    return nil, errors.new{
      code = code,
      message = describe(o.role_arn) .. ": " .. code .. (message and (": " .. message) or ""),
      status = status, request_id = request_id,
    }
  end

  local creds = {
    access_key = M.xml_leaf(xml, "AccessKeyId"),
    secret_key = M.xml_leaf(xml, "SecretAccessKey"),
    session_token = M.xml_leaf(xml, "SessionToken"),
  }
  local exp_text = M.xml_leaf(xml, "Expiration")
  creds.expiration = exp_text and M.expiration_ms(exp_text)
  if not (creds.access_key and creds.secret_key and creds.session_token and creds.expiration) then
    return nil, errors.new{
      code = "ParseError", status = status, request_id = request_id,
      message = describe(o.role_arn) .. ": the STS answer lacks credentials or a valid expiration",
    }
  end
  return creds
end

return M
