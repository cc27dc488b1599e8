-- The client-side rate limiter and the retry policy, as pure functions of a given clock.
local ratelimit = require("cwlogs.ratelimit")
local retry = require("cwlogs.retry")
local errors = require("cwlogs.errors")

describe("ratelimit", function()
  it("starts at the service's default quota for the region on AWS", function()
    assert.are.equal(25, ratelimit.default_quota("FilterLogEvents", "us-east-1"))
    assert.are.equal(5, ratelimit.default_quota("FilterLogEvents", "eu-central-1"))
    assert.are.equal(10, ratelimit.default_quota("FilterLogEvents", "eu-west-2"))
    assert.are.equal(30, ratelimit.default_quota("GetLogEvents", "eu-west-3"))
    local lim = ratelimit.new{ region = "eu-central-1", use_quotas = true }
    assert.are.equal(5, lim:rate("FilterLogEvents"))
    assert.are.equal(25, lim:rate("DescribeLogStreams"))
  end)

  it("has no ceiling on custom endpoints unless max_rps is given", function()
    assert.is_nil(ratelimit.new{ region = "us-east-1" }:rate("FilterLogEvents"))
    assert.are.equal(3, ratelimit.new{ max_rps = 3 }:rate("FilterLogEvents"))
  end)

  it("starts with one second's worth of tokens, then spaces requests at the rate", function()
    local lim = ratelimit.new{ max_rps = 5 }
    local now, sent, first_second = 0, 0, 0   -- first_second: sent at t = 0
    -- simulate 2 seconds in 1 ms steps, sending whenever allowed
    while now <= 2000 do
      while lim:delay("Op", now) == 0 do
        lim:take("Op", now)
        sent = sent + 1
        if now == 0 then first_second = first_second + 1 end
      end
      now = now + 1
    end
    assert.are.equal(5, first_second)                  -- the burst
    assert.is_true(sent >= 14 and sent <= 15, "sent " .. sent)   -- then ~5 per second
    local fresh = ratelimit.new{ max_rps = 5 }
    for _ = 1, 5 do
      assert.are.equal(0, fresh:delay("Op", 1000))
      fresh:take("Op", 1000)
    end
    -- one every 200 ms, less the 3 % margin the limiter keeps below the rate
    assert.are.equal(207, fresh:delay("Op", 1000))
    assert.are.equal(107, fresh:delay("Op", 1100))
  end)

  it("lowers the rate once for a burst of throttles answered for the old rate", function()
    local lim = ratelimit.new{ max_rps = 10 }
    for t = 0, 900, 100 do lim:take("Op", t) end
    lim:on_throttle("Op", 1000, 950)
    local r1 = lim:rate("Op")
    lim:on_throttle("Op", 1010, 960)     -- sent before the reduction: no second cut
    assert.are.equal(r1, lim:rate("Op"))
    lim:on_throttle("Op", 1500, 1200)    -- sent after it: the rate drops again
    assert.is_true(lim:rate("Op") < r1)
  end)

  it("drops to 0.7 of the measured rate on a throttle and climbs back along a cubic", function()
    local lim = ratelimit.new{}
    -- 100 requests/s for a second, then a throttle
    for t = 0, 990, 10 do lim:take("Op", t) end
    lim:on_throttle("Op", 1000)
    -- the measured rate is smoothed (0.8 new, 0.2 old) over 0.5 s buckets: 0.8 * 100 + ...
    local after = lim:rate("Op")
    assert.is_true(after > 50 and after <= 70, "rate after throttle " .. after)
    -- successes: the rate grows back towards (and past) the old maximum over time
    local r1
    for t = 1000, 3000, 10 do
      if lim:delay("Op", t) == 0 then lim:take("Op", t) lim:on_success("Op", t) end
      if t == 1500 then r1 = lim:rate("Op") end
    end
    local r2 = lim:rate("Op")
    assert.is_true(r1 >= after * 0.99, "no growth: " .. r1 .. " < " .. after)
    assert.is_true(r2 > r1, "rate did not recover: " .. r2 .. " <= " .. r1)
    assert.are.equal(1, lim.throttles)
  end)

  it("uses the rate so far when a throttle comes before the first half second", function()
    local lim = ratelimit.new{}
    for t = 0, 200, 2 do lim:take("Op", t) end      -- ~500 requests/s for 0.2 s
    lim:on_throttle("Op", 200)
    assert.is_true(lim:rate("Op") > 300, "rate " .. lim:rate("Op"))
  end)

  it("never goes below 0.5 requests per second and never above the ceiling", function()
    local lim = ratelimit.new{ max_rps = 10 }
    for i = 1, 50 do lim:on_throttle("Op", i) end
    assert.are.equal(0.5, lim:rate("Op"))
    for t = 100, 600000, 1000 do lim:on_success("Op", t) end
    assert.are.equal(10, lim:rate("Op"))
  end)
end)

