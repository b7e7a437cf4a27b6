-- The mixed workload: mostly reads, some bookings and cancellations, at wrk's fixed number of
-- connections. BENCH_DATA is a Lua file written by bench/scale.py returning
--   { desk = token, patients = { token, ... }, reads = { { weight, path, who }, ... },
--     book_weight = n, cancel_weight = n }
-- where `who` is "desk" or "patient" (a random one of the logged-in patients). Bookings take
-- the lines of BENCH_PAIRS as book.lua does; each booked appointment (a 201 answer) is queued,
-- and a cancellation is the desk cancelling the oldest one this thread booked (a read when the
-- queue is empty).
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local data = dofile(os.getenv("BENCH_DATA"))
local lines = {}
local threads_n = tonumber(os.getenv("BENCH_THREADS")) or 2
local queue, head = {}, 1
local total = 0
used, booked, cancels = 0, 0, 0

function init(args)
  for line in io.lines(os.getenv("BENCH_PAIRS")) do
    local token, slot = line:match("^(%S+)%s+(%S+)$")
    if token then lines[#lines + 1] = { token, slot } end
  end
  for _, r in ipairs(data.reads) do total = total + r[1] end
  math.randomseed(os.time() + (id or 0))
end

local function bearer(token)
  return { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
end

local function read()
  local pick = math.random() * total
  for _, r in ipairs(data.reads) do
    pick = pick - r[1]
    if pick <= 0 or _ == #data.reads then
      local token = data.desk
      if r[3] == "patient" then token = data.patients[math.random(#data.patients)] end
      return wrk.format("GET", r[2], bearer(token))
    end
  end
end

function request()
  local roll = math.random(100)
  if roll <= data.book_weight then
    local i = (id or 0) + used * threads_n
    used = used + 1
    local pair = lines[i % #lines + 1]
    return wrk.format("POST", "/appointments", bearer(pair[1]),
      '{"timeSlotId":"' .. pair[2] .. '","type":"CONSULTATION","reason":"bench-scale"}')
  elseif roll <= data.book_weight + data.cancel_weight and queue[head] then
    local appointment = queue[head]
    queue[head] = nil
    head = head + 1
    cancels = cancels + 1
    return wrk.format("POST", "/appointments/" .. appointment .. "/cancel", bearer(data.desk),
      '{"reason":"bench-scale"}')
  end
  return read()
end

function response(status, headers, body)
  if status == 201 then
    local appointment = body:match('"id":"([0-9a-f%-]+)"')
    if appointment then
      booked = booked + 1
      queue[#queue + 1] = appointment
    end
  end
end
