-- The `cwlogs` command: argument parsing, time and option checks, and the loop that moves
-- events from the client to the output. Everything here reports failures as one
-- `cwlogs: ...` line on stderr and an exit status (0 ok, 1 runtime failure, 2 usage).
local argparse = require("argparse")
local errors = require("cwlogs.errors")
local output = require("cwlogs.output")
local progress = require("cwlogs.progress")

local M = {}

local traceback_of = debug.traceback

local USAGE_EXIT, FAIL_EXIT = 2, 1
local HOUR_MS = 3600 * 1000

------------------------------------------------------------------------------------------
-- The pieces of cwlogs the CLI leans on, loaded late so that `--help` works even when the
-- client cannot be loaded, and overridable from env for the specs.

local function load_lib(env)
  local lib = {}
  local ok, cw = pcall(require, "cwlogs")
  if not ok or type(cw) ~= "table" then
    lib.load_error = ok and "module did not return a table" or tostring(cw):match("^[^\n]*")
    cw = {}
  end
  local cok, core = pcall(require, "cwlogs.core")
  if not cok or type(core) ~= "table" then core = {} end
  lib.parse_time = env.parse_time or cw.parse_time or core.parse_time
  lib.format_time = env.format_time or cw.format_time or core.format_time
  lib.version = env.version or cw.version or core.version
  lib.client_factory = env.client_factory or cw.client
  local fast_rstrip = type(core.rstrip) == "function" and core.rstrip or nil
  lib.rstrip = env.rstrip or output.make_rstrip(fast_rstrip)
  -- the core's ASCII rstrip, used inline by the text formatter unless the specs swap rstrip
  lib.fast_rstrip = not env.rstrip and fast_rstrip or nil
  -- zone objects (opened once per run) unless the specs swap format_time
  if env.zone then
    lib.zone = env.zone
  elseif not env.format_time and type(core.zone) == "function" then
    lib.zone = core.zone
  end
  -- pages rendered in C (core.renderer) write what the formatters above would, with the
  -- core's own zone and rstrip: not when the specs swap any of those
  if not env.rstrip and not env.zone and not env.format_time and type(core.renderer) == "function" then
    lib.renderer = core.renderer
  end
  lib.ignore_sigpipe = core.ignore_sigpipe
  lib.keep_heap = core.keep_heap
  lib.now_ms = core.time_ms
  lib.clock_ms = core.clock_ms
  lib.isatty = env.isatty or core.isatty
  return lib
end

------------------------------------------------------------------------------------------
-- Errors that end the run.

local Exit = {}
Exit.__index = Exit

local function fail(status, msg)
  error(setmetatable({ status = status, message = msg }, Exit), 0)
end

local function usage_error(fmt, ...)
  fail(USAGE_EXIT, string.format(fmt, ...))
end

-- One line, whatever the message held.
local function one_line(s)
  s = tostring(s):gsub("[\r\n]+%s*", " ")
  return s
end

------------------------------------------------------------------------------------------
-- The parser. Help and version flags record what was asked and stop the parse, so that
-- `cwlogs get --help` works without the group argument argparse would otherwise demand.

local HelpRequest = {}

