-- wrk script: GETs the transitions of random conversations (or launches).
-- env BENCH_PATHS: a file with one request path per line; BENCH_OUT: where the summary goes.
-- args: api-key

local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do
   paths[#paths + 1] = line
end
local counter = 0

function setup(thread)
   thread:set("tid", counter)
   counter = counter + 1
end

function init(args)
   math.randomseed(tid * 7919 + 17)
   wrk.headers["Authorization"] = "Bearer " .. args[1]
end

function request()
   return wrk.format("GET", paths[math.random(#paths)])
end

function done(summary, latency, requests)
   local out = io.open(os.getenv("BENCH_OUT"), "w")
   out:write(string.format(
      '{"requests":%d,"duration_us":%d,"errors":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}',
      summary.requests, summary.duration,
      summary.errors.connect + summary.errors.read + summary.errors.write +
      summary.errors.status + summary.errors.timeout,
      latency:percentile(50), latency:percentile(99), latency.max))
   out:close()
end
