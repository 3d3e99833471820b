-- Shared wrk hooks: count non-2xx responses and print one JSON line at the end.
-- Every scenario loads this file, so every server pays the same cost for the
-- response() hook (defining it makes wrk hand each response to Lua, which is slower).

-- Per-thread counters. Each wrk thread runs its own copy of this script, so these
-- globals live in that thread's Lua state; done() collects them through setup().
non2xx = 0
status503 = 0

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if status == 503 then
      status503 = status503 + 1
    end
  end
end

-- Runs once in the main thread after the run. The harness looks for the line
-- starting with "BENCH_JSON " and parses the rest; wrk's own text is ignored.
function done(summary, latency, requests)
  local n, s503 = 0, 0
  for _, t in ipairs(threads) do
    n = n + (t:get("non2xx") or 0)
    s503 = s503 + (t:get("status503") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},' ..
    '"non2xx":%d,"status503":%d,' ..
    '"latency_us":{"p50":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.timeout, e.status,
    n, s503,
    latency:percentile(50), latency:percentile(99), latency.max, latency.mean))
end
