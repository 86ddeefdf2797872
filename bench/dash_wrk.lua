-- dash_wrk.lua - wrk's requests for bench/dashboard_load.sh: the pages an
-- operator looks at, in turn (the queues, the newest tasks, the failed
-- ones, a task, the workers, the metrics and the JSON of the queues).
-- DASH_TASK_ID names the task page; DASH_DELAY_MS (default 0: full speed)
-- makes each connection wait that long before its next request, so that
-- C connections make about C * 1000 / DASH_DELAY_MS requests a second.
-- done() prints one line that the script reads:
--   wrk_result requests=N errors=N p50_ms=X p99_ms=X max_ms=X rps=X
local id = os.getenv("DASH_TASK_ID") or "1"
local delay_ms = tonumber(os.getenv("DASH_DELAY_MS") or "0")
local paths = {"/", "/tasks", "/tasks?status=failed", "/tasks/" .. id, "/workers", "/metrics",
               "/api/queues"}
local i = 0

request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end

if delay_ms > 0 then
  delay = function() return delay_ms end
end

done = function(summary, latency, requests)
  local errs = summary.errors.connect + summary.errors.read + summary.errors.write
             + summary.errors.status + summary.errors.timeout
  io.write(string.format("wrk_result requests=%d errors=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f rps=%.1f\n",
    summary.requests, errs, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.requests / (summary.duration / 1e6)))
end