local function build_parser()
  local asked = {}
  local function stop(kind, parser)
    return function()
      asked.kind, asked.parser = kind, parser
      error(HelpRequest, 0)
    end
  end
  local function help_flag(p)
    p:flag("-h --help", "Show this help and exit."):action(stop("help", p))
  end
  local function connection(p)
    p:option("--region", "AWS region (as the AWS CLI's --region)."):argname("R")
    p:option("--profile", "Profile from ~/.aws/config (as the AWS CLI's --profile)."):argname("P")
    p:option("--endpoint", "Endpoint URL (as the AWS CLI's --endpoint-url)."):argname("URL")
    p:option("--max-rps", "Stay under N requests per second per API (default: the region's "
      .. "quota on AWS, discovered from throttling elsewhere)."):argname("N")
    p:flag("--debug", "Log requests (never secrets) and show tracebacks of internal errors.")
  end
  local function output_opts(p)
    p:option("--format", "Output format: text or jsonl (default text)."):argname("text|jsonl")
    p:option("-o --output", "Write to FILE instead of standard output."):argname("FILE")
  end
  local function time_opts(p, start_help)
    p:option("-s --start", start_help):argname("TIME")
    p:option("-e --end", "Latest event (default: now)."):argname("TIME")
    p:option("--tz", "Zone for reading and printing times: local (default), utc, +HH:MM.")
      :argname("ZONE")
  end
  local function event_opts(p, filter_short)
    p:option("--stream", "Only this log stream (repeatable)."):argname("NAME"):count("*")
    p:option("--stream-prefix", "Only streams whose name starts with P."):argname("P")
    p:option(filter_short and "-f --filter" or "--filter",
      "CloudWatch Logs filter pattern, applied by the service."):argname("PATTERN")
    p:option("-g --grep", "Keep only messages matching this Lua pattern."):argname("LUAPATTERN")
    p:flag("-t --timestamp", "Prefix each line with the event time (ISO 8601, --tz).")
    p:flag("--show-stream", "Prefix each line with the log stream name.")
    p:option("--limit", "Stop after N events."):argname("N")
  end

  local parser = argparse("cwlogs")
    :description("Get logs out of Amazon CloudWatch Logs.")
    :add_help(false)
    :command_target("command")
    :require_command(false)
    :help_description_margin(30)
    :help_max_width(100)
  help_flag(parser)
  parser:flag("--version", "Print the version and exit."):action(stop("version", parser))
  -- Also accepted before the command, as the AWS CLI does; the command's own copy wins.
  parser:option("--region", "AWS region."):argname("R"):target("top_region")
  parser:option("--profile", "Profile from ~/.aws/config."):argname("P"):target("top_profile")
  parser:option("--endpoint", "Endpoint URL."):argname("URL"):target("top_endpoint")
  parser:flag("--debug", "Log requests (never secrets); tracebacks of internal errors.")
    :target("top_debug")

  local get = parser:command("get", "Download the events of one or more log groups.")
    :add_help(false)
  help_flag(get)
  get:argument("group", "Log group name."):args("+")
  time_opts(get, "Earliest event (default: the group's start).")
  event_opts(get, true)
  output_opts(get)
  get:flag("--progress", "Show progress on stderr even when it is not a terminal.")
  get:flag("--no-progress", "Never show progress (default: shown when stderr is a terminal).")
  connection(get)

  local groups = parser:command("groups", "List log group names, one per line."):add_help(false)
  help_flag(groups)
  groups:argument("prefix", "Only groups whose name starts with PREFIX."):args("?")
  output_opts(groups)
  connection(groups)

  local streams = parser:command("streams", "List log stream names, newest event first.")
    :add_help(false)
  help_flag(streams)
  streams:argument("group", "Log group name.")
  streams:argument("prefix", "Only streams whose name starts with PREFIX."):args("?")
  output_opts(streams)
  connection(streams)

  local tail = parser:command("tail", "Recent events; with --follow keep printing new ones.")
    :add_help(false)
  help_flag(tail)
  tail:argument("group", "Log group name."):args("+")
  tail:flag("-f --follow", "Keep printing new events as they arrive.")
  tail:option("--poll", "Seconds between polls when following."):argname("SECONDS")
  time_opts(tail, "Earliest event (default: 1 hour ago).")
  event_opts(tail, false)
  output_opts(tail)
  connection(tail)

  local query = parser:command("query", "Run a Logs Insights query and print its rows.")
    :add_help(false)
  help_flag(query)
  query:argument("group", "Log group name."):args("+")
  query:option("-q --query", "The Logs Insights query."):argname("QUERY")
  time_opts(query, "Earliest event (default: 1 hour ago).")
  query:option("--limit", "At most N rows."):argname("N")
  output_opts(query)
  connection(query)

  return parser, asked
end

-- argparse errors can carry a second line ("Did you mean ...?"): keep one line.
local function parse_error_line(msg)
  local first, rest = msg:match("^([^\n]*)\n?(.*)$")
  rest = rest:gsub("^%s+", "")
  if rest ~= "" then
    return first .. "; " .. rest:sub(1, 1):lower() .. rest:sub(2)
  end
  return first
end

------------------------------------------------------------------------------------------
-- Checking what the user typed.

local function check_format(args)
  local f = args.format or "text"
  if f ~= "text" and f ~= "jsonl" then
    usage_error("invalid value for --format: '%s' (expected text or jsonl)", f)
  end
  return f
