-- Shared by every bench-scale script: numbers the threads (a global `id` in each thread's
-- state, for scripts that split a list between threads) and, when wrk is done, prints one line
-- `WRKJSON {...}` that bench/scale.py reads. Latencies are wrk's, in microseconds. wrk counts
-- an answer >= 400 as a status error; the API answers no 3xx here, so that is the non-2xx count.
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local e = summary.errors
  local used, booked, cancels = 0, 0, 0
  for _, t in ipairs(threads) do
    used = used + (tonumber(t:get("used")) or 0)
    booked = booked + (tonumber(t:get("booked")) or 0)
    cancels = cancels + (tonumber(t:get("cancels")) or 0)
  end
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"non2xx":%d,"socket_errors":%d,"timeouts":%d,"used":%d,"booked":%d,"cancels":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.status, e.connect + e.read + e.write, e.timeout, used, booked, cancels))
end
