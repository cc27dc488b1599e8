-- Client-side rate limiting: a token bucket per API operation.
--
-- Two inputs set the rate:
--  * a ceiling: the service's default quota for the operation in the region (aws-facts §1),
--    used when talking to AWS itself; custom endpoints (moto, stand-ins) get no ceiling
--    unless `max_rps` is given;
--  * CUBIC adaptation as in the SDKs' "adaptive" retry mode (aws-facts §7): a throttle
--    drops the rate to 0.7 x the measured rate, then it grows back along a cubic curve.
-- Everything is in milliseconds from the caller's monotonic clock; no I/O, no sleeping:
-- `delay(op, now)` says how long to wait, `take(op, now)` spends a token.
local M = {}

local BETA, SCALE_C, MIN_RATE = 0.7, 0.4, 0.5
local SMOOTH, BUCKET_S = 0.8, 0.5
-- Tokens come back at 97 % of the rate: requests paced exactly at a quota arrive with some
-- jitter, and an early arrival at an empty bucket on the service's side is a throttle.
local PACE = 0.97

-- Default TPS quotas per operation; an entry may map regions to exceptions.
local QUOTAS = {
  FilterLogEvents = { default = 10, ["us-east-1"] = 25, ["ap-northeast-3"] = 5,
    ["ap-southeast-3"] = 5, ["ca-west-1"] = 5, ["eu-central-1"] = 5, ["il-central-1"] = 5 },
  GetLogEvents = { default = 25, ["us-west-2"] = 10, ["eu-west-1"] = 10, ["eu-central-1"] = 10,
    ["ap-northeast-3"] = 10, ["ap-southeast-3"] = 10, ["ca-west-1"] = 10, ["il-central-1"] = 10,
    ["eu-west-3"] = 30 },
  DescribeLogStreams = { default = 25 },
  DescribeLogGroups = { default = 10 },
  StartQuery = { default = 10 },
  GetQueryResults = { default = 10 },
}

function M.default_quota(op, region)
  local q = QUOTAS[op]
  if not q then return nil end
  return q[region] or q.default
end

local Bucket = {}
Bucket.__index = Bucket

-- A bucket holds one second's worth of tokens (at least one) and starts full: a fresh
-- client may send a second's worth at once, as the service's own bucket allows.
local function new_bucket(ceiling)
  return setmetatable({
    ceiling = ceiling,          -- requests/s never exceeded (nil = none)
    rate = ceiling,             -- current fill rate (nil = unlimited)
    tokens = ceiling and math.max(1, ceiling) or 1,
    last_refill = nil,
    adaptive = false,           -- switched on by the first throttle
    w_max = 0, k = 0, last_throttle = 0,
    measured = 0, bucket_start = nil, bucket_count = 0,
  }, Bucket)
end

function Bucket:refill(now)
  if not self.rate then return end
  if self.last_refill then
    local cap = math.max(1, self.rate)
    self.tokens = math.min(cap, self.tokens + (now - self.last_refill) / 1000 * self.rate * PACE)
  end
  self.last_refill = now
end

-- Smoothed request rate over 0.5 s buckets (what CUBIC calls the measured rate).
function Bucket:measure(now)
  if not self.bucket_start then self.bucket_start = now end
  self.bucket_count = self.bucket_count + 1
  local elapsed = (now - self.bucket_start) / 1000
  if elapsed >= BUCKET_S then
    local r = self.bucket_count / elapsed
    self.measured = r * SMOOTH + self.measured * (1 - SMOOTH)
    self.bucket_start, self.bucket_count = now, 0
  end
end

-- The measured rate, or before the first 0.5 s bucket completes, the rate so far in it
-- (a throttle can come within the first half second of a fast download).
function Bucket:current_rate(now)
  if self.measured > 0 then return self.measured end
  if self.bucket_start and now > self.bucket_start then
    return self.bucket_count / ((now - self.bucket_start) / 1000)
  end
  return 0
end

function Bucket:set_rate(r)
  r = math.max(MIN_RATE, r)
  if self.ceiling then r = math.min(r, self.ceiling) end
  self.rate = r
end

local Limiter = {}
Limiter.__index = Limiter

-- new{ region=, use_quotas=bool, max_rps=number|nil }
function M.new(opts)
  opts = opts or {}
  return setmetatable({
    region = opts.region, use_quotas = opts.use_quotas, max_rps = opts.max_rps,
    buckets = {}, throttles = 0,
  }, Limiter)
end

function Limiter:bucket(op)
  local b = self.buckets[op]
  if not b then
    local ceiling = self.max_rps
    if not ceiling and self.use_quotas then ceiling = M.default_quota(op, self.region) end
    b = new_bucket(ceiling)
    self.buckets[op] = b
  end
  return b
end

-- Milliseconds to wait before a request for `op` may be sent (0 = now).
function Limiter:delay(op, now)
  local b = self:bucket(op)
  if not b.rate then return 0 end
  b:refill(now)
  if b.tokens >= 1 then return 0 end
  return math.ceil((1 - b.tokens) / (b.rate * PACE) * 1000)
end

-- Spends a token; call only when delay() said 0.
function Limiter:take(op, now)
  local b = self:bucket(op)
  b:measure(now)
  if b.rate then
    b:refill(now)
    b.tokens = b.tokens - 1
  end
end

-- A throttle. `sent_at` (optional) is when the throttled request was sent: requests sent
-- before the last reduction were answered for the old rate and do not lower it again.
function Limiter:on_throttle(op, now, sent_at)
  local b = self:bucket(op)
  self.throttles = self.throttles + 1
  if sent_at and b.adaptive and sent_at < b.last_throttle then return end
  local measured = b:current_rate(now)
  local base
  if b.adaptive then
    base = measured > 0 and math.min(measured, b.rate) or b.rate
  else
    base = measured > 0 and measured or (b.rate or 10)
  end
  b.w_max = base
  b.k = (b.w_max * (1 - BETA) / SCALE_C) ^ (1 / 3)
  b.last_throttle = now
  b.adaptive = true
  b:set_rate(base * BETA)
  b:refill(now)
  b.tokens = math.min(b.tokens, 0)
end

function Limiter:on_success(op, now)
  local b = self:bucket(op)
  if not b.adaptive then return end
  local t = (now - b.last_throttle) / 1000
  local r = SCALE_C * (t - b.k) ^ 3 + b.w_max
  local measured = b:current_rate(now)
  if measured > 0 then r = math.min(r, math.max(2 * measured, b.w_max)) end
  b:set_rate(r)
end

-- Current rate for `op` in requests/s, or nil when unlimited (for progress/debug output).
function Limiter:rate(op)
  return self:bucket(op).rate
end

return M
