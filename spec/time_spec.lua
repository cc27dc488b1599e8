-- Specs for the C time parser and zones: core.parse_time, core.format_time,
-- core.zone_offset, core.zone.
--
-- Expected instants are written as literal ISO 8601 strings with explicit offsets and
-- converted by `ref_ms` below, which shares no code with the module under test. The
-- offsets of the named zones (America/New_York and others) were checked offline with
-- python3's zoneinfo, whose fold=0 reading of a wall time is exactly our rule (gap: the
-- offset before it; overlap: the first occurrence).
local core = require "cwlogs.core"

-- Days from 1970-01-01 by counting leap years, independent of the C code's algorithm.
local function ref_days(y, m, d)
  local function leaps(n) return n // 4 - n // 100 + n // 400 end
  local before_month = { 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334 }
  local days = 365 * (y - 1970) + leaps(y - 1) - leaps(1969) + before_month[m] + d - 1
  if m > 2 and y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0) then days = days + 1 end
  return days
end

-- "2026-11-25T14:00:00.250-05:00" (or "...Z") -> epoch milliseconds.
local function ref_ms(iso)
  local y, mo, d, h, mi, s, frac, zone =
    iso:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)%.?(%d*)(.*)$")
  assert(y, "bad reference time " .. iso)
  local off = 0
  if zone ~= "Z" then
    local sign, oh, om = zone:match("^([+-])(%d%d):(%d%d)$")
    assert(sign, "bad reference offset " .. iso)
    off = (tonumber(oh) * 3600 + tonumber(om) * 60) * (sign == "-" and -1 or 1)
  end
  local ms = tonumber((frac .. "000"):sub(1, 3))
  local secs = ref_days(tonumber(y), tonumber(mo), tonumber(d)) * 86400
    + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s) - off
  return secs * 1000 + ms
end

describe("reference helper", function()
  it("agrees with epoch values computed offline with python3", function()
    assert.are.equal(0, ref_ms("1970-01-01T00:00:00Z"))
    assert.are.equal(1795615200000, ref_ms("2026-11-25T14:00:00Z"))
    assert.are.equal(1795615200000, ref_ms("2026-11-25T09:00:00-05:00"))
    assert.are.equal(1709251199999, ref_ms("2024-02-29T23:59:59.999Z"))
    assert.are.equal(-62135596800000, ref_ms("0001-01-01T00:00:00Z"))
    assert.are.equal(-1000, ref_ms("1969-12-31T23:59:59Z"))
  end)
end)

