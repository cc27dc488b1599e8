-- Logs Insights: StartQuery, then GetQueryResults until the query is final.
--
--   local rows, info = query.run(client, { groups = {...}, query = "fields @message", start = "1h" })
--   rows[i].fields  -> ordered field names;  rows[i][name] -> value (a string, as the service sends)
--   info            -> { query_id, status, records_matched, records_scanned, bytes_scanned }
--
-- Times: Insights takes epoch SECONDS and treats both ends as inclusive at millisecond level
-- (endTime is read as endTime * 1000 ms; aws-facts §5). We send startTime = floor(start / 1000)
-- and endTime = ceil(stop / 1000), so the whole [start, stop] millisecond range is covered;
-- the price is that up to 999 ms before start and after stop may be included as well.
-- Rows are not filtered locally: a query's rows need not be events (stats, renamed fields).
local core = require("cwlogs.core")
local errors = require("cwlogs.errors")
local events = require("cwlogs.events")

local M = {}

local MAX_GROUPS = 50             -- logGroupNames / logGroupIdentifiers
local MAX_QUERY_CHARS = 10000
local MAX_LIMIT = 100000          -- StartQuery's limit (10,000 before 2026-05-15)
local HOUR_MS = 3600 * 1000
local DEFAULT_POLL_MS = 1000
local DEFAULT_TIMEOUT_MS = 60 * 60 * 1000   -- the service's own query timeout
local FIRST_POLLS = { 100, 250, 500 }       -- early polls come faster: most queries are quick
local REPEAT_LIMIT = 20

-- Final statuses other than Complete, and the error code each becomes.
local FAILED = {
  Failed = "QueryFailed",
  Cancelled = "QueryCancelled",
  Timeout = "QueryTimeout",
  Unknown = "QueryFailed",
}
local PENDING = { Scheduled = true, Running = true }

M.MAX_GROUPS = MAX_GROUPS
M.MAX_QUERY_CHARS = MAX_QUERY_CHARS

local function bad(msg)
  return nil, errors.make("InvalidArgument", msg)
end

local function positive_int(v, name)
  if v ~= nil and (math.type(v) ~= "integer" or v < 1) then
    return nil, name .. " must be a positive integer (milliseconds)"
  end
  return true
end

