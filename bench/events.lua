-- wrk script: POSTs realistic ~600-byte canonical flow events, each with a unique eventId.
-- Run with one connection per thread (-t N -c N): a thread's k-th response then answers its
-- k-th request, so the benchmark knows exactly which events were acknowledged.
-- args: run-prefix batch-size token path

local shared = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "summary.lua")
setup = shared.setup

function init(args)
   prefix = args[1]
   batch = tonumber(args[2])
   path = args[4]
   sent = 0
   responded = 0
   failed = ""
   math.randomseed(tid * 7919 + 17)
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Authorization"] = "Bearer " .. args[3]
   conversation = nil
   verified = false
end

local function uuid()
   return string.format("%08x-%04x-4%03x-%04x-%06x%06x",
      math.random(0, 0x7fffffff), math.random(0, 0xffff), math.random(0, 0xfff),
      math.random(0x8000, 0xbfff), math.random(0, 0xffffff), math.random(0, 0xffffff))
end

-- flowtrack's launch ids are UUIDv7: milliseconds since the epoch, then random bits
local function launch_uuid()
   local ms = os.time() * 1000 + math.random(0, 999)
   return string.format("%08x-%04x-7%03x-%04x-%06x%06x",
      math.floor(ms / 65536), ms % 65536, math.random(0, 0xfff),
      math.random(0x8000, 0xbfff), math.random(0, 0xffffff), math.random(0, 0xffffff))
end

local function event(n)
   -- a new launch every 8 events: Genesys' conversation and execution ids are random,
   -- the launch id is flowtrack's own (time-ordered), as in real traffic
   if n % 8 == 0 or conversation == nil then
      launch = launch_uuid()
      conversation = uuid()
      execution = uuid()
   end
   return string.format(
      '{"event":"node_enter","eventId":"%s-%d-%d","launchId":"%s","flowExecutionId":"%s",' ..
      '"conversationId":"%s","flowId":"7d2a3b1e-5c0f-4f6e-9a41-2b8e0c9d1f37","flowVersion":"12.0",' ..
      '"nodeId":"act-%d","nodeType":"Action","nodeName":"Call Data Action: look up customer record",' ..
      '"outputPath":"__SUCCESS__","occurredAt":"%s.%03dZ","attributes":{"queue":"Support EMEA",' ..
      '"language":"en-GB","customerTier":"gold","channel":"voice","ani":"tel:+15555550123",' ..
      '"dnis":"tel:+15555550100","intent":"billing-question"}}',
      prefix, tid, n, launch, execution, conversation, n % 40,
      os.date("!%Y-%m-%dT%H:%M:%S"), n % 1000)
end

function request()
   local body
   if batch == 1 then
      body = event(sent)
   else
      local parts = {}
      for i = 0, batch - 1 do
         parts[i + 1] = event(sent * batch + i)
      end
      body = "[" .. table.concat(parts, ",") .. "]"
   end
   if tid == 0 and not verified then
      -- wrk calls request() once on thread 0 to inspect the script and never sends that
      -- request: do not count it, so request k of every thread is answered by response k.
      verified = true
   else
      sent = sent + 1
   end
   return wrk.format(nil, path, nil, body)
end

function response(status, headers, body)
   if status ~= 200 then
      failed = failed .. responded .. ":" .. status .. ","
   end
   responded = responded + 1
end

function done(summary, latency, requests)
   local threads = {}
   for i, thread in ipairs(shared.threads) do
      threads[i] = string.format('{"tid":%d,"sent":%d,"responded":%d,"failed":"%s"}',
         thread:get("tid"), thread:get("sent"), thread:get("responded"), thread:get("failed"))
   end
   shared.write(summary, latency, ',"threads":[' .. table.concat(threads, ",") .. "]")
end
