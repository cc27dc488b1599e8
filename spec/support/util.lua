-- Small helpers shared by specs.
local M = {}

function M.sh_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

function M.write_file(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

-- A new empty temporary directory.
function M.tmpdir()
  local p = assert(io.popen("mktemp -d"))
  local d = p:read("l")
  p:close()
  return d
end

-- The names in directory d (hidden ones too), sorted.
function M.dir_list(d)
  local p = assert(io.popen("ls -A " .. M.sh_quote(d)))
  local names = {}
  for l in p:lines() do names[#names + 1] = l end
  p:close()
  table.sort(names)
  return names
end

-- Runs a shell command; returns exit code, stdout, stderr.
function M.run(cmd)
  local out, err = os.tmpname(), os.tmpname()
  local ok, how, code = os.execute(cmd .. " > " .. M.sh_quote(out) .. " 2> " .. M.sh_quote(err))
  local o, e = M.read_file(out), M.read_file(err)
  os.remove(out); os.remove(err)
  if how == "exit" then return code, o, e end
  return ok and 0 or 128 + (code or 0), o, e
end

-- Python's str.rstrip() for the ASCII range (what the seed printed).
function M.rstrip(s)
  return (s:gsub("[ \t\n\v\f\r\28-\31]+$", ""))
end

-- Sorts events (AWS-shaped or ours) by timestamp, then event id, for set comparison.
function M.sorted_by_time_id(list, ts_key, id_key)
  local copy = table.move(list, 1, #list, 1, {})
  table.sort(copy, function(a, b)
    local ta, tb = math.tointeger(a[ts_key]), math.tointeger(b[ts_key])
    if ta ~= tb then return ta < tb end
    return tostring(a[id_key]) < tostring(b[id_key])
  end)
  return copy
end

function M.now_ms()
  return require("cwlogs.core").time_ms()
end

return M
