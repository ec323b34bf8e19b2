-- wrk script for coachd's benchmark: replays requests from a file and reports one JSON line.
--
--   wrk -s bench/requests.lua ... -- FILE [RATE] [THREADS] [SKIP]
--
-- FILE has one request a line: METHOD <TAB> PATH <TAB> BEARER-TOKEN-or-"-" <TAB> BODY-or-"-".
-- The first SKIP lines are left out (a previous run sent them: done() reports `max_line`, the
-- highest line any thread sent, requests in flight at the end included). Of the rest, thread i of n
-- (THREADS = wrk's -t) takes lines i, i+n, i+2n, … so no two connections send the same line (a
-- booking slot is booked once); a thread that runs out of lines starts over, and done()
-- reports `wrapped` so the caller can tell that requests were repeated.
--
-- RATE (optional, requests/s for the whole run) paces each thread on a fixed schedule
-- (clock_gettime through LuaJIT's ffi): delay() returns the time until the thread's next slot.
-- wrk starts its latency clock when a request is written, so pacing time is not counted.
--
-- done() prints `BENCH_JSON {…}`: completed requests, errors by kind (wrk counts every status
-- above 399 as a status error), answers by status code, duration, latency percentiles in
-- microseconds.

local ffi = require("ffi")
ffi.cdef [[
  typedef long time_t;
  typedef struct { time_t tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local threads = {}
local counter = 0

function setup(thread)
  thread:set("thread_index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local requests = {}
local line_numbers = {} -- the file line of each request
max_line = 0            -- the highest file line this thread has sent
local next_index = 1
local interval_ms = nil
local next_slot = nil
wrapped = 0

local function split(line)
  local out = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do table.insert(out, field) end
  return out
end

-- wrk runs each thread's init() on its main thread, one after the other, and starts a thread as
-- soon as its init() returns; its clock for the whole run starts only after the last one. With
-- a few hundred thousand lines an init() takes most of a second, so thread 0 used to send for
-- that long before the measured time began and inflated the rate (by about 3 % for 450,000
-- lines and two threads). Each thread therefore holds its first request until the threads
-- after it are likely to have loaded too: its own load time for each of them, and a margin.
local start_at = nil

function init(args)
  local init_started = now_ms()
  local file = args[1]
  local rate = tonumber(args[2] or "")
  local nthreads = tonumber(args[3] or "1")
  local skip = tonumber(args[4] or "0") or 0
  local all = {}
  for line in io.lines(file) do
    if line ~= "" then table.insert(all, line) end
  end
  if #all > 0 then skip = skip % #all end
  -- Too few lines left for every thread to have one (an earlier run on a faster machine sent
  -- nearly the whole file): start over from the top and report it as a wrap, so the caller says
  -- that requests were repeated instead of this run failing.
  if #all - skip < nthreads then
    skip = 0
    wrapped = 1
  end
  local i = 0
  for n, line in ipairs(all) do
    if n > skip then
      if i % nthreads == thread_index then
        local f = split(line)
        local headers = {}
        if f[3] ~= nil and f[3] ~= "-" and f[3] ~= "" then headers["Authorization"] = "Bearer " .. f[3] end
        local body = nil
        if f[4] ~= nil and f[4] ~= "-" and f[4] ~= "" then
          body = f[4]
          headers["Content-Type"] = "application/json"
        end
        table.insert(requests, wrk.format(f[1], f[2], headers, body))
        table.insert(line_numbers, n)
      end
      i = i + 1
    end
  end
  if #requests == 0 then error("requests.lua: no request for thread " .. thread_index .. " in " .. file) end
  if rate and rate > 0 then interval_ms = 1000.0 * nthreads / rate end
  local loaded = now_ms()
  start_at = loaded + (loaded - init_started) * 1.1 * (nthreads - 1 - thread_index)
end

function delay()
  local now = now_ms()
  if start_at ~= nil then
    if now < start_at then return math.ceil(start_at - now) end
    start_at = nil
  end
  if interval_ms == nil then return 0 end
  if next_slot == nil then next_slot = now end
  next_slot = next_slot + interval_ms
  local wait = next_slot - now
  if wait < 0 then
    -- Behind schedule: do not burst to catch up, start the schedule over from now.
    next_slot = now
    return 0
  end
  return math.floor(wait)
end

function request()
  local r = requests[next_index]
  if line_numbers[next_index] > max_line then max_line = line_numbers[next_index] end
  next_index = next_index + 1
  if next_index > #requests then
    next_index = 1
    wrapped = wrapped + 1
  end
  return r
end

-- Answers by status code, so that the report can say which errors these were.
statuses = {}
first_error = ""
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status > 399 and first_error == "" then first_error = status .. " " .. string.sub(body or "", 1, 300) end
end

function done(summary, latency, requests_stat)
  local total_wrapped = 0
  local last_line = 0
  local by_status = {}
  for _, t in ipairs(threads) do
    total_wrapped = total_wrapped + (t:get("wrapped") or 0)
    last_line = math.max(last_line, t:get("max_line") or 0)
    for code, n in pairs(t:get("statuses") or {}) do by_status[code] = (by_status[code] or 0) + n end
  end
  local first = ""
  for _, t in ipairs(threads) do
    local e = t:get("first_error") or ""
    if first == "" then first = e end
  end
  local codes = {}
  for code, n in pairs(by_status) do table.insert(codes, string.format('"%d":%d', code, n)) end
  local e = summary.errors
  local parts = {
    string.format('"requests":%d', summary.requests),
    string.format('"duration_us":%d', summary.duration),
    string.format('"bytes":%d', summary.bytes),
    string.format('"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}',
      e.connect, e.read, e.write, e.status, e.timeout),
    string.format('"latency_us":{"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}',
      latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency:percentile(99.9)),
    string.format('"wrapped":%d', total_wrapped),
    string.format('"max_line":%d', last_line),
    '"status":{' .. table.concat(codes, ",") .. '}',
    '"first_error":"' .. first:gsub('[%c"\\]', " ") .. '"',
  }
  io.write("BENCH_JSON {" .. table.concat(parts, ",") .. "}\n")
end
