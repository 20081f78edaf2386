-- wrk script: GETs the transitions of random conversations (or launches).
-- env BENCH_PATHS: a file with one request path per line; BENCH_OUT: where the summary goes.
-- args: api-key

local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do
   paths[#paths + 1] = line
end
local shared = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "summary.lua")
setup = shared.setup

function init(args)
   math.randomseed(tid * 7919 + 17)
   wrk.headers["Authorization"] = "Bearer " .. args[1]
end

function request()
   return wrk.format("GET", paths[math.random(#paths)])
end

function done(summary, latency, requests)
   shared.write(summary, latency)
end