describe("retry policy", function()
  local function err(code, status, kind)
    return errors.make(code, "x", { status = status, kind = kind })
  end

  it("classifies throttling, transient and fatal errors", function()
    assert.are.equal("throttle", retry.classify(err("ThrottlingException", 400)))
    assert.are.equal("throttle", retry.classify(err("Whatever", 429)))
    assert.are.equal("throttle", retry.classify(err("LimitExceededException", 400)))
    assert.are.equal("transient", retry.classify(err("InternalFailure", 500)))
    assert.are.equal("transient", retry.classify(err("HTTP503", 503)))
    assert.are.equal("transient", retry.classify(err("NetworkError", nil, "reset")))
    assert.are.equal("timeout", retry.classify(err("NetworkError", nil, "timeout")))
    assert.is_nil(retry.classify(err("AccessDeniedException", 400)))
    assert.is_nil(retry.classify(err("ResourceNotFoundException", 400)))
    assert.is_nil(retry.classify(err("SignatureDoesNotMatch", 403)))
  end)

  it("backs off with full jitter, doubling from the base up to the cap", function()
    local p = retry.new{ max_attempts = 10, base_ms = 1000, cap_ms = 20000,
      random = function() return 0.999999 end }
    local expect = { 999, 1999, 3999, 7999, 15999, 19999, 19999 }
    for attempt, ms in ipairs(expect) do
      local d = p:should_retry(err("InternalFailure", 500), attempt)
      assert.are.equal(ms, d)
    end
    local zero = retry.new{ random = function() return 0 end }
    assert.are.equal(0, (zero:should_retry(err("InternalFailure", 500), 1)))
  end)

  it("stops at max_attempts and for errors that are not retryable", function()
    local p = retry.new{ max_attempts = 3 }
    assert.is_number((p:should_retry(err("InternalFailure", 500), 2)))
    local d, why = p:should_retry(err("InternalFailure", 500), 3)
    assert.is_nil(d)
    assert.are.equal("attempts exhausted", why)
    d, why = p:should_retry(err("AccessDeniedException", 400), 1)
    assert.is_nil(d)
    assert.are.equal("not retryable", why)
  end)

  it("spends a retry quota on transient errors, refunded by successes; throttles are free", function()
    local p = retry.new{ max_attempts = 1000 }
    local allowed = 0
    while p:should_retry(err("InternalFailure", 500), 1) do allowed = allowed + 1 end
    assert.are.equal(100, allowed)                      -- 500 / 5
    assert.is_number((p:should_retry(err("ThrottlingException", 400), 1)))
    p:on_success(10)
    assert.is_number((p:should_retry(err("InternalFailure", 500), 1)))
    local t = retry.new{}
    local timeouts = 0
    while t:should_retry(err("NetworkError", nil, "timeout"), 1) do timeouts = timeouts + 1 end
    assert.are.equal(50, timeouts)                      -- 500 / 10
  end)

  it("defaults to 8 attempts", function()
    assert.are.equal(8, retry.new{}.max_attempts)
  end)
end)