end

local function check_count(name, text)
  if text == nil then return nil end
  local n = math.tointeger(tonumber(text))
  if not n or n < 1 or not tostring(text):match("^%s*%d+%s*$") then
    usage_error("invalid value for %s: '%s' (expected a positive whole number)", name, text)
  end
  return n
end

local function check_tz(lib, tz)
  if tz == nil then return nil end
  if not lib.format_time then fail(FAIL_EXIT, "time zones are not available in this build") end
  local ok, res, msg = pcall(lib.format_time, 0, { tz = tz })
  if not ok or res == nil then
    local why = not ok and res or msg
    usage_error("invalid time zone for --tz: '%s'%s", tz, why and (" (" .. one_line(why) .. ")") or "")
  end
  return tz
end

local function parse_time_opt(lib, name, text, tz, now)
  if text == nil then return nil end
  if not lib.parse_time then fail(FAIL_EXIT, "time parsing is not available in this build") end
  local ok, ms = pcall(lib.parse_time, text, { tz = tz, now = now })
  if not ok or ms == nil then
    usage_error("invalid time for %s: '%s'", name, text)
  end
  return math.tointeger(ms) or ms
end

local function fmt_time(lib, ms, tz)
  if lib.format_time then
    local ok, s = pcall(lib.format_time, ms, { tz = tz })
    if ok and s then return s end
  end
  return tostring(ms)
end

