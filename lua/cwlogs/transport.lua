-- The request layer: JSON 1.1 calls to CloudWatch Logs, many in flight at once.
--
-- A Transport owns one libcurl multi engine. `submit(op, params)` queues a request and
-- returns a handle; `step(max_wait_ms)` moves every queued and running request forward
-- (rate limiter, signing, sending, retries with backoff) and blocks at most max_wait_ms;
-- `call(op, params)` is the blocking convenience. The C engine never blocks or yields
-- unless asked, so the loop lives here and an event loop can drive it: pass `wait` in the
-- options to replace the blocking wait with your own (it receives the engine's sockets and
-- a timeout in ms, and may yield).
local cjson = require("cjson")
local core = require("cwlogs.core")
local errors = require("cwlogs.errors")
local retry = require("cwlogs.retry")
local ratelimit = require("cwlogs.ratelimit")

local M = {}
local json = cjson.new()
-- 13-digit epoch milliseconds fit the default 14 significant digits exactly.

local TARGET_PREFIX = "Logs_20140328."
local CONTENT_TYPE = "application/x-amz-json-1.1"

local Transport = {}
Transport.__index = Transport

local function host_of(url)
  local scheme, host = url:match("^(https?)://([^/?#]+)")
  if not scheme then return nil end
  return host
end

-- new(cfg, opts): cfg from config.resolve (region, endpoint, credentials provider,
-- ca_bundle, max_attempts, retry_mode); opts: max_rps, retry_base_ms, timeout_ms,
-- debug (function(line) or true for stderr), wait (event-loop hook), connect_timeout_ms.
function M.new(cfg, opts)
  opts = opts or {}
  local host = host_of(cfg.endpoint)
  if not host then
    return nil, errors.make("ConfigError", "invalid endpoint URL '" .. tostring(cfg.endpoint) .. "'")
  end
  local engine, msg = core.http_engine{
    ca_bundle = cfg.ca_bundle,
    connect_timeout_ms = opts.connect_timeout_ms,
  }
  if not engine then
    return nil, errors.make("ConfigError", "cannot start HTTP engine: " .. tostring(msg))
  end
  local debug = opts.debug
  if debug == true then
    debug = function(line) io.stderr:write("cwlogs: debug: ", line, "\n") end
  end
  local is_aws = host:find("%.amazonaws%.com") ~= nil or host:find("%.api%.aws") ~= nil
  return setmetatable({
    cfg = cfg,
    engine = engine,
    url = cfg.endpoint:gsub("/*$", "") .. "/",
    host = host,
    policy = retry.new{ mode = cfg.retry_mode, max_attempts = cfg.max_attempts,
      base_ms = opts.retry_base_ms },
    limiter = ratelimit.new{ region = cfg.region, use_quotas = is_aws, max_rps = opts.max_rps },
    timeout_ms = opts.timeout_ms or 120000,
    debug = debug,
    wait_hook = opts.wait,
    queue = {},      -- requests waiting to be (re)sent, in submission order
    inflight = {},   -- engine id -> request
    ninflight = 0,
    seq = 0,
    latency_ms = {}, -- op -> smoothed response time of successful requests
    latency_min = {}, -- op -> the shortest of them
    stats = { requests = 0, retries = 0, throttles = 0, bytes = 0 },
  }, Transport)
end

-- Error from a non-2xx response: CloudWatch Logs answers JSON {"__type","message"}, auth
-- failures come as XML (moto, IAM style); x-amzn-errortype is a fallback for the code.
local function error_from_response(res)
  local body, headers = res.body or "", res.headers or {}
  local code, message
  if body:find("^%s*{") then
    local ok, doc = pcall(json.decode, body)
    if ok and type(doc) == "table" then
      code = doc.__type or doc.code or doc.Code
      message = doc.message or doc.Message
    end
  elseif body:find("^%s*<") then
    code = body:match("<Code>([^<]*)</Code>")
    message = body:match("<Message>([^<]*)</Message>")
  end
  code = code or headers["x-amzn-errortype"]
  if type(code) == "string" then
    code = code:gsub("^.*#", ""):gsub(":.*$", "")
  end
  if type(message) ~= "string" or message == "" then
    message = "HTTP " .. tostring(res.status) .. (code and "" or " with an unrecognised error body")
  end
  message = message:gsub("[\r\n]+", " ")
  return errors.new{
    code = type(code) == "string" and code ~= "" and code or ("HTTP" .. tostring(res.status)),
    message = message,
    status = res.status,
    request_id = headers["x-amzn-requestid"] or headers["x-amz-request-id"]
      or body:match("<RequestId>([^<]*)</RequestId>"),
  }
