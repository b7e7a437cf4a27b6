-- GET a dashboard of BENCH_DAYS days whose window moves back a day on every request (each
-- thread its own days), so that no request finds the previous one's figures in the cache.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local token = os.getenv("BENCH_TOKEN")
local days = tonumber(os.getenv("BENCH_DAYS"))
local threads = tonumber(os.getenv("BENCH_THREADS"))
local now = os.time()
local sent = 0

function request()
  sent = sent + 1
  local last = now - (sent * threads + id) * 86400
  local first = last - (days - 1) * 86400
  local path = "/analytics/dashboard?from=" .. os.date("!%Y-%m-%d", first) ..
    "&to=" .. os.date("!%Y-%m-%d", last)
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
end