-- Each group: a zone, a "now", and { input, expected instant } rows.
local valid_groups = {
  {
    name = "UTC, now Wednesday 2026-11-25 14:30:15.250",
    tz = "utc", now = "2026-11-25T14:30:15.250Z",
    cases = {
      { "now", "2026-11-25T14:30:15.250Z" },
      { "NOW", "2026-11-25T14:30:15.250Z" },
      { "  now \t", "2026-11-25T14:30:15.250Z" },
      { "today", "2026-11-25T00:00:00Z" },
      { "yesterday", "2026-11-24T00:00:00Z" },
      { "tomorrow", "2026-11-26T00:00:00Z" },
      { "noon", "2026-11-25T12:00:00Z" },
      { "midnight", "2026-11-25T00:00:00Z" },
      { "yesterday at 3pm", "2026-11-24T15:00:00Z" },
      { "yesterday 3pm", "2026-11-24T15:00:00Z" },
      { "Yesterday At 3PM", "2026-11-24T15:00:00Z" },
      { "yesterday at 15:30:45", "2026-11-24T15:30:45Z" },
      { "yesterday at noon", "2026-11-24T12:00:00Z" },
      { "today 14:00", "2026-11-25T14:00:00Z" },
      { "today at 9am", "2026-11-25T09:00:00Z" },
      { "tomorrow noon", "2026-11-26T12:00:00Z" },
      { "tomorrow at midnight", "2026-11-26T00:00:00Z" },
      { "tomorrow 8:15am", "2026-11-26T08:15:00Z" },
      -- bare clock times are today, even when still to come
      { "3pm", "2026-11-25T15:00:00Z" },
      { "3 pm", "2026-11-25T15:00:00Z" },
      { "3:30pm", "2026-11-25T15:30:00Z" },
      { "3:30 PM", "2026-11-25T15:30:00Z" },
      { "11:59:59pm", "2026-11-25T23:59:59Z" },
      { "12am", "2026-11-25T00:00:00Z" },
      { "12pm", "2026-11-25T12:00:00Z" },
      { "12:30am", "2026-11-25T00:30:00Z" },
      { "1am", "2026-11-25T01:00:00Z" },
      { "15:30", "2026-11-25T15:30:00Z" },
      { "15:30:45", "2026-11-25T15:30:45Z" },
      { "0:05", "2026-11-25T00:05:00Z" },
      { "09:00", "2026-11-25T09:00:00Z" },
      { "23:59:59", "2026-11-25T23:59:59Z" },
      { "24:00", "2026-11-26T00:00:00Z" },
      -- durations
      { "1 second ago", "2026-11-25T14:30:14.250Z" },
      { "45s", "2026-11-25T14:29:30.250Z" },
      { "45 secs ago", "2026-11-25T14:29:30.250Z" },
      { "90m", "2026-11-25T13:00:15.250Z" },
      { "90 minutes ago", "2026-11-25T13:00:15.250Z" },
      { "90 mins ago", "2026-11-25T13:00:15.250Z" },
      { "5 min ago", "2026-11-25T14:25:15.250Z" },
      { "1h30m", "2026-11-25T13:00:15.250Z" },
      { "2h15m30s", "2026-11-25T12:14:45.250Z" },
      { "1 hour ago", "2026-11-25T13:30:15.250Z" },
      { "an hour ago", "2026-11-25T13:30:15.250Z" },
      { "10 hrs ago", "2026-11-25T04:30:15.250Z" },
      { "twelve hours ago", "2026-11-25T02:30:15.250Z" },
      { "eleven minutes ago", "2026-11-25T14:19:15.250Z" },
      { "100000 seconds ago", "2026-11-24T10:43:35.250Z" },
      { "0 seconds ago", "2026-11-25T14:30:15.250Z" },
      { "a day ago", "2026-11-24T14:30:15.250Z" },
      { "2 days ago", "2026-11-23T14:30:15.250Z" },
      { "two days ago", "2026-11-23T14:30:15.250Z" },
      { "Two Days Ago", "2026-11-23T14:30:15.250Z" },
      { "2d", "2026-11-23T14:30:15.250Z" },
      { "2 days", "2026-11-23T14:30:15.250Z" },
      { "1w", "2026-11-18T14:30:15.250Z" },
      { "1 week ago", "2026-11-18T14:30:15.250Z" },
      { "3 weeks ago", "2026-11-04T14:30:15.250Z" },
      { "1 month ago", "2026-10-25T14:30:15.250Z" },
      { "1mo", "2026-10-25T14:30:15.250Z" },
      { "3 months ago", "2026-08-25T14:30:15.250Z" },
      { "1 year ago", "2025-11-25T14:30:15.250Z" },
      { "1y", "2025-11-25T14:30:15.250Z" },
      { "2 yrs ago", "2024-11-25T14:30:15.250Z" },
      { "1 hour 30 minutes ago", "2026-11-25T13:00:15.250Z" },
      { "1 hour and 30 minutes ago", "2026-11-25T13:00:15.250Z" },
      { "1 day 2 hours ago", "2026-11-24T12:30:15.250Z" },
      { "1 year 2 months ago", "2025-09-25T14:30:15.250Z" },
      { "2 days ago at 3pm", "2026-11-23T15:00:00Z" },
      { "in 2 hours", "2026-11-25T16:30:15.250Z" },
      { "in 90m", "2026-11-25T16:00:15.250Z" },
      { "in 1 day", "2026-11-26T14:30:15.250Z" },
      { "in a week", "2026-12-02T14:30:15.250Z" },
      { "in 2 months", "2027-01-25T14:30:15.250Z" },
      { "last week", "2026-11-18T14:30:15.250Z" },
      { "last month", "2026-10-25T14:30:15.250Z" },
      { "last year", "2025-11-25T14:30:15.250Z" },
      { "last hour", "2026-11-25T13:30:15.250Z" },
      { "last day", "2026-11-24T14:30:15.250Z" },
      -- weekdays; today is Wednesday
      { "wednesday", "2026-11-25T00:00:00Z" },
      { "wed", "2026-11-25T00:00:00Z" },
      { "last wednesday", "2026-11-18T00:00:00Z" },
      { "tuesday", "2026-11-24T00:00:00Z" },
      { "tues", "2026-11-24T00:00:00Z" },
      { "last tuesday", "2026-11-24T00:00:00Z" },
      { "monday", "2026-11-23T00:00:00Z" },
      { "mon", "2026-11-23T00:00:00Z" },
      { "last monday", "2026-11-23T00:00:00Z" },
      { "sunday", "2026-11-22T00:00:00Z" },
      { "sun", "2026-11-22T00:00:00Z" },
      { "saturday", "2026-11-21T00:00:00Z" },
      { "friday", "2026-11-20T00:00:00Z" },
      { "thursday", "2026-11-19T00:00:00Z" },
      { "thurs", "2026-11-19T00:00:00Z" },
      { "last thursday", "2026-11-19T00:00:00Z" },
      { "last friday at 9am", "2026-11-20T09:00:00Z" },
      { "monday 3pm", "2026-11-23T15:00:00Z" },
      { "last sunday at noon", "2026-11-22T12:00:00Z" },
      { "Wednesday 08:30", "2026-11-25T08:30:00Z" },
      -- ISO 8601
      { "2026-11-25", "2026-11-25T00:00:00Z" },
      { "2026-11-25 14:00", "2026-11-25T14:00:00Z" },
      { "2026-11-25T14:00", "2026-11-25T14:00:00Z" },
      { "2026-11-25t14:00:00", "2026-11-25T14:00:00Z" },
      { "2026-11-25T14:00:00Z", "2026-11-25T14:00:00Z" },
      { "2026-11-25T14:00:00z", "2026-11-25T14:00:00Z" },
      { "2026-11-25T14:00:00.5Z", "2026-11-25T14:00:00.500Z" },
      { "2026-11-25T14:00:00,5Z", "2026-11-25T14:00:00.500Z" },
      { "2026-11-25T14:00:00.123Z", "2026-11-25T14:00:00.123Z" },
      { "2026-11-25T14:00:00.123456789Z", "2026-11-25T14:00:00.123Z" },
      { "2026-11-25T14:00:00+02:00", "2026-11-25T12:00:00Z" },
      { "2026-11-25T14:00:00+0200", "2026-11-25T12:00:00Z" },
      { "2026-11-25T14:00:00-05", "2026-11-25T19:00:00Z" },
      { "2026-11-25T14:00:00-05:30", "2026-11-25T19:30:00Z" },
      { "2026-11-25 14:00 +01:00", "2026-11-25T13:00:00Z" },
      { "2026-11-25T24:00", "2026-11-26T00:00:00Z" },
      { "2026/11/25", "2026-11-25T00:00:00Z" },
      { "2026/11/25 14:00", "2026-11-25T14:00:00Z" },
      { "2026-11-25 3pm", "2026-11-25T15:00:00Z" },
      { "2026-11-25 at noon", "2026-11-25T12:00:00Z" },
      { "2024-02-29", "2024-02-29T00:00:00Z" },
      { "2026-12-31T23:59:59.999Z", "2026-12-31T23:59:59.999Z" },
      { "1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z" },
      { "1969-12-31T23:59:59.999Z", "1969-12-31T23:59:59.999Z" },
      { "0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z" },
      { "9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z" },
      -- epochs
      { "@1764079200", "2025-11-25T14:00:00Z" },
      { "@1764079200.5", "2025-11-25T14:00:00.500Z" },
      { "@1764079200.123456", "2025-11-25T14:00:00.123Z" },
      { "@0", "1970-01-01T00:00:00Z" },
      { "@-1", "1969-12-31T23:59:59Z" },
      { "1764079200000", "2025-11-25T14:00:00Z" },
      { "1764079200123", "2025-11-25T14:00:00.123Z" },
      { "0000000000000", "1970-01-01T00:00:00Z" },
    },
  },
  {
    name = "+05:30, now 2026-11-25 20:00:15.250 local",
    tz = "+05:30", now = "2026-11-25T14:30:15.250Z",
    cases = {
      { "today", "2026-11-25T00:00:00+05:30" },
      { "yesterday", "2026-11-24T00:00:00+05:30" },
      { "midnight", "2026-11-25T00:00:00+05:30" },
      { "3pm", "2026-11-25T15:00:00+05:30" },
      { "2026-11-25 14:00", "2026-11-25T14:00:00+05:30" },
      { "2026-11-25T14:00Z", "2026-11-25T14:00:00Z" },
      { "2 days ago", "2026-11-23T20:00:15.250+05:30" },
      { "1 month ago", "2026-10-25T20:00:15.250+05:30" },
      { "monday", "2026-11-23T00:00:00+05:30" },
    },
  },
  {
    name = "+05:30 where the local date is already tomorrow (Thursday)",
    tz = "+0530", now = "2026-11-25T20:00:00Z",
    cases = {
      { "today", "2026-11-26T00:00:00+05:30" },
      { "yesterday", "2026-11-25T00:00:00+05:30" },
      { "thursday", "2026-11-26T00:00:00+05:30" },
      { "last thursday", "2026-11-19T00:00:00+05:30" },
      { "noon", "2026-11-26T12:00:00+05:30" },
    },
  },
  {
    name = "-08:00 where the local date is still yesterday",
    tz = "-08:00", now = "2026-11-25T05:00:00Z",
    cases = {
      { "today", "2026-11-24T00:00:00-08:00" },
      { "tuesday", "2026-11-24T00:00:00-08:00" },
      { "9pm", "2026-11-24T21:00:00-08:00" },
      { "2026-11-25", "2026-11-25T00:00:00-08:00" },
    },
  },
  {
    name = "Z and UTC spellings",
    tz = "Z", now = "2026-11-25T14:30:15.250Z",
    cases = {
      { "today", "2026-11-25T00:00:00Z" },
      { "2026-11-25 14:00", "2026-11-25T14:00:00Z" },
    },
  },
  {
    name = "New York, Monday after the spring-forward change",
    tz = "America/New_York", now = "2026-03-09T12:00:00-04:00",
    cases = {
      { "2 days ago", "2026-03-07T12:00:00-05:00" },
      { "1 day ago", "2026-03-08T12:00:00-04:00" },
      { "48 hours ago", "2026-03-07T11:00:00-05:00" },
      { "24 hours ago", "2026-03-08T12:00:00-04:00" },
      { "1 week ago", "2026-03-02T12:00:00-05:00" },
      { "last week", "2026-03-02T12:00:00-05:00" },
      { "168 hours ago", "2026-03-02T11:00:00-05:00" },
      { "1 month ago", "2026-02-09T12:00:00-05:00" },
      { "today", "2026-03-09T00:00:00-04:00" },
      { "yesterday", "2026-03-08T00:00:00-05:00" },
      { "yesterday at 3pm", "2026-03-08T15:00:00-04:00" },
      { "yesterday at 1:59am", "2026-03-08T01:59:00-05:00" },
      -- inside the gap: read with the offset before it (EST)
      { "yesterday at 2:30am", "2026-03-08T02:30:00-05:00" },
      { "2 days ago at 2:30am", "2026-03-07T02:30:00-05:00" },
      { "monday", "2026-03-09T00:00:00-04:00" },
      { "last monday", "2026-03-02T00:00:00-05:00" },
      { "sunday", "2026-03-08T00:00:00-05:00" },
      { "2026-03-08 01:59:59", "2026-03-08T01:59:59-05:00" },
      { "2026-03-08 02:00", "2026-03-08T02:00:00-05:00" },
      { "2026-03-08 02:30", "2026-03-08T07:30:00Z" },
      { "2026-03-08 03:00", "2026-03-08T03:00:00-04:00" },
      { "2026-03-08 03:30", "2026-03-08T03:30:00-04:00" },
      { "2026-03-08T02:30:00-04:00", "2026-03-08T06:30:00Z" },
    },
  },
  {
    name = "New York, the day of the spring-forward change",
    tz = "America/New_York", now = "2026-03-08T12:00:00-04:00",
    cases = {
      { "3 hours ago", "2026-03-08T09:00:00-04:00" },
      { "12 hours ago", "2026-03-07T23:00:00-05:00" },
      { "today", "2026-03-08T00:00:00-05:00" },
      { "2:30am", "2026-03-08T02:30:00-05:00" },
      { "1:59am", "2026-03-08T01:59:00-05:00" },
      { "3am", "2026-03-08T03:00:00-04:00" },
      { "sunday", "2026-03-08T00:00:00-05:00" },
      { "last sunday", "2026-03-01T00:00:00-05:00" },
      { "in 1 day", "2026-03-09T12:00:00-04:00" },
      { "1 day ago", "2026-03-07T12:00:00-05:00" },
    },
  },
  {
    name = "New York, a day before a wall time in the gap",
    tz = "America/New_York", now = "2026-03-07T02:30:00-05:00",
    cases = {
      { "in 1 day", "2026-03-08T07:30:00Z" },
      { "in 24 hours", "2026-03-08T07:30:00Z" },
      { "in 2 days", "2026-03-09T02:30:00-04:00" },
    },
  },
  {
    name = "New York, Monday after the fall-back change",
    tz = "America/New_York", now = "2026-11-02T12:00:00-05:00",
    cases = {
      { "yesterday", "2026-11-01T00:00:00-04:00" },
      -- inside the overlap: the first occurrence (EDT)
      { "yesterday at 1:30am", "2026-11-01T01:30:00-04:00" },
      { "yesterday 2am", "2026-11-01T02:00:00-05:00" },
      { "1 day ago", "2026-11-01T12:00:00-05:00" },
      { "2 days ago", "2026-10-31T12:00:00-04:00" },
      { "48 hours ago", "2026-10-31T13:00:00-04:00" },
      { "sunday", "2026-11-01T00:00:00-04:00" },
      { "last sunday at 1:30am", "2026-11-01T01:30:00-04:00" },
      { "1 week ago", "2026-10-26T12:00:00-04:00" },
      { "2026-11-01 00:59", "2026-11-01T00:59:00-04:00" },
      { "2026-11-01 01:00", "2026-11-01T01:00:00-04:00" },
      { "2026-11-01 01:30", "2026-11-01T05:30:00Z" },
      { "2026-11-01 01:59:59", "2026-11-01T01:59:59-04:00" },
      { "2026-11-01 02:00", "2026-11-01T02:00:00-05:00" },
      { "2026-11-01T01:30:00-05:00", "2026-11-01T06:30:00Z" },
      { "2026-11-25T09:00", "2026-11-25T09:00:00-05:00" },
      { "2026-07-01 12:00", "2026-07-01T12:00:00-04:00" },
    },
  },
  {
    name = "New York, now in the second 01:30 of the fall-back night",
    tz = "America/New_York", now = "2026-11-01T01:30:00-05:00",
    cases = {
      { "now", "2026-11-01T06:30:00Z" },
      { "1 hour ago", "2026-11-01T01:30:00-04:00" },
      { "30 minutes ago", "2026-11-01T01:00:00-05:00" },
      { "today", "2026-11-01T00:00:00-04:00" },
      { "noon", "2026-11-01T12:00:00-05:00" },
      { "1 day ago", "2026-10-31T01:30:00-04:00" },
    },
  },
  {
    name = "leap day, UTC",
    tz = "utc", now = "2024-02-29T10:00:00Z",
    cases = {
      { "1 year ago", "2023-02-28T10:00:00Z" },
      { "12 months ago", "2023-02-28T10:00:00Z" },
      { "in 1 year", "2025-02-28T10:00:00Z" },
      { "4 years ago", "2020-02-29T10:00:00Z" },
      { "1 month ago", "2024-01-29T10:00:00Z" },
      { "in 1 month", "2024-03-29T10:00:00Z" },
      { "1 day ago", "2024-02-28T10:00:00Z" },
      { "yesterday", "2024-02-28T00:00:00Z" },
      { "tomorrow", "2024-03-01T00:00:00Z" },
      { "thursday", "2024-02-29T00:00:00Z" },
      { "last thursday", "2024-02-22T00:00:00Z" },
    },
  },
  {
    name = "month ends, UTC",
    tz = "utc", now = "2026-03-31T08:00:00Z",
    cases = {
      { "1 month ago", "2026-02-28T08:00:00Z" },
      { "1 mo ago", "2026-02-28T08:00:00Z" },
      { "2 months ago", "2026-01-31T08:00:00Z" },
      { "13 months ago", "2025-02-28T08:00:00Z" },
      { "in 1 month", "2026-04-30T08:00:00Z" },
      { "1 week ago", "2026-03-24T08:00:00Z" },
      { "tuesday", "2026-03-31T00:00:00Z" },
    },
  },
  {
    name = "month end in a leap year, UTC",
    tz = "utc", now = "2024-03-31T08:00:00Z",
    cases = {
      { "1 month ago", "2024-02-29T08:00:00Z" },
      { "last month", "2024-02-29T08:00:00Z" },
    },
  },
  {
    name = "new year, UTC",
    tz = "utc", now = "2026-01-01T00:30:00Z",
    cases = {
      { "yesterday", "2025-12-31T00:00:00Z" },
      { "1 month ago", "2025-12-01T00:30:00Z" },
      { "2 hours ago", "2025-12-31T22:30:00Z" },
      { "last year", "2025-01-01T00:30:00Z" },
    },
  },
  {
    name = "other zones",
    tz = "Europe/London", now = "2026-07-01T12:00:00Z",
    cases = {
      { "2026-07-01 12:00", "2026-07-01T12:00:00+01:00" },
      { "2026-01-15 12:00", "2026-01-15T12:00:00Z" },
      { "today", "2026-07-01T00:00:00+01:00" },
    },
  },
  {
    name = "Australia/Sydney (southern hemisphere)",
    tz = "Australia/Sydney", now = "2026-07-01T12:00:00Z",
    cases = {
      { "2026-01-15 09:00", "2026-01-15T09:00:00+11:00" },
      { "2026-07-15 09:00", "2026-07-15T09:00:00+10:00" },
      { "today", "2026-07-01T00:00:00+10:00" },
    },
  },
  {
    name = "Asia/Kathmandu (+05:45)",
    tz = "Asia/Kathmandu", now = "2026-07-01T12:00:00Z",
    cases = {
      { "2026-11-25 14:00", "2026-11-25T14:00:00+05:45" },
      { "today", "2026-07-01T00:00:00+05:45" },
    },
  },
  {
    name = "a POSIX TZ rule as the zone",
    tz = "EST5EDT,M3.2.0,M11.1.0", now = "2026-07-01T12:00:00Z",
    cases = {
      { "2026-07-01 12:00", "2026-07-01T12:00:00-04:00" },
      { "2026-01-15 12:00", "2026-01-15T12:00:00-05:00" },
      { "2026-03-08 02:30", "2026-03-08T02:30:00-05:00" },
    },
  },
  {
    name = "a quoted POSIX TZ rule without DST",
    tz = "<+0330>-3:30", now = "2026-07-01T12:00:00Z",
    cases = {
      { "2026-07-01 12:00", "2026-07-01T12:00:00+03:30" },
      { "today", "2026-07-01T00:00:00+03:30" },
    },
  },
}