-- Validates options into a plan, or nil, err.
local function plan(opts)
  if type(opts) ~= "table" then return bad("query: options must be a table") end
  local groups = {}
  if opts.groups ~= nil then
    if type(opts.groups) ~= "table" then return bad("groups must be a list of log group names") end
    local seen = {}
    for i = 1, #opts.groups do
      local g = opts.groups[i]
      if type(g) ~= "string" or g == "" then
        return bad("groups must be a list of non-empty log group names")
      end
      if not seen[g] then seen[g] = true; groups[#groups + 1] = g end
    end
  elseif type(opts.group) == "string" and opts.group ~= "" then
    groups[1] = opts.group
  end
  if #groups == 0 then return bad("query: 'group' or 'groups' is required") end
  if #groups > MAX_GROUPS then
    return bad(string.format("query: at most %d log groups per query (got %d)", MAX_GROUPS, #groups))
  end

  local q = opts.query
  if type(q) ~= "string" or q:match("^%s*$") then
    return bad("query: 'query' must be a non-empty Logs Insights query string")
  end
  local nchars = utf8.len(q) or #q
  if nchars > MAX_QUERY_CHARS then
    return bad(string.format("query: the query string is %d characters long (at most %d)",
      nchars, MAX_QUERY_CHARS))
  end

  local now = opts.now
  if now ~= nil and math.type(now) ~= "integer" then return bad("now must be epoch milliseconds") end
  now = now or core.time_ms()
  local topts = { tz = opts.tz, now = now }
  local start, stop, msg
  if opts.start ~= nil then
    start, msg = events.parse_time(opts.start, topts)
    if not start then return bad("invalid time for start: " .. tostring(msg)) end
  else
    start = now - HOUR_MS
  end
  if opts.stop ~= nil then
    stop, msg = events.parse_time(opts.stop, topts)
    if not stop then return bad("invalid time for stop: " .. tostring(msg)) end
  else
    stop = now
  end
  if start > stop then
    return bad(string.format("start (%d) is after stop (%d)", start, stop))
  end
  if start < 0 then return bad("start must not be before 1970") end

  local limit = opts.limit
  if limit ~= nil and (math.type(limit) ~= "integer" or limit < 1 or limit > MAX_LIMIT) then
    return bad(string.format("limit must be an integer from 1 to %d", MAX_LIMIT))
  end
  local ok
  ok, msg = positive_int(opts.poll_ms, "poll_ms")
  if not ok then return bad(msg) end
  ok, msg = positive_int(opts.timeout_ms, "timeout_ms")
  if not ok then return bad(msg) end

  return {
    groups = groups, query = q, limit = limit,
    start_s = start // 1000,          -- floor
    stop_s = -((-stop) // 1000),      -- ceil
    poll_ms = opts.poll_ms or DEFAULT_POLL_MS,
    timeout_ms = opts.timeout_ms or DEFAULT_TIMEOUT_MS,
    include_ptr = opts.include_ptr and true or false,
    language = opts.language,
  }
end
M._plan = plan

-- { {field=, value=}, ... } -> { fields = {names...}, [name] = value }
local function make_row(cells, include_ptr)
  local row, fields = {}, {}
  for i = 1, #cells do
    local cell = cells[i]
    local f = type(cell) == "table" and cell.field
    if type(f) == "string" and (include_ptr or f ~= "@ptr") and row[f] == nil and f ~= "fields" then
      fields[#fields + 1] = f
      local v = cell.value
      if type(v) == "number" then v = tostring(math.tointeger(v) or v)
      elseif type(v) ~= "string" then v = "" end   -- absent or JSON null
      row[f] = v
    end
  end
  row.fields = fields
  return row
end
M._make_row = make_row

local function num(v)
  if type(v) ~= "number" then return nil end
  return math.tointeger(v) or v
end

local function stop_query(tr, id)
  -- Best effort: the query may have ended meanwhile, which StopQuery reports as an error.
  tr:call("StopQuery", { queryId = id })
end

-- Which of several groups is missing? DescribeLogGroups by prefix, exact match; only on
-- the error path. Returns the first missing name, or nil.
local function find_missing(tr, groups)
  for _, g in ipairs(groups) do
    if not g:find("^arn:") then
      local page = tr:call("DescribeLogGroups", { logGroupNamePrefix = g, limit = 50 })
      if page then
        local found = false
        for _, lg in ipairs(page.logGroups or {}) do
          if lg.logGroupName == g then found = true; break end
        end
        -- more than 50 groups share the prefix and ours was not among the first page: unsure
        if not found and type(page.nextToken) ~= "string" then return g end
      end
    end
  end
  return nil
end

local function name_missing(tr, err, groups)
  if not (errors.is(err) and err.code == "ResourceNotFoundException") then return err end
  if #groups == 1 then return errors.name_group(err, groups[1]) end
  local g = find_missing(tr, groups)
  if g then return errors.name_group(err, g) end
  local quoted = {}
  for i, name in ipairs(groups) do quoted[i] = "'" .. name .. "'" end
  err.message = "one of the log groups " .. table.concat(quoted, ", ") .. " does not exist"
  return err
end

-- run(client, opts) -> rows, info; or nil, err
-- opts: groups | group, query, start, stop, limit, poll_ms, timeout_ms, include_ptr, tz, now,
--       language ("CWLI" default, "SQL", "PPL").
function M.run(client, opts)
  local p, perr = plan(opts)
  if not p then return nil, perr end
  local tr = client and client.transport
  if not tr then return bad("client is closed") end

  local params = {
    queryString = p.query, startTime = p.start_s, endTime = p.stop_s, limit = p.limit,
    queryLanguage = p.language,
  }
  local has_arn = false
  for _, g in ipairs(p.groups) do
    if g:find("^arn:") then has_arn = true end
  end
  if has_arn then params.logGroupIdentifiers = p.groups else params.logGroupNames = p.groups end

  local started, err = tr:call("StartQuery", params)
  if not started then return nil, name_missing(tr, err, p.groups) end
  local id = started.queryId
  if type(id) ~= "string" or id == "" then
    return nil, errors.make("ParseError", "StartQuery returned no queryId")
  end

  local deadline = core.clock_ms() + p.timeout_ms
  local polls = 0
  local res, stats
  while true do
    polls = polls + 1
    local delay = math.min(FIRST_POLLS[polls] or p.poll_ms, p.poll_ms)
    local left = deadline - core.clock_ms()
    if left <= 0 then
      stop_query(tr, id)
      return nil, errors.make("QueryTimeout", string.format(
        "query %s did not finish within %d ms; stopped it", id, p.timeout_ms),
        { query_id = id })
    end
    tr:sleep_until(core.clock_ms() + math.min(delay, left))
    res, err = tr:call("GetQueryResults", { queryId = id })
    if not res then
      stop_query(tr, id)
      return nil, err
    end
    local status = res.status
    if status == "Complete" then
      if type(res.statistics) == "table" then stats = res.statistics end
      break
    end
    if not PENDING[status] then
      local code = FAILED[status] or "QueryFailed"
      return nil, errors.make(code, string.format("query %s ended with status %s",
        id, tostring(status)), { query_id = id, query_status = status })
    end
  end

  -- Complete. Since 2026-04 the results may come in pages (nextToken, up to 10,000 each).
  local rows = {}
  local token, repeats = nil, 0
  while true do
    local list = res.results
    if type(list) == "table" then
      for i = 1, #list do
        if p.limit and #rows >= p.limit then break end
        rows[#rows + 1] = make_row(list[i], p.include_ptr)
      end
    end
    local next_token = res.nextToken
    if type(next_token) ~= "string" or next_token == "" or (p.limit and #rows >= p.limit) then break end
    if next_token == token and (type(list) ~= "table" or #list == 0) then
      repeats = repeats + 1
      if repeats >= REPEAT_LIMIT then break end
    else
      repeats = 0
    end
    token = next_token
    res, err = tr:call("GetQueryResults", { queryId = id, nextToken = token })
    if not res then return nil, err end
  end

  stats = stats or {}
  return rows, {
    query_id = id,
    status = "Complete",
    records_matched = num(stats.recordsMatched),
    records_scanned = num(stats.recordsScanned),
    bytes_scanned = num(stats.bytesScanned),
  }
end

return M
