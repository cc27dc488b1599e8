-- Retry policy in the AWS SDKs' "standard" mode (aws-facts §7), with cwlogs' defaults.
--
-- Which errors are retried, how long to back off (full jitter, base 1 s, cap 20 s) and the
-- retry quota (a bucket of 500; a retry costs 5, 10 after a timeout; successes refund) that
-- stops a failing endpoint from being hammered. max_attempts counts the first try.
-- cwlogs defaults to 8 attempts (the AWS CLI: 3) because a long download that dies on a
-- passing throttle costs more than one that waits; AWS_MAX_ATTEMPTS / max_attempts override.
local M = {}

M.DEFAULT_MAX_ATTEMPTS = 8
-- Throttled attempts are paced by the rate limiter instead (transport.lua); a request
-- throttled this many times in a row still fails.
M.MAX_THROTTLE_RETRIES = 30

local THROTTLING = {}
for code in ([[Throttling ThrottlingException ThrottledException RequestThrottledException
  TooManyRequestsException ProvisionedThroughputExceededException TransactionInProgressException
  RequestLimitExceeded BandwidthLimitExceeded LimitExceededException RequestThrottled SlowDown
  PriorRequestNotComplete EC2ThrottledException]]):gmatch("%S+") do
  THROTTLING[code] = true
end

local TRANSIENT = { RequestTimeout = true, RequestTimeoutException = true,
  PriorRequestNotComplete = true, InternalFailure = true, ServiceUnavailableException = true,
  ServiceUnavailable = true, InternalServerError = true }
local TRANSIENT_STATUS = { [500] = true, [502] = true, [503] = true, [504] = true }

function M.is_throttle(err)
  return err ~= nil and (THROTTLING[err.code] == true or err.status == 429)
end

-- "throttle", "transient", "timeout" or nil (not retryable).
function M.classify(err)
  if not err then return nil end
  if M.is_throttle(err) then return "throttle" end
  if err.code == "NetworkError" then
    return err.kind == "timeout" and "timeout" or "transient"
  end
  if TRANSIENT[err.code] or TRANSIENT_STATUS[err.status] then return "transient" end
  return nil
end

local Policy = {}
Policy.__index = Policy

-- new{ mode="standard"|"legacy"|"adaptive", max_attempts=, base_ms=1000, cap_ms=20000,
--      random=function() -> [0,1) }
function M.new(opts)
  opts = opts or {}
  return setmetatable({
    mode = opts.mode or "standard",
    max_attempts = opts.max_attempts or M.DEFAULT_MAX_ATTEMPTS,
    base_ms = opts.base_ms or 1000,
    cap_ms = opts.cap_ms or 20000,
    random = opts.random or math.random,
    quota = 500, quota_max = 500,
  }, Policy)
end

-- Decides about a failed attempt number `attempt` (1 = first try).
-- Returns delay_ms, cost when it should be retried; nil, reason when not.
function Policy:should_retry(err, attempt)
  local kind = M.classify(err)
  if not kind then return nil, "not retryable" end
  if attempt >= self.max_attempts then return nil, "attempts exhausted" end
  local cost = kind == "timeout" and 10 or 5
  if kind ~= "throttle" then
    -- Throttles are paced by the rate limiter instead of spending the quota, so a busy
    -- account slows cwlogs down rather than failing it.
    if self.quota < cost then return nil, "retry quota exhausted" end
    self.quota = self.quota - cost
  else
    cost = 0
  end
  local ceiling = math.min(self.base_ms * 2 ^ (attempt - 1), self.cap_ms)
  return math.floor(self.random() * ceiling), cost
end

-- Called on success; `spent` is what the retries of this request cost.
function Policy:on_success(spent)
  local refund = (spent and spent > 0) and spent or 1
  self.quota = math.min(self.quota_max, self.quota + refund)
end

return M
