-- Free-slot booking without contention: every request books another free slot for the patient
-- paired with it. BENCH_PAIRS is a file of lines `<patient token> <slot id>` (bench/scale.py
-- pairs slots and patients so that no patient gets two slots at one instant). Thread t of n
-- takes lines t+1, t+1+n, t+1+2n, ...: no two requests share a slot. Past the end of the file
-- the lines come round again (and answer 409): `used` in the report tells.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local lines = {}
local threads_n = tonumber(os.getenv("BENCH_THREADS")) or 2
used = 0

function init(args)
  for line in io.lines(os.getenv("BENCH_PAIRS")) do
    local token, slot = line:match("^(%S+)%s+(%S+)$")
    if token then lines[#lines + 1] = { token, slot } end
  end
end

function request()
  local i = (id or 0) + used * threads_n
  used = used + 1
  local pair = lines[i % #lines + 1]
  return wrk.format("POST", "/appointments",
    { ["Authorization"] = "Bearer " .. pair[1], ["Content-Type"] = "application/json" },
    '{"timeSlotId":"' .. pair[2] .. '","type":"CONSULTATION","reason":"bench-scale"}')
end
