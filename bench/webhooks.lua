-- wrk script for bench/webhooks.py: canonical events of launches flowtrack knows, one in
-- ten of them the complete that ends its launch (so 10 % of events end a launch).
-- Thread t's k-th launch is "bl-<prefix>-t-k" (the benchmark stores them beforehand).
-- args: run-prefix token path

local shared = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "summary.lua")
setup = shared.setup

function init(args)
   prefix = args[1]
   path = args[3]
   sent = 0
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Authorization"] = "Bearer " .. args[2]
end

function request()
   local n = sent
   sent = sent + 1
   local launch = string.format("bl-%s-%d-%d", prefix, tid, math.floor(n / 10))
   local kind = (n % 10 == 9) and "complete" or "node_enter"
   local body = string.format(
      '{"event":"%s","eventId":"%s-%d-%d","launchId":"%s","flowExecutionId":"x%s",' ..
      '"flowId":"7d2a3b1e-5c0f-4f6e-9a41-2b8e0c9d1f37","nodeId":"act-%d","nodeType":"Action",' ..
      '"nodeName":"Call Data Action: look up customer record","occurredAt":"%s.%03dZ"}',
      kind, prefix, tid, n, launch, launch, n % 10, os.date("!%Y-%m-%dT%H:%M:%S"), n % 1000)
   return wrk.format(nil, path, nil, body)
end

function done(summary, latency, requests)
   shared.write(summary, latency)
end
