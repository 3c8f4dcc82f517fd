-- wrk script: as p95.lua, and how many answers were 304 Not Modified (summed over wrk's threads).
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  answered, not_modified = 0, 0
end

function response(status, headers, body)
  answered = answered + 1
  if status == 304 then not_modified = not_modified + 1 end
end

done = function(summary, latency, requests)
  local total, unchanged = 0, 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("answered")
    unchanged = unchanged + thread:get("not_modified")
  end
  io.write(string.format("PAWTAL p50=%.2f p95=%.2f rps=%.1f errors=%d\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    summary.requests / (summary.duration / 1e6),
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  io.write(string.format("PAWTAL304 answered=%d not_modified=%d\n", total, unchanged))
end
