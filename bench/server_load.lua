-- wrk script for bench/server_load.sh: POSTs the JSON bodies of the file
-- $FFF_BODIES (one per line) round-robin to the URL's path, counts answers
-- by status, and prints one JSON line of results when done. With
-- $FFF_RETRY_AFTER_MS > 0 a connection answered 429 waits that long before
-- its next request (a client honouring Retry-After); with 0 it retries at
-- once (a client that hammers).
local bodies = {}
for line in io.lines(os.getenv("FFF_BODIES")) do
  bodies[#bodies + 1] = line
end
local next_body = 0
local retry_after_ms = tonumber(os.getenv("FFF_RETRY_AFTER_MS") or "0")
local last_status = 200
statuses = {}  -- per wrk thread; done() collects them through setup()
local threads = {}

setup = function(thread)
  threads[#threads + 1] = thread
end

request = function()
  next_body = next_body % #bodies + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"},
                    bodies[next_body])
end

response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  last_status = status
end

-- wrk calls delay() right after response() of the same connection.
delay = function()
  if last_status == 429 then
    return retry_after_ms
  end
  return 0
end

done = function(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do
      total[k] = (total[k] or 0) + v
    end
  end
  local by_status = {}
  for k, v in pairs(total) do
    by_status[#by_status + 1] = string.format('"%d":%d', k, v)
  end
  io.write(string.format(
    '{"requests":%d,"duration_s":%.3f,"requests_per_s":%.2f,' ..
    '"non_2xx":%d,"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
    '"latency_ms":{"p50":%.3f,"p90":%.3f,"p95":%.3f,"p99":%.3f,' ..
    '"max":%.3f,"mean":%.3f},"statuses":{%s}}\n',
    summary.requests, summary.duration / 1e6,
    summary.requests / (summary.duration / 1e6), summary.errors.status,
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout,
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3,
    latency:percentile(95) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3, latency.mean / 1e3, table.concat(by_status, ",")))
end