-- Lua's matcher finds some mistakes only when it reaches them; look for those up front.
local function pattern_problem(pat)
  local ok, err = pcall(string.find, "", pat)
  if not ok then return err end
  local i, n = 1, #pat
  local captures, open = {}, {}   -- per capture: closed yet?; stack of open ones
  while i <= n do
    local c = pat:sub(i, i)
    if c == "%" then
      local d = pat:sub(i + 1, i + 1)
      if d == "" then return "ends with '%'" end
      if d == "b" then
        if i + 3 > n then return "missing arguments to '%b'" end
        i = i + 4
      elseif d == "f" then
        if pat:sub(i + 2, i + 2) ~= "[" then return "missing '[' after '%f'" end
        i = i + 2
      else
        local k = tonumber(d:match("%d") or "")
        if k and (k == 0 or not captures[k]) then
          return "invalid capture index %" .. d
        end
        i = i + 2
      end
    elseif c == "[" then
      local j = i + 1
      if pat:sub(j, j) == "^" then j = j + 1 end
      j = j + 1   -- a ']' right after '[' or '[^' is literal
      while true do
        local e = pat:sub(j - 1, j - 1)
        if e == "" or j - 1 > n then return "missing ']'" end
        if e == "%" then
          j = j + 2
        elseif e == "]" and j - 1 > i + 1 + (pat:sub(i + 1, i + 1) == "^" and 1 or 0) then
          break
        else
          j = j + 1
        end
      end
      i = j
    elseif c == "(" then
      captures[#captures + 1] = false
      open[#open + 1] = #captures
      i = i + 1
    elseif c == ")" then
      if #open == 0 then return "invalid pattern capture" end
      captures[table.remove(open)] = true
      i = i + 1
    else
      i = i + 1
    end
  end
  if #open > 0 then return "unfinished capture" end
  return nil
end
M.pattern_problem = pattern_problem

------------------------------------------------------------------------------------------
-- Running a command.

local function make_client(lib, args, debug)
  if not lib.client_factory then
    fail(FAIL_EXIT, "cannot load the cwlogs module: " .. tostring(lib.load_error))
  end
  local max_rps
  if args.max_rps then
    max_rps = tonumber(args.max_rps)
    if not max_rps or max_rps ~= max_rps or max_rps <= 0 or max_rps == math.huge then
      usage_error("invalid value for --max-rps: '%s' (expected a positive number)", args.max_rps)
    end
  end
  local client, err = lib.client_factory{
    region = args.region, profile = args.profile, endpoint = args.endpoint,
    debug = debug or nil, max_rps = max_rps,
  }
  if not client then fail(FAIL_EXIT, tostring(err or "cannot create a client")) end
  return client
end

-- A write failure: a closed pipe ends quietly, anything else is an error.
local function write_failed(werr)
  if werr.broken_pipe then fail(0, nil) end
  fail(FAIL_EXIT, tostring(werr))
end

local function open_sink(env, args, follow)
  if args.output then
    -- A follow run ends by interruption: write in place rather than lose it all.
    local sink, err = (follow and output.direct_file_sink or output.file_sink)(args.output)
    if not sink then write_failed(err) end
    return sink
  end
  return output.stream_sink(env.stdout or io.stdout)
end

-- Moves every array of events from a batch iterator through `fill` (an output.*_batch
-- formatter) into `sink`; closing as pump does. -> nil, or the write error
local function pump_batches(sink, fill, it, state, ctl, closer)
  for arr in it, state, ctl, closer do
    local ok, werr = fill(sink, arr)
    if not ok then return werr end
  end
  return nil
end

-- The same from an iterator of output strings (client:event_chunks). -> nil, or the write error
local function pump_chunks(sink, it, state, ctl, closer)
  for chunk in it, state, ctl, closer do
    local ok, werr = sink:write_chunk(chunk)
    if not ok then return werr end
  end
  return nil
end

-- The same from an iterator of single events; with `follow`, flushed after each event.
local function pump_events(sink, fill, follow, it, state, ctl, closer)
  local one = {}
  for ev in it, state, ctl, closer do
    one[1] = ev
    local ok, werr = fill(sink, one)
    if ok and follow then ok, werr = sink:flush() end
    if not ok then return werr end
  end
  return nil
end

-- Moves every item of an iterator through `fmt` into `sink`. The iterator's closing value,
-- if any, is closed on every way out of the loop (the generic for does it).
local function pump(sink, fmt, follow, it, state, ctl, closer)
  for item in it, state, ctl, closer do
    local ok, werr = sink:write(fmt(item))
    if ok and follow then ok, werr = sink:flush() end
    if not ok then return werr end
  end
  return nil
end

local function event_opts_for(lib, args, env, default_start)
  local tz = check_tz(lib, args.tz)
  local now = env.now
  local start = parse_time_opt(lib, "--start", args.start, tz, now)
  local stop = parse_time_opt(lib, "--end", args["end"], tz, now)
  if start and stop and start > stop then
    usage_error("--start (%s) is after --end (%s)", fmt_time(lib, start, tz), fmt_time(lib, stop, tz))
  end
  if not start and default_start then
    start = default_start(now)
  end
  return { start = start, stop = stop }, tz
end

local function current_ms(lib, env)
  if env.now then return env.now end
  if lib.now_ms then return lib.now_ms() end
  return os.time() * 1000
end

local function run_events(lib, env, args, debug)
  local format = check_format(args)
  local follow = args.command == "tail" and args.follow
  local default_start
  if args.command == "tail" then
    default_start = function() return current_ms(lib, env) - HOUR_MS end
  end
  local opts, tz = event_opts_for(lib, args, env, default_start)
  if args.grep then
    local problem = pattern_problem(args.grep)
    if problem then usage_error("invalid pattern for --grep: '%s' (%s)", args.grep, one_line(problem)) end
  end
  local limit = check_count("--limit", args.limit)
  local poll_ms
  if args.poll then
    local secs = tonumber(args.poll)
    if not secs or secs <= 0 or secs ~= secs or secs == math.huge then
      usage_error("invalid value for --poll: '%s' (expected seconds)", args.poll)
    end
    poll_ms = math.max(1, math.floor(secs * 1000 + 0.5))
  end

  local groups = args.group
  if #groups == 1 then opts.group = groups[1] else opts.groups = groups end
  if args.stream and #args.stream > 0 then opts.streams = args.stream end
  opts.stream_prefix = args.stream_prefix
  opts.pattern = args.filter
  opts.grep = args.grep
  opts.limit = limit
  if follow then opts.poll_ms = poll_ms end

  local fill
  if format == "jsonl" then
    fill = output.jsonl_batch()
  else
    if args.timestamp and not lib.format_time then
      fail(FAIL_EXIT, "time formatting is not available in this build")
    end
    local zone
    if args.timestamp and lib.zone then
      -- opened once: formatting with a zone name would read the zone file per event
      local ok, z = pcall(lib.zone, tz or "local")
      if ok and z then zone = z end
    end
    local format_time = lib.format_time
    local topts = { tz = tz }
    fill = output.text_batch{
      timestamp = args.timestamp, show_stream = args.show_stream,
      rstrip = lib.rstrip, fast_rstrip = lib.fast_rstrip, zone = zone,
      format_time = function(ms) return format_time(ms, topts) end,
    }
  end

  -- The fast path: one group, no local filtering, not following: each page goes from its
  -- body to output lines in C, with no table per event. Anything else (or a renderer that
  -- cannot be had) takes the formatters above.
  local renderer
  if lib.renderer and not follow and #groups == 1 and not args.grep and not limit then
    local ok, r = pcall(lib.renderer, {
      format = format, timestamp = args.timestamp and true or false, tz = tz or "local",
      show_stream = args.show_stream and true or false, group = groups[1],
    })
    if ok and r then renderer = r end
  end

  -- Progress on stderr for `get`: on a terminal, or when asked (--progress wins).
  local display
  if args.command == "get" and (args.progress or (not args.no_progress and lib.isatty
      and lib.isatty(2))) then
    display = progress.display(env.stderr or io.stderr, { clock = lib.clock_ms })
    opts.on_progress = function(p)
      if p.done then display:clear() else display:update(p) end
    end
  end

  local client = make_client(lib, args, debug)
  -- Arrays of events when the client has them (fewer calls per event), else one by one.
  local method = follow and "follow"
    or type(client.event_batches) == "function" and "event_batches" or "events"
  if type(client[method]) ~= "function" then
    fail(FAIL_EXIT, follow and "--follow is not supported yet" or "the client cannot list events")
  end
  local sink = open_sink(env, args, follow)
  return sink, function()
    if renderer and type(client.event_chunks) == "function" then
      local it, state, ctl, closer = client:event_chunks(opts, renderer)
      if it then
        local werr = pump_chunks(sink, it, state, ctl, closer)
        renderer:close()
        return werr
      end
      -- not eligible after all (or bad options, which the general path reports)
    end
    local it, state, ctl, closer = client[method](client, opts)
    if not it then fail(FAIL_EXIT, tostring(state or "cannot read events")) end
    if method == "event_batches" then
      return pump_batches(sink, fill, it, state, ctl, closer)
    end
    return pump_events(sink, fill, follow, it, state, ctl, closer)
  end, display
end

local function run_groups(lib, env, args, debug)
  local format = check_format(args)
  local client = make_client(lib, args, debug)
  local sink = open_sink(env, args)
  local fmt = format == "jsonl" and output.jsonl_record or function(g) return g.name .. "\n" end
  return sink, function()
    local it, state, ctl, closer = client:groups{ prefix = args.prefix }
    if not it then fail(FAIL_EXIT, tostring(state or "cannot list groups")) end
    return pump(sink, fmt, false, it, state, ctl, closer)
  end
end

-- Newest event first; streams that never had an event last; ties by name.
local function stream_order(a, b)
  local ta, tb = a.last_event_timestamp, b.last_event_timestamp
  if ta ~= tb then
    if ta == nil then return false end
    if tb == nil then return true end
    return ta > tb
  end
  return tostring(a.name) < tostring(b.name)
end

local function run_streams(lib, env, args, debug)
  local format = check_format(args)
  local client = make_client(lib, args, debug)
  local sink = open_sink(env, args)
  local fmt = format == "jsonl" and output.jsonl_record or function(s) return s.name .. "\n" end
  return sink, function()
    local list = {}
    do
      local it, state, ctl, closer = client:streams{ group = args.group, prefix = args.prefix }
      if not it then fail(FAIL_EXIT, tostring(state or "cannot list streams")) end
      for s in it, state, ctl, closer do list[#list + 1] = s end
    end
    table.sort(list, stream_order)
    local i = 0
    return pump(sink, fmt, false, function()
      i = i + 1
      return list[i]
    end)
  end
end

local function run_query(lib, env, args, debug)
  local format = check_format(args)
  if not args.query or args.query:match("^%s*$") then
    usage_error("query needs a query string: -q QUERY")
  end
  local opts = event_opts_for(lib, args, env, function() return current_ms(lib, env) - HOUR_MS end)
  opts.groups = args.group
  opts.query = args.query
  opts.limit = check_count("--limit", args.limit)
  if not opts.stop then opts.stop = current_ms(lib, env) end
  local fmt = format == "jsonl" and output.jsonl_row or output.text_row(lib.rstrip)
  local client = make_client(lib, args, debug)
  if type(client.query) ~= "function" then fail(FAIL_EXIT, "query is not supported yet") end
  local sink = open_sink(env, args)
  return sink, function()
    local rows, err = client:query(opts)
    if not rows then fail(FAIL_EXIT, tostring(err or "query failed")) end
    local i = 0
    return pump(sink, fmt, false, function()
      i = i + 1
      return rows[i]
    end)
  end
end

local RUNNERS = {
  get = run_events, tail = run_events, groups = run_groups, streams = run_streams, query = run_query,
}

------------------------------------------------------------------------------------------
-- main

-- What to tell the user about an error raised while running.
local function describe(err)
  if errors.is(err) then return tostring(err) end
  if type(err) == "table" then
    local mt = getmetatable(err)
    if mt and mt.__tostring then return tostring(err) end
    if err.message then return tostring(err.message) end
  end
  return tostring(err)
end

-- cli.main(argv [, env]) -> exit status
function M.main(argv, env)
  env = env or {}
  local stdout = env.stdout or io.stdout
  local stderr = env.stderr or io.stderr
  local getenv = env.getenv or os.getenv
  local argv_list = {}
  for i = 1, #(argv or {}) do argv_list[i] = argv[i] end

  local function say_error(msg)
    stderr:write("cwlogs: ", one_line(msg), "\n")
  end

  local parser, asked = build_parser()
  local pok, ok, args = pcall(parser.pparse, parser, argv_list)
  if asked.kind == "help" then
    stdout:write(asked.parser:get_help(), "\n")
    if stdout.flush then stdout:flush() end
    return 0
  elseif asked.kind == "version" then
    local lib = load_lib(env)
    if not lib.version then
      say_error("version unknown: the cwlogs module could not be loaded")
      return FAIL_EXIT
    end
    stdout:write("cwlogs ", tostring(lib.version), "\n")
    if stdout.flush then stdout:flush() end
    return 0
  end
  if not pok then
    say_error("internal error while reading arguments: " .. tostring(ok))
    return FAIL_EXIT
  end
  if not ok then
    local where = "cwlogs"
    for _, a in ipairs(argv_list) do
      if RUNNERS[a] then where = "cwlogs " .. a break end
    end
    say_error(parse_error_line(args) .. " (see '" .. where .. " --help')")
    return USAGE_EXIT
  end
  if not args.command then
    say_error("a command is required: get, groups, streams, tail or query (see 'cwlogs --help')")
    return USAGE_EXIT
  end

  args.region = args.region or args.top_region
  args.profile = args.profile or args.top_profile
  args.endpoint = args.endpoint or args.top_endpoint
  local debug = args.debug or args.top_debug or (getenv("CWLOGS_DEBUG") or "") ~= ""
  local lib = load_lib(env)
  if lib.ignore_sigpipe and not env.stdout then pcall(lib.ignore_sigpipe) end
  if lib.keep_heap and not env.stdout then pcall(lib.keep_heap) end

  local sink, display
  local traceback
  local function handler(e)
    if getmetatable(e) ~= Exit and not errors.is(e) and debug then
      traceback = traceback_of(tostring(e), 2)
    end
    return e
  end
  local rok, res = xpcall(function()
    local s, run, d = RUNNERS[args.command](lib, env, args, debug)
    sink, display = s, d
    local werr = run()
    if display then display:clear() end
    if werr then write_failed(werr) end
    local fok, ferr = sink:finish()
    if not fok then write_failed(ferr) end
    return 0
  end, handler)

  if rok then return res end
  if display then display:clear() end
  if sink then sink:abort() end
  if getmetatable(res) == Exit then
    if res.message then say_error(res.message) end
    return res.status
  end
  -- Ctrl-C: lua5.4 raises "interrupted!"; end like a shell command killed by SIGINT.
  if type(res) == "string" and res:find("interrupted!$") then return 130 end
  say_error(describe(res))
  if traceback then stderr:write(traceback, "\n") end
  return FAIL_EXIT
end

return M
