-- GET the URL given to wrk, as the bearer of BENCH_TOKEN when it is set (one request, repeated).
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