local function count_valid()
  local n = 0
  for _, g in ipairs(valid_groups) do n = n + #g.cases end
  return n
end

describe("core.parse_time valid input", function()
  it("has the promised coverage (150+ cases)", function()
    assert.is_true(count_valid() >= 150)
  end)
  for _, g in ipairs(valid_groups) do
    describe(g.name, function()
      for _, c in ipairs(g.cases) do
        it(string.format("%q", c[1]), function()
          local got, err = core.parse_time(c[1], { now = ref_ms(g.now), tz = g.tz })
          assert.is_nil(err)
          assert.are.equal(ref_ms(c[2]), got)
          assert.is_true(math.type(got) == "integer")
        end)
      end
    end)
  end
end)

-- { input, pattern the message must match (plain text) }
local invalid = {
  { "", "unrecognised time ''" },
  { "   ", "unrecognised time ''" },
  { "tuesdy", "unrecognised time 'tuesdy'" },
  { "2026-02-30", "invalid date '2026-02-30'" },
  { "2025-02-29", "invalid date '2025-02-29'" },
  { "2026-13-01", "invalid date '2026-13-01'" },
  { "2026-00-10", "invalid date '2026-00-10'" },
  { "2026-11-00", "invalid date '2026-11-00'" },
  { "2026-02-30 14:00", "invalid date '2026-02-30'" },
  { "25:00", "invalid time of day '25:00'" },
  { "24:01", "invalid time of day '24:01'" },
  { "13pm", "invalid time of day '13pm'" },
  { "0am", "invalid time of day '0am'" },
  { "12:60", "invalid time of day '12:60'" },
  { "yesterday at 25:00", "invalid time of day '25:00'" },
  { "2026-11-25T25:00", "invalid time of day '25:00'" },
  { "2026-11-25T24:00:01", "invalid time of day '24:00:01'" },
  { "+25:00", "invalid time zone offset '+25:00'" },
  { "2026-11-25T14:00:00+25:00", "invalid time zone offset '+25:00'" },
  { "2026-11-25T14:00:00+05:60", "invalid time zone offset '+05:60'" },
  { "3 parsecs ago", "unrecognised time '3 parsecs ago'" },
  { "ago", "unrecognised time 'ago'" },
  { "in", "unrecognised time 'in'" },
  { "yesterday at", "unrecognised time 'yesterday at'" },
  { "monday at", "unrecognised time 'monday at'" },
  { "now now", "unrecognised time" },
  { "now ago", "unrecognised time" },
  { "yesterday garbage", "unrecognised time" },
  { "today at 3", "unrecognised time" },
  { "2 days ago!", "unrecognised time" },
  { "1 hour ago ago", "unrecognised time" },
  { "in 2 days ago", "unrecognised time" },
  { "-2 days ago", "unrecognised time" },
  { "in -2 days", "unrecognised time" },
  { "99999999999 days ago", "number out of range '99999999999'" },
  { "99999999 years ago", "time out of range" },
  { "10000 years ago", "time out of range" },
  { "in 8000 years", "time out of range" },
  { "@99999999999999", "time out of range" },
  { "12345", "unrecognised time '12345'" },
  { "3", "unrecognised time '3'" },
  { "176407920000", "unrecognised time" },
  { "17640792000000", "unrecognised time" },
  { "last", "unrecognised time" },
  { "last tuesdy", "unrecognised time" },
  { "next monday", "unrecognised time" },
  { "3pm tomorrow", "unrecognised time" },
  { "twelve", "unrecognised time" },
  { "thirteen hours ago", "unrecognised time" },
  { "15:3", "invalid time of day '15:3'" },
  { "3:30:5pm", "invalid time of day '3:30:5pm'" },
  { "15:", "unrecognised time" },
  { "2026-11-25T", "unrecognised time" },
  { "2026-11-25T14", "unrecognised time" },
  { "2026-11-25 14:00 garbage", "unrecognised time" },
  { "2026-11-25T14:00:00.Z", "unrecognised time" },
  { "2026-11-25/14:00", "unrecognised time" },
  { "2026-1-5", "unrecognised time" },
  { "2026-11/25", "unrecognised time" },
  { "10000-01-01", "unrecognised time" },
  { "@", "unrecognised time" },
  { "@abc", "unrecognised time" },
  { "@1.", "unrecognised time" },
  { "1h30", "unrecognised time" },
  { "90 m m", "unrecognised time" },
  { "a", "unrecognised time" },
  { "now\0", "unrecognised time" },
  { string.rep("1 hour ", 30) .. "ago", "too long" },
}

