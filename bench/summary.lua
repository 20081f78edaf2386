-- What the wrk scripts share (each loads it with dofile): thread numbering, and the JSON
-- summary each writes to $BENCH_OUT for its Python side (bench/harness.py's wrk()).

local shared = {threads = {}}
local counter = 0

-- wrk's setup(): number each thread (its global `tid`) and keep it for done().
function shared.setup(thread)
   thread:set("tid", counter)
   counter = counter + 1
   table.insert(shared.threads, thread)
end

-- Requests, duration, errors and latency percentiles as one JSON object in $BENCH_OUT;
-- `more`, if given, is further members (',"name":value...') to add to it.
function shared.write(summary, latency, more)
   local errors = summary.errors
   local out = io.open(os.getenv("BENCH_OUT"), "w")
   out:write(string.format(
      '{"requests":%d,"duration_us":%d,"errors":%d,' ..
      '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d%s}',
      summary.requests, summary.duration,
      errors.connect + errors.read + errors.write + errors.status + errors.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      more or ""))
   out:close()
end

return shared