end
M.error_from_response = error_from_response

-- Queues `op` with `params` (a table, JSON-encoded once). opts.raw: keep the body as a string
-- instead of decoding it (the pager decodes event pages in C). opts.prio: requests waiting
-- for the rate limiter go out lowest prio first (default 0; ties in submission order); the
-- caller may change req.prio while the request waits.
function Transport:submit(op, params, opts)
  self.seq = self.seq + 1
  local req = {
    op = op, body = json.encode(params or {}), raw = opts and opts.raw,
    prio = opts and opts.prio or 0, seq = self.seq,
    attempt = 0, throttled = 0, spent = 0, due = 0, done = false,
  }
  self.queue[#self.queue + 1] = req
  return req
end

-- The rate the limiter holds `op` to (requests/s), or nil when there is none (yet).
function Transport:rate(op)
  return self.limiter:rate(op)
end

-- Smoothed response time of `op` (ms) and the shortest seen, or nil before its first success.
function Transport:latency(op)
  return self.latency_ms[op], self.latency_min[op]
end

function Transport:_sign_and_send(req, now)
  local creds, cerr = self.cfg.credentials:get()
  if not creds then return cerr end
  local headers = {
    { "Host", self.host },
    { "Content-Type", CONTENT_TYPE },
    { "X-Amz-Target", TARGET_PREFIX .. req.op },
  }
  local signed, serr = core.sign{
    method = "POST", path = "/", headers = headers, body = req.body,
    region = self.cfg.region, service = "logs",
    access_key = creds.access_key, secret_key = creds.secret_key,
    session_token = creds.session_token,
  }
  if not signed then
    return errors.make("SigningError", "cannot sign request: " .. tostring(serr))
  end
  for _, h in ipairs(signed.headers) do headers[#headers + 1] = h end
  local id, msg = self.engine:submit{
    url = self.url, method = "POST", headers = headers, body = req.body,
    timeout_ms = self.timeout_ms,
  }
  if not id then return errors.make("NetworkError", tostring(msg)) end
  req.attempt = req.attempt + 1
  req.sent_at = now
  self.inflight[id] = req
  self.ninflight = self.ninflight + 1
  self.stats.requests = self.stats.requests + 1
  self.limiter:take(req.op, now)
  return nil
end

local function finish(req, result, err)
  req.done, req.result, req.err = true, result, err
  if req.on_done then req.on_done(req) end
end

local function by_prio(a, b)
  if a.prio ~= b.prio then return a.prio < b.prio end
  return a.seq < b.seq
end

-- Sends whatever the queue and the rate limiter allow, most urgent first; returns ms until
-- more may be sent.
function Transport:_dispatch(now)
  local wait = math.huge
  local q, keep = self.queue, {}
  if #q > 1 then table.sort(q, by_prio) end
  local held = {}   -- ops the limiter holds back this round: later requests wait too
  for i = 1, #q do
    local req = q[i]
    if req.cancelled then -- luacheck: ignore 542
      -- dropped from the queue
    elseif req.due > now then
      keep[#keep + 1] = req
      wait = math.min(wait, req.due - now)
    else
      local d = held[req.op] or self.limiter:delay(req.op, now)
      if d > 0 then
        held[req.op] = d
        keep[#keep + 1] = req
        wait = math.min(wait, d)
      else
        local err = self:_sign_and_send(req, now)
        if err then finish(req, nil, err) end
      end
    end
  end
  self.queue = keep
  return wait
end

function Transport:_complete(req, res, now)
  local err
  if res.error then
    err = errors.make("NetworkError", res.error.message or "network error",
      { kind = res.error.kind, curl_code = res.error.curl_code })
  elseif res.status and res.status >= 200 and res.status < 300 then
    self.stats.bytes = self.stats.bytes + #res.body
    self.limiter:on_success(req.op, now)
    local took = res.total_ms
    if not took or took < 0 then took = now - (req.sent_at or now) end
    local prev = self.latency_ms[req.op]
    self.latency_ms[req.op] = prev and (prev * 0.7 + took * 0.3) or took
    local low = self.latency_min[req.op]
    if not low or took < low then self.latency_min[req.op] = took end
    self.policy:on_success(req.spent)
    if req.raw then
      return finish(req, res.body, nil)
    end
    local body = res.body
    if body == "" then body = "{}" end
    local ok, doc = pcall(json.decode, body)
    if not ok or type(doc) ~= "table" then
      return finish(req, nil, errors.make("ParseError",
        "invalid JSON in " .. req.op .. " response", { status = res.status,
          request_id = res.headers and res.headers["x-amzn-requestid"] }))
    end
    return finish(req, doc, nil)
  else
    err = error_from_response(res)
  end
  local delay, cost
  if retry.is_throttle(err) then
    -- A throttle costs little: the limiter lowers the rate (once per burst of throttles)
    -- and paces the retry, with a little jitter; throttles do not use up max_attempts.
    self.stats.throttles = self.stats.throttles + 1
    self.limiter:on_throttle(req.op, now, req.sent_at)
    req.throttled = req.throttled + 1
    if req.throttled <= retry.MAX_THROTTLE_RETRIES then
      delay, cost = math.floor(self.policy.random() * 50), 0
    end
  else
    if err.code == "ExpiredTokenException" and req.attempt == 1 and self.cfg.credentials.invalidate then
      self.cfg.credentials:invalidate()
    end
    delay, cost = self.policy:should_retry(err, req.attempt - req.throttled)
    if err.code == "ExpiredTokenException" and req.attempt == 1 then delay, cost = 0, 0 end
  end
  if delay then
    self.stats.retries = self.stats.retries + 1
    req.spent = req.spent + cost
    req.due = now + delay
    if self.debug then
      self.debug(string.format("%s attempt %d failed (%s); retrying in %d ms",
        req.op, req.attempt, tostring(err), delay))
    end
    self.queue[#self.queue + 1] = req
  else
    err.attempts = req.attempt
    finish(req, nil, err)
  end
end

function Transport:_collect(now)
  local results = self.engine:results()
  for i = 1, #results do
    local res = results[i]
    local req = self.inflight[res.id]
    if req then
      self.inflight[res.id] = nil
      self.ninflight = self.ninflight - 1
      if self.debug then
        self.debug(string.format("%s -> %s in %d ms", req.op,
          res.error and res.error.kind or tostring(res.status), res.total_ms or -1))
      end
      self:_complete(req, res, now)
    end
  end
  return #results
end

-- Moves everything forward; waits at most max_wait_ms (0 = never block) for progress.
function Transport:step(max_wait_ms)
  if not self.engine then
    error(errors.make("InvalidArgument", "the client is closed"), 0)
  end
  local now = core.clock_ms()
  local wait = self:_dispatch(now)
  self.engine:perform()
  if self:_collect(now) > 0 then return true end
  local t = math.min(max_wait_ms or 1000, wait)
  if t > 0 then
    if self.wait_hook then
      self.wait_hook(self.engine:sockets(), t)
    elseif self.ninflight > 0 or t ~= math.huge then
      self.engine:wait(math.floor(math.min(t, 1000)))
    end
  end
  self.engine:perform()
  self:_collect(core.clock_ms())
  return true
end

-- Waits until the monotonic clock reaches `at` (ms) without busy-waiting: requests in
-- flight keep moving and an event loop's wait hook applies.
function Transport:sleep_until(at)
  while true do
    local left = at - core.clock_ms()
    if left <= 0 then return end
    self:step(left)
  end
end

-- Number of requests not finished yet (queued or in flight).
function Transport:busy()
  return #self.queue + self.ninflight
end

-- Cancels a request that is queued or in flight; it never completes.
function Transport:cancel(req)
  if req.done then return end
  req.cancelled = true
  for i = #self.queue, 1, -1 do
    if self.queue[i] == req then table.remove(self.queue, i) end
  end
  for id, r in pairs(self.inflight) do
    if r == req then
      self.engine:cancel(id)
      self.inflight[id] = nil
      self.ninflight = self.ninflight - 1
    end
  end
end

-- Blocking call: result table (decoded JSON) or nil, err.
function Transport:call(op, params, opts)
  local req = self:submit(op, params, opts)
  while not req.done do self:step(1000) end
  if req.err then return nil, req.err end
  return req.result
end

function Transport:close()
  if self.engine then
    self.engine:close()
    self.engine = nil
  end
end

return M
