-- client:query (Logs Insights) against moto with signature checking on; the statuses moto
-- never produces (Running, Failed, paging) through a scripted transport.
local cjson = require("cjson")
local cwlogs = require("cwlogs")
local query = require("cwlogs.query")
local moto = require("support.moto")
local util = require("support.util")

local srv, client
local T0          -- base timestamp of the seeded data (ms), with a non-zero ms part
local G1, G2

setup(function()
  srv = moto.start()
  client = assert(cwlogs.client(srv:client_opts()))
  T0 = (util.now_ms() - 2 * 3600 * 1000) // 1000 * 1000 + 250
  G1 = moto.unique("/cwlogs/query")
  G2 = moto.unique("/cwlogs/query2")
  local a, b = {}, {}
  for i = 0, 19 do a[#a + 1] = { timestamp = T0 + i * 10000, message = "a event " .. i } end
  for i = 0, 9 do b[#b + 1] = { timestamp = T0 + i * 10000, message = "b event " .. i } end
  srv:admin("seed", { group = G1, streams = { a = a, b = b } })
  srv:admin("seed", { group = G2, streams = { c = { { timestamp = T0 + 5000, message = "c event" } } } })
end)

teardown(function()
  if client then client:close() end
end)

local function messages(rows)
  local out = {}
  for i, r in ipairs(rows) do out[i] = r["@message"] end
  return out
end

describe("client:query against moto", function()
  it("returns the rows of a simple query in the query's order, without @ptr", function()
    local rows, info = client:query{
      group = G1, start = T0 - 60000, stop = T0 + 3600 * 1000,
      query = "fields @timestamp, @message | sort @timestamp asc | limit 5",
    }
    assert.is_table(rows, tostring(info))
    -- streams a and b share timestamps, so the order within a timestamp is open
    assert.are.equal(5, #rows)
    local first4 = table.move(messages(rows), 1, 4, 1, {})
    table.sort(first4)
    assert.are.same({ "a event 0", "a event 1", "b event 0", "b event 1" }, first4)
    assert.truthy(rows[5]["@message"] == "a event 2" or rows[5]["@message"] == "b event 2")
    for i, r in ipairs(rows) do
      assert.are.same({ "@timestamp", "@message" }, r.fields)
      assert.is_nil(r["@ptr"])
      assert.are.equal(tostring(T0 + ((i - 1) // 2) * 10000), r["@timestamp"])
    end
    assert.is_string(info.query_id)
    assert.are.equal("Complete", info.status)
  end)

  it("sorts descending and limits as the query says", function()
    local rows = assert(client:query{
      groups = { G1 }, start = T0 - 60000, stop = T0 + 3600 * 1000,
      query = "fields @message | sort @timestamp desc | limit 3",
    })
    local m = messages(rows)
    table.sort(m)
    assert.are.same({ "a event 17", "a event 18", "a event 19" }, m)
    assert.are.equal("a event 19", rows[1]["@message"])
  end)

  it("keeps @ptr when asked, and caps the row count at opts.limit", function()
    local rows = assert(client:query{
      group = G1, start = T0, stop = T0 + 3600 * 1000, limit = 4, include_ptr = true,
      query = "fields @message",
    })
    assert.are.equal(4, #rows)
    for _, r in ipairs(rows) do
      assert.are.equal("@ptr", r.fields[1])
      assert.is_string(r["@ptr"])
      assert.is_string(r["@message"])
    end
  end)

  it("covers [start, stop] to the millisecond at both ends", function()
    -- start and stop fall exactly on events whose timestamps have a .250 s part:
    -- floor/ceil to seconds must not cut them off; events 10 s outside stay out.
    local rows = assert(client:query{
      group = G1, start = T0 + 30000, stop = T0 + 50000,
      query = "fields @message | sort @timestamp asc",
    })
    local m = messages(rows)
    table.sort(m)
    assert.are.same({ "a event 3", "a event 4", "a event 5", "b event 3", "b event 4", "b event 5" }, m)
  end)

  it("reads TIME strings relative to opts.now", function()
    local rows = assert(client:query{
      group = G2, start = "10s", stop = "now", now = T0 + 10000,
      query = "fields @message",
    })
    assert.are.same({ "c event" }, messages(rows))
  end)

  it("queries several groups at once", function()
    local rows = assert(client:query{
      groups = { G1, G2 }, start = T0, stop = T0 + 5000,
      query = "fields @message",
    })
    local m = messages(rows)
    table.sort(m)
    assert.are.same({ "a event 0", "b event 0", "c event" }, m)
  end)

  it("returns an empty list when nothing matches", function()
    local rows, info = client:query{
      group = G1, start = T0 - 3600 * 1000, stop = T0 - 1800 * 1000, query = "fields @message",
    }
    assert.are.same({}, rows)
    assert.is_string(info.query_id)
  end)

  it("names a missing group", function()
    local missing = moto.unique("/cwlogs/no-such-group")
    local rows, err = client:query{ group = missing, query = "fields @message" }
    assert.is_nil(rows)
    assert.are.equal("ResourceNotFoundException", err.code)
    assert.truthy(tostring(err):find(missing, 1, true), tostring(err))
    -- among several groups, the missing one is named
    rows, err = client:query{ groups = { G1, missing, G2 }, query = "fields @message" }
    assert.is_nil(rows)
    assert.are.equal("ResourceNotFoundException", err.code)
    assert.are.equal(missing, err.group)
    assert.truthy(tostring(err):find(missing, 1, true), tostring(err))
    assert.falsy(tostring(err):find(G1, 1, true), tostring(err))
  end)
end)

describe("client:query input checks", function()
  local function fails(opts, pattern)
    local rows, err = client:query(opts)
    assert.is_nil(rows)
    assert.are.equal("InvalidArgument", err.code)
    assert.truthy(tostring(err):find(pattern), tostring(err) .. " !~ " .. pattern)
  end

  it("refuses bad options without calling the service", function()
    local before = client.transport.stats.requests
    fails({ query = "fields @message" }, "group")
    fails({ groups = {}, query = "fields @message" }, "group")
    fails({ groups = { "" }, query = "fields @message" }, "non%-empty")
    fails({ group = G1 }, "query")
    fails({ group = G1, query = "   " }, "query")
    fails({ group = G1, query = string.rep("x", 10001) }, "10000")
    local many = {}
    for i = 1, 51 do many[i] = "/g/" .. i end
    fails({ groups = many, query = "fields @message" }, "at most 50")
    fails({ group = G1, query = "fields @message", start = "tuesdy" }, "start")
    fails({ group = G1, query = "fields @message", stop = "2026-02-30" }, "stop")
    fails({ group = G1, query = "fields @message", start = T0 + 1, stop = T0 }, "after")
    fails({ group = G1, query = "fields @message", limit = 0 }, "limit")
    fails({ group = G1, query = "fields @message", limit = 100001 }, "limit")
    fails({ group = G1, query = "fields @message", limit = 1.5 }, "limit")
    fails({ group = G1, query = "fields @message", poll_ms = 0 }, "poll_ms")
    fails({ group = G1, query = "fields @message", timeout_ms = -5 }, "timeout_ms")
    local rows, err = query.run(client, "fields @message")
    assert.is_nil(rows)
    assert.are.equal("InvalidArgument", err.code)
    assert.are.equal(before, client.transport.stats.requests)
  end)

  it("accepts a query of exactly 10,000 characters (counted as characters)", function()
    local head = "fields @message | filter @message like /"
    local q = head .. string.rep("é", 10000 - #head - 1) .. "/"
    assert.are.equal(10000, utf8.len(q))
    local p = assert(query._plan{ group = G1, query = q })
    assert.are.equal(q, p.query)
    local rows, err = query.run(client, { group = G1, query = q .. "x" })
    assert.is_nil(rows)
    assert.truthy(tostring(err):find("10001 characters", 1, true), tostring(err))
  end)

  it("sends whole seconds that cover the millisecond range", function()
    local p = assert(query._plan{ group = G1, query = "x", start = 1764079200999, stop = 1764079201001 })
    assert.are.equal(1764079200, p.start_s)
    assert.are.equal(1764079202, p.stop_s)
    p = assert(query._plan{ group = G1, query = "x", start = 1764079200000, stop = 1764079201000 })
    assert.are.equal(1764079200, p.start_s)
    assert.are.equal(1764079201, p.stop_s)
    p = assert(query._plan{ group = G1, query = "x", now = 1764079200500 })
    assert.are.equal(1764079200 - 3600, p.start_s)
    assert.are.equal(1764079201, p.stop_s)
  end)
end)

-- A client whose transport answers from a script; waiting goes through a real engine.
local function scripted(script)
  local calls = {}
  local real = client.transport
  local tr = {
    calls = calls,
    call = function(_, op, params)
      calls[#calls + 1] = { op = op, params = params }
      return script(op, params, calls)
    end,
    step = function(_, ms) return real:step(ms) end,
    sleep_until = function(_, at) return real:sleep_until(at) end,
  }
  return { transport = tr }, calls
end

local function count_ops(calls, op)
  local n = 0
  for _, c in ipairs(calls) do if c.op == op then n = n + 1 end end
  return n
end

describe("query statuses (scripted service)", function()
  it("polls while Running, then pages the complete results and reports statistics", function()
    local gets = 0
    local fake, calls = scripted(function(op, params)
      if op == "StartQuery" then return { queryId = "q-1" } end
      if op == "GetQueryResults" then
        gets = gets + 1
        if gets == 1 then return { status = "Scheduled", results = {} } end
        if gets == 2 then
          return { status = "Running", results = { { { field = "x", value = "partial" } } } }
        end
        if not params.nextToken then
          return { status = "Complete", nextToken = "t1",
            statistics = { recordsMatched = 3.0, recordsScanned = 10.0, bytesScanned = 512.0 },
            results = { { { field = "@ptr", value = "p1" }, { field = "n", value = "1" },
              { field = "s", value = cjson.null } },
              { { field = "n", value = "2" } } } }
        end
        assert.are.equal("t1", params.nextToken)
        return { status = "Complete", results = { { { field = "n", value = "3" } } } }
      end
      error("unexpected " .. op)
    end)
    local rows, info = query.run(fake, { group = "/g", query = "stats count(*)", poll_ms = 20,
      limit = 50, start = 1764079200000, stop = 1764079260000 })
    assert.is_table(rows, tostring(info))
    assert.are.same({ { fields = { "n", "s" }, n = "1", s = "" }, { fields = { "n" }, n = "2" },
      { fields = { "n" }, n = "3" } }, rows)
    assert.are.same({ query_id = "q-1", status = "Complete", records_matched = 3,
      records_scanned = 10, bytes_scanned = 512 }, info)
    local start = calls[1]
    assert.are.equal("StartQuery", start.op)
    assert.are.same({ "/g" }, start.params.logGroupNames)
    assert.are.equal(1764079200, start.params.startTime)
    assert.are.equal(1764079260, start.params.endTime)
    assert.are.equal(50, start.params.limit)
    assert.are.equal("stats count(*)", start.params.queryString)
    assert.are.equal(4, count_ops(calls, "GetQueryResults"))
    assert.are.equal(0, count_ops(calls, "StopQuery"))
  end)

  it("uses logGroupIdentifiers when a group is given as an ARN", function()
    local arn = "arn:aws:logs:us-east-1:123456789012:log-group:/x"
    local fake, calls = scripted(function(op)
      if op == "StartQuery" then return { queryId = "q" } end
      return { status = "Complete", results = {} }
    end)
    assert.are.same({}, assert(query.run(fake, { groups = { arn, "/y" }, query = "fields @message" })))
    assert.are.same({ arn, "/y" }, calls[1].params.logGroupIdentifiers)
    assert.is_nil(calls[1].params.logGroupNames)
  end)

  for status, code in pairs({ Failed = "QueryFailed", Cancelled = "QueryCancelled",
                              Timeout = "QueryTimeout", Unknown = "QueryFailed" }) do
    it("turns a final status " .. status .. " into " .. code, function()
      local fake, calls = scripted(function(op)
        if op == "StartQuery" then return { queryId = "q-" .. status } end
        return { status = status, results = {} }
      end)
      local rows, err = query.run(fake, { group = "/g", query = "fields @message" })
      assert.is_nil(rows)
      assert.are.equal(code, err.code)
      assert.are.equal(status, err.query_status)
      assert.are.equal("q-" .. status, err.query_id)
      assert.truthy(tostring(err):find(status, 1, true), tostring(err))
      assert.are.equal(0, count_ops(calls, "StopQuery"))
    end)
  end

  it("stops the query and fails with QueryTimeout when it runs past timeout_ms", function()
    local fake, calls = scripted(function(op)
      if op == "StartQuery" then return { queryId = "q-slow" } end
      if op == "StopQuery" then return { success = true } end
      return { status = "Running", results = {} }
    end)
    local rows, err = query.run(fake, { group = "/g", query = "fields @message",
      poll_ms = 30, timeout_ms = 150 })
    assert.is_nil(rows)
    assert.are.equal("QueryTimeout", err.code)
    assert.are.equal(1, count_ops(calls, "StopQuery"))
    assert.are.equal("StopQuery", calls[#calls].op)
    assert.are.equal("q-slow", calls[#calls].params.queryId)
    assert(count_ops(calls, "GetQueryResults") >= 2)
  end)

  it("passes service errors through, stopping the query when polling fails", function()
    local errors = require("cwlogs.errors")
    local fake, calls = scripted(function(op)
      if op == "StartQuery" then return { queryId = "q-err" } end
      if op == "StopQuery" then return nil, errors.make("InvalidParameterException", "not running") end
      return nil, errors.make("AccessDeniedException", "no", { status = 400 })
    end)
    local rows, err = query.run(fake, { group = "/g", query = "fields @message" })
    assert.is_nil(rows)
    assert.are.equal("AccessDeniedException", err.code)
    assert.are.equal(1, count_ops(calls, "StopQuery"))

    fake = scripted(function(op)
      if op == "StartQuery" then return nil, errors.make("MalformedQueryException", "unexpected symbol") end
      error("no more calls expected")
    end)
    rows, err = query.run(fake, { group = "/g", query = "fields @message |" })
    assert.is_nil(rows)
    assert.are.equal("MalformedQueryException", err.code)
  end)
end)