describe("core.parse_time invalid input", function()
  it("has the promised coverage (30+ cases)", function()
    assert.is_true(#invalid >= 30)
  end)
  for _, c in ipairs(invalid) do
    it(string.format("rejects %q", c[1]), function()
      local got, err = core.parse_time(c[1], { now = ref_ms("2026-11-25T14:30:15.250Z"), tz = "utc" })
      assert.is_nil(got)
      assert.is_string(err)
      assert.is_truthy(err:find(c[2], 1, true), "message was: " .. err)
    end)
  end
end)

describe("core.parse_time options", function()
  it("rejects a bad zone with a message instead of raising", function()
    local cases = {
      { "Nope/Zone", "unknown time zone 'Nope/Zone'" },
      { "../../etc/passwd", "invalid time zone '../../etc/passwd'" },
      { "America/../Europe/London", "invalid time zone" },
      { "/etc/passwd", "invalid time zone '/etc/passwd'" },
      { "+25:00", "invalid time zone offset '+25:00'" },
      { "America", "time zone 'America'" },
      { "", "time zone" },
    }
    for _, c in ipairs(cases) do
      local got, err = core.parse_time("now", { tz = c[1] })
      assert.is_nil(got)
      assert.is_truthy(err:find(c[2], 1, true), c[1] .. " gave: " .. tostring(err))
    end
  end)

  it("accepts an absolute path inside the zoneinfo directory", function()
    local got = core.parse_time("2026-07-01 12:00", { tz = "/usr/share/zoneinfo/Asia/Tokyo" })
    assert.are.equal(ref_ms("2026-07-01T12:00:00+09:00"), got)
  end)

  it("raises on argument types that are programming errors", function()
    assert.has_error(function() core.parse_time("now", { tz = 5 }) end)
    assert.has_error(function() core.parse_time("now", { now = 1.5 }) end)
    assert.has_error(function() core.parse_time("now", "utc") end)
    assert.has_error(function() core.parse_time({}) end)
  end)

  it("reads an integer argument as its digits (13 digits = epoch ms)", function()
    assert.are.equal(1764079200000, core.parse_time(1764079200000, { tz = "utc" }))
  end)

  it("uses the clock when opts.now is absent", function()
    local before = core.now_ms()
    local got = core.parse_time("now", { tz = "utc" })
    local after = core.time_ms()
    assert.is_true(before <= got and got <= after)
    local ref = core.parse_time("1 hour ago", { tz = "utc", now = got })
    assert.are.equal(got - 3600000, ref)
  end)

  it("accepts a zone object as opts.tz", function()
    local z = assert(core.zone("America/New_York"))
    local got = core.parse_time("2026-03-08 02:30", { tz = z })
    assert.are.equal(ref_ms("2026-03-08T07:30:00Z"), got)
    z:close()
    assert.has_error(function() core.parse_time("now", { tz = z }) end)
  end)
end)

describe("core.format_time", function()
  local t = ref_ms("2026-11-25T14:00:00Z")
  local cases = {
    { t, "utc", "2026-11-25T14:00:00.000Z" },
    { t, "UTC", "2026-11-25T14:00:00.000Z" },
    { t, "America/New_York", "2026-11-25T09:00:00.000-05:00" },
    { ref_ms("2026-07-01T12:00:00Z"), "America/New_York", "2026-07-01T08:00:00.000-04:00" },
    { t, "Asia/Kolkata", "2026-11-25T19:30:00.000+05:30" },
    { t, "+05:30", "2026-11-25T19:30:00.000+05:30" },
    { t, "-08:00", "2026-11-25T06:00:00.000-08:00" },
    { t, "Asia/Kathmandu", "2026-11-25T19:45:00.000+05:45" },
    { t, "Pacific/Chatham", "2026-11-26T03:45:00.000+13:45" },
    { t, "Australia/Lord_Howe", "2026-11-26T01:00:00.000+11:00" },
    { t, "America/St_Johns", "2026-11-25T10:30:00.000-03:30" },
    { t, "Europe/London", "2026-11-25T14:00:00.000Z" },
    { t + 7, "utc", "2026-11-25T14:00:00.007Z" },
    { 0, "utc", "1970-01-01T00:00:00.000Z" },
    { -1, "utc", "1969-12-31T23:59:59.999Z" },
    { ref_ms("1800-01-01T00:00:00Z"), "America/New_York", "1799-12-31T19:03:58.000-04:56:02" },
    { ref_ms("2100-07-01T00:00:00Z"), "America/New_York", "2100-06-30T20:00:00.000-04:00" },
    { ref_ms("0001-01-01T00:00:00Z"), "utc", "0001-01-01T00:00:00.000Z" },
    { ref_ms("0001-01-01T00:00:00Z") - 1, "utc", "0000-12-31T23:59:59.999Z" },
    { ref_ms("0001-01-01T00:00:00Z") - 366 * 86400000 - 1, "utc", "-0001-12-31T23:59:59.999Z" },
    { ref_ms("9999-12-31T23:59:59.999Z") + 1, "utc", "+10000-01-01T00:00:00.000Z" },
  }
  for _, c in ipairs(cases) do
    it(string.format("formats %d in %s", c[1], c[2]), function()
      assert.are.equal(c[3], core.format_time(c[1], { tz = c[2] }))
    end)
  end

  it("round-trips through parse_time in several zones", function()
    local zones = { "utc", "America/New_York", "Europe/London", "Australia/Sydney", "Asia/Kolkata",
      "Pacific/Chatham", "+05:30", "-03:00", "America/Sao_Paulo" }
    local instants = { "2026-03-08T06:59:59.999Z", "2026-03-08T07:00:00Z", "2026-11-01T05:30:00Z",
      "2026-11-25T14:00:00.123Z", "2024-02-29T23:59:59.999Z", "1999-12-31T23:59:59Z",
      "2038-01-19T03:14:08Z", "1950-06-15T12:00:00Z" }
    for _, z in ipairs(zones) do
      for _, iso in ipairs(instants) do
        local ms = ref_ms(iso)
        local text = assert(core.format_time(ms, { tz = z }))
        assert.are.equal(ms, core.parse_time(text, { tz = "utc" }), z .. " " .. text)
        assert.are.equal(ms, ref_ms(text:gsub("%.(%d%d%d)([+-]%d%d:%d%d)$", ".%1%2")))
      end
    end
  end)

  it("returns nil and a message for a bad zone or a time out of range", function()
    local got, err = core.format_time(0, { tz = "Mars/Base" })
    assert.is_nil(got)
    assert.are.equal("unknown time zone 'Mars/Base'", err)
    got, err = core.format_time(math.maxinteger, { tz = "utc" })
    assert.is_nil(got)
    assert.is_truthy(err:find("out of range", 1, true))
  end)

  it("defaults to the local zone", function()
    assert.is_string(core.format_time(0))
  end)
end)

describe("core.zone_offset", function()
  local cases = {
    { "2026-07-01T12:00:00Z", "America/New_York", -14400 },
    { "2026-01-15T12:00:00Z", "America/New_York", -18000 },
    { "2026-03-08T06:59:59Z", "America/New_York", -18000 },
    { "2026-03-08T07:00:00Z", "America/New_York", -14400 },
    { "2026-11-01T05:59:59Z", "America/New_York", -14400 },
    { "2026-11-01T06:00:00Z", "America/New_York", -18000 },
    { "1950-07-01T00:00:00Z", "America/New_York", -14400 },
    { "1800-01-01T00:00:00Z", "America/New_York", -17762 },
    { "2100-07-01T00:00:00Z", "America/New_York", -14400 },
    { "2100-01-01T00:00:00Z", "America/New_York", -18000 },
    { "2300-07-01T00:00:00Z", "Australia/Sydney", 36000 },
    { "2300-01-01T00:00:00Z", "Australia/Sydney", 39600 },
    { "2026-07-01T12:00:00Z", "Europe/London", 3600 },
    { "2026-07-01T12:00:00Z", "Asia/Kolkata", 19800 },
    { "2026-07-01T12:00:00Z", "+05:30", 19800 },
    { "2026-07-01T12:00:00Z", "-0800", -28800 },
    { "2026-07-01T12:00:00Z", "-03", -10800 },
    { "2026-07-01T12:00:00Z", "utc", 0 },
    { "2026-07-01T12:00:00Z", "Z", 0 },
    { "2026-07-01T12:00:00Z", "EST5EDT,M3.2.0,M11.1.0", -14400 },
    -- POSIX rule offsets below were checked against glibc: TZ='<rule>' date -d <time> +%z
    { "2026-01-01T12:00:00Z", "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", -10800 },
    { "2026-07-01T12:00:00Z", "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", -7200 },
    { "2026-03-29T00:59:59Z", "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", -10800 },
    { "2026-03-29T01:00:00Z", "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", -7200 },
    { "2026-07-01T12:00:00Z", "AEST-10AEDT,M10.1.0,M4.1.0/3", 36000 },
    { "2026-01-01T12:00:00Z", "AEST-10AEDT,M10.1.0,M4.1.0/3", 39600 },
    { "2026-07-01T12:00:00Z", "EST5EDT,0/0,J365/25", -14400 },
    { "2026-01-01T12:00:00Z", "EST5EDT,0/0,J365/25", -14400 },
    { "2026-02-28T12:00:00Z", "XXX0YYY,J60/0,J61/0", 0 },
    { "2026-03-01T12:00:00Z", "XXX0YYY,J60/0,J61/0", 3600 },
    { "2024-03-01T12:00:00Z", "XXX0YYY,J60/0,J61/0", 3600 },
    { "2024-02-29T12:00:00Z", "XXX0YYY,J60/0,J61/0", 0 },
    { "2024-02-29T12:00:00Z", "XXX0YYY,59/0,60/0", 3600 },
  }
  for _, c in ipairs(cases) do
    it(c[2] .. " at " .. c[1], function()
      assert.are.equal(c[3], core.zone_offset(ref_ms(c[1]), c[2]))
    end)
  end

  it("returns nil and a message for a bad zone", function()
    local got, err = core.zone_offset(0, "x/../y")
    assert.is_nil(got)
    assert.are.equal("invalid time zone 'x/../y'", err)
    got, err = core.zone_offset(0, "+24:00")
    assert.is_nil(got)
    assert.are.equal("invalid time zone offset '+24:00'", err)
  end)
end)

describe("core.zone objects", function()
  it("offer offset and format, and close more than once", function()
    local z = assert(core.zone("America/New_York"))
    assert.are.equal(-18000, z:offset(ref_ms("2026-11-25T14:00:00Z")))
    assert.are.equal("2026-11-25T09:00:00.000-05:00", z:format(ref_ms("2026-11-25T14:00:00Z")))
    assert.are.equal("2026-11-25T09:00:00.000-05:00",
      core.format_time(ref_ms("2026-11-25T14:00:00Z"), { tz = z }))
    assert.are.equal(-18000, core.zone_offset(ref_ms("2026-11-25T14:00:00Z"), z))
    z:close()
    z:close()
    assert.has_error(function() z:offset(0) end)
  end)

  it("work with <close>", function()
    local closed
    do
      local z <close> = assert(core.zone("+02:00"))
      assert.are.equal(7200, z:offset(0))
      closed = z
    end
    assert.has_error(function() closed:format(0) end)
  end)

  it("return nil and a message for a bad zone", function()
    local z, err = core.zone("No/Such_Zone")
    assert.is_nil(z)
    assert.are.equal("unknown time zone 'No/Such_Zone'", err)
  end)
end)

-- "local" depends on the process environment, so it is tested in child processes.
describe("the local zone", function()
  local cpath = os.getenv("CWLOGS_CPATH") or "build/?.so"
  local lua = "lua5.4"

  local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

  -- Runs `code` in a fresh lua5.4 with the given environment; returns its output.
  local function run(env, code)
    local prefix = "env -u TZ -u TZDIR"
    for k, v in pairs(env) do prefix = prefix .. " " .. k .. "=" .. shell_quote(v) end
    local script = "package.cpath = " .. string.format("%q", cpath) .. " .. ';' .. package.cpath\n"
      .. "local core = require 'cwlogs.core'\n" .. code
    local p = assert(io.popen(prefix .. " " .. lua .. " -e " .. shell_quote(script) .. " 2>&1"))
    local out = p:read("a")
    p:close()
    return out
  end

  local probe = [[
    local t = core.parse_time("2026-07-01 12:00")
    local w = core.parse_time("2026-01-15 12:00", { tz = "local" })
    io.write(t, " ", w, " ", core.zone_offset(t, "local"), " ", core.format_time(t))
  ]]

  local cases = {
    { "America/New_York", "2026-07-01T12:00:00-04:00", "2026-01-15T12:00:00-05:00", -14400,
      "2026-07-01T12:00:00.000-04:00" },
    { ":Europe/London", "2026-07-01T12:00:00+01:00", "2026-01-15T12:00:00Z", 3600,
      "2026-07-01T12:00:00.000+01:00" },
    { "EST5EDT,M3.2.0,M11.1.0", "2026-07-01T12:00:00-04:00", "2026-01-15T12:00:00-05:00", -14400,
      "2026-07-01T12:00:00.000-04:00" },
    { "<+0330>-3:30", "2026-07-01T12:00:00+03:30", "2026-01-15T12:00:00+03:30", 12600,
      "2026-07-01T12:00:00.000+03:30" },
    { "/usr/share/zoneinfo/Asia/Tokyo", "2026-07-01T12:00:00+09:00", "2026-01-15T12:00:00+09:00",
      32400, "2026-07-01T12:00:00.000+09:00" },
    { "", "2026-07-01T12:00:00Z", "2026-01-15T12:00:00Z", 0, "2026-07-01T12:00:00.000Z" },
    { "UTC", "2026-07-01T12:00:00Z", "2026-01-15T12:00:00Z", 0, "2026-07-01T12:00:00.000Z" },
  }
  for _, c in ipairs(cases) do
    it("follows TZ=" .. c[1], function()
      local out = run({ TZ = c[1] }, probe)
      local expected = string.format("%d %d %d %s", ref_ms(c[2]), ref_ms(c[3]), c[4], c[5])
      assert.are.equal(expected, out)
    end)
  end

  it("falls back to /etc/localtime without TZ", function()
    -- Compare with the zone /etc/localtime names, read by the same module as a named zone.
    local target = io.popen("readlink -f /etc/localtime"):read("l") or ""
    local name = target:match("/zoneinfo/(.+)$")
    if not name then
      pending("/etc/localtime is not a link into a zoneinfo directory")
      return
    end
    local out = run({}, "io.write(core.format_time(1782907200000))")
    assert.are.equal(core.format_time(1782907200000, { tz = name }), out)
  end)

  describe("with a TZif file of our own (TZDIR)", function()
    local dir

    setup(function()
      dir = os.tmpname()
      os.remove(dir)
      assert(os.execute("mkdir " .. shell_quote(dir)))
      -- Version 1 file: one transition at 1e9 s from +01:00 (type 0) to +02:00 (type 1).
      local v1 = "TZif" .. "\0" .. string.rep("\0", 15)
        .. string.pack(">I4I4I4I4I4I4", 0, 0, 0, 1, 2, 8)
        .. string.pack(">i4", 1000000000) .. "\1"
        .. string.pack(">i4BB", 3600, 0, 0) .. string.pack(">i4BB", 7200, 0, 4)
        .. "AAA\0BBB\0"
      local f = assert(io.open(dir .. "/Test_V1", "wb"))
      f:write(v1)
      f:close()
      f = assert(io.open(dir .. "/Truncated", "wb"))
      f:write(v1:sub(1, 50))
      f:close()
      f = assert(io.open(dir .. "/Not_TZif", "wb"))
      f:write("hello, this is not a zone file at all, not even close to one")
      f:close()
    end)

    teardown(function()
      os.execute("rm -rf " .. shell_quote(dir))
    end)

    it("reads a version 1 file named by opts.tz and by TZ", function()
      local out = run({ TZDIR = dir, TZ = "Test_V1" }, [[
        io.write(core.zone_offset(999999999000, "Test_V1"), " ", core.zone_offset(1000000000000, "Test_V1"),
          " ", core.zone_offset(1000000000000, "local"))
      ]])
      assert.are.equal("3600 7200 7200", out)
    end)

    it("refuses truncated and foreign files", function()
      local out = run({ TZDIR = dir }, [[
        local a, e1 = core.zone_offset(0, "Truncated")
        local b, e2 = core.zone_offset(0, "Not_TZif")
        io.write(tostring(a), "|", e1, "|", tostring(b), "|", e2)
      ]])
      assert.are.equal("nil|unreadable time zone 'Truncated'|nil|unreadable time zone 'Not_TZif'", out)
    end)
  end)
end)
