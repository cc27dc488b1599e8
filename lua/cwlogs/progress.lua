-- A one-line progress display for long downloads, drawn on a terminal (stderr).
--
--   local d = progress.display(io.stderr, { clock = core.clock_ms })
--   d:update(run:progress())   -- redraws at most every 250 ms (force with d:update(p, true))
--   d:clear()                  -- erases the line; call before any other output to stderr
--
-- The line: events and bytes so far, events per second, the share of the time range done,
-- and the time left estimated from that share, e.g.
--   cwlogs: 1,204,311 events  412.6 MB  38.2k ev/s  43% of range  ~1m20s left
-- Nothing here decides whether to draw (the CLI does: stderr is a terminal, --progress).
local M = {}

local REDRAW_MS = 250
local FIRST_MS = 500    -- nothing is drawn for runs shorter than this

local function thousands(n)
  local s = tostring(math.floor(n))
  local out = s:reverse():gsub("(%d%d%d)", "%1,"):reverse()
  return (out:gsub("^,", ""))
end

local function bytes(n)
  if n >= 1e9 then return string.format("%.2f GB", n / 1e9) end
  if n >= 1e6 then return string.format("%.1f MB", n / 1e6) end
  if n >= 1e3 then return string.format("%.0f kB", n / 1e3) end
  return string.format("%d B", n)
end

local function rate(r)
  if r >= 1e6 then return string.format("%.2fM ev/s", r / 1e6) end
  if r >= 1e3 then return string.format("%.1fk ev/s", r / 1e3) end
  return string.format("%.0f ev/s", r)
end

local function duration(ms)
  local s = math.floor(ms / 1000 + 0.5)
  if s < 60 then return s .. "s" end
  if s < 3600 then return string.format("%dm%02ds", s // 60, s % 60) end
  return string.format("%dh%02dm", s // 3600, (s % 3600) // 60)
end

-- The text of the line for progress numbers p (engine.Run:progress()).
function M.line(p)
  local parts = {
    thousands(p.events or 0) .. " events",
    bytes(p.bytes or 0),
    rate(p.events_per_s or 0),
    string.format("%d%% of range", math.floor((p.share or 0) * 100)),
  }
  if p.eta_ms then parts[#parts + 1] = "~" .. duration(p.eta_ms) .. " left" end
  if (p.throttles or 0) > 0 then parts[#parts + 1] = thousands(p.throttles) .. " throttled" end
  return "cwlogs: " .. table.concat(parts, "  ")
end

local Display = {}
Display.__index = Display

-- display(stream, { clock = function() -> ms }) -> display
function M.display(stream, opts)
  return setmetatable({ stream = stream, clock = opts and opts.clock or function()
    return math.floor(os.clock() * 1000) end, last = nil, shown = false }, Display)
end

function Display:update(p, force)
  local now = self.clock()
  if not force and (p.elapsed_ms or 0) < FIRST_MS then return end
  if not force and self.last and now - self.last < REDRAW_MS then return end
  self.last = now
  -- \r and "erase to end of line": redraw in place
  self.stream:write("\r\27[K", M.line(p))
  if self.stream.flush then self.stream:flush() end
  self.shown = true
end

function Display:clear()
  if not self.shown then return end
  self.shown = false
  self.stream:write("\r\27[K")
  if self.stream.flush then self.stream:flush() end
end

return M
