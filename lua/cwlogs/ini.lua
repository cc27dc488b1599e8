-- Reader for the AWS shared config and credentials files.
--
-- The format is what botocore reads through Python's RawConfigParser (strict mode):
--   * full-line comments start with `#` or `;` (after optional indentation); there are no
--     inline comments, so `region = x # y` has the value `x # y`;
--   * `[section]` headers keep their case; keys are lower-cased; `=` or `:` separates a
--     key from its value; keys and values are trimmed;
--   * a line indented deeper than its key continues that key's value; a key whose value
--     starts on the next line (`cloudwatch_logs =` followed by indented `k = v` lines) is a
--     nested sub-section and is returned as a table (nested keys keep their case);
--   * `[DEFAULT]` supplies defaults to every other section;
--   * a line that is neither a comment, a header, a key nor a continuation, a key before
--     any header, a repeated section or a repeated key in one section is an error, as in
--     botocore (it raises ConfigParseError): parse() returns nil, message with the line
--     number, and the caller decides how to report it.
local M = {}

local function trim(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

-- Nested value "\nk = v\nk2 = v2" -> { k = "v", k2 = "v2" }, or nil when a line has no `=`.
local function parse_nested(value)
  local out = {}
  for line in value:gmatch("[^\n]+") do
    line = trim(line)
    if line ~= "" then
      local k, v = line:match("^([^=]*)=(.*)$")
      if not k then return nil end
      out[trim(k)] = trim(v)
    end
  end
  return out
end

-- parse(text [, name]) -> { [section] = { key = value | {nested} } } or nil, message.
-- `name` is used in messages only (a file path).
function M.parse(text, name)
  name = name or "config"
  local sections, order = {}, {}
  local defaults = {}
  local cur, cur_name        -- current section table and its name
  local key, key_indent      -- key whose value may continue on the next lines
  local pieces               -- value lines of `key`
  local seen_keys = {}

  local function finish_key()
    if key then
      -- Trailing blank lines belong to no value.
      while #pieces > 1 and pieces[#pieces] == "" do pieces[#pieces] = nil end
      cur[key] = table.concat(pieces, "\n")
    end
    key, pieces = nil, nil
  end

  local function fail(lineno, what)
    return nil, string.format("%s, line %d: %s", name, lineno, what)
  end

  local lineno = 0
  -- Normalise line ends, then walk the lines (a final line without "\n" counts too).
  text = text:gsub("\r\n?", "\n")
  if text:sub(-1) ~= "\n" then text = text .. "\n" end
  for line in text:gmatch("([^\n]*)\n") do
    lineno = lineno + 1
    if lineno == 1 then line = line:gsub("^\239\187\191", "") end -- UTF-8 BOM
    local indent = #line:match("^[ \t]*")
    local body = trim(line)
    if body == "" then
      if key then pieces[#pieces + 1] = "" end
    elseif body:find("^[#;]") then -- luacheck: ignore 542
      -- A comment, also inside a multi-line value (configparser skips it too).
    elseif key and indent > key_indent then
      pieces[#pieces + 1] = body
    else
      finish_key()
      local header = body:match("^%[(.+)%]")
      if header then
        if header == "DEFAULT" then
          cur, cur_name = defaults, header
        else
          if sections[header] then return fail(lineno, "section [" .. header .. "] repeated") end
          cur, cur_name = {}, header
          sections[header] = cur
          order[#order + 1] = header
        end
        seen_keys = {}
      else
        local k, v = body:match("^(.-)%s*[=:]%s*(.*)$")
        if not k then return fail(lineno, "expected 'key = value' or '[section]'") end
        if k == "" then return fail(lineno, "empty key") end
        if not cur then return fail(lineno, "'" .. k .. "' before any [section]") end
        k = k:lower()
        if seen_keys[k] then
          return fail(lineno, "key '" .. k .. "' repeated in [" .. cur_name .. "]")
        end
        seen_keys[k] = true
        key, key_indent, pieces = k, indent, { v }
      end
    end
  end
  finish_key()

  -- Nested sub-sections: a value that starts with a newline (`key =` then indented lines).
  local function expand(tbl, section_name)
    for k, v in pairs(tbl) do
      if type(v) == "string" and v:sub(1, 1) == "\n" then
        local nested = parse_nested(v)
        if not nested then
          return nil, string.format("%s: [%s] %s: nested lines must be 'key = value'",
            name, section_name, k)
        end
        tbl[k] = nested
      end
    end
    return true
  end
  local ok, err = expand(defaults, "DEFAULT")
  if not ok then return nil, err end
  for _, sname in ipairs(order) do
    ok, err = expand(sections[sname], sname)
    if not ok then return nil, err end
    for k, v in pairs(defaults) do
      if sections[sname][k] == nil then sections[sname][k] = v end
    end
  end
  return sections
end

-- read(path) -> sections, or nil when the file cannot be read (an absent file is no error),
-- or nil, message when it exists but does not parse.
function M.read(path)
  local f = path and io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  if not text then return nil end
  return M.parse(text, path)
end

-- Splits a section name the way botocore's shlex.split does for `[profile NAME]`:
-- words separated by blanks, with "double" or 'single' quotes grouping. Returns a list.
function M.split_words(s)
  local words = {}
  local i, n = 1, #s
  while i <= n do
    local c = s:sub(i, i)
    if c:match("%s") then
      i = i + 1
    else
      local word = {}
      while i <= n and not s:sub(i, i):match("%s") do
        c = s:sub(i, i)
        if c == '"' or c == "'" then
          local close = s:find(c, i + 1, true)
          if not close then return nil end
          word[#word + 1] = s:sub(i + 1, close - 1)
          i = close + 1
        else
          word[#word + 1] = c
          i = i + 1
        end
      end
      words[#words + 1] = table.concat(word)
    end
  end
  return words
end

return M
