-- wrk script: print p50 and p95 latency (ms) and req/s in a line the runner parses.
done = function(summary, latency, requests)
  io.write(string.format("PAWTAL p50=%.2f p95=%.2f rps=%.1f errors=%d\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    summary.requests / (summary.duration / 1e6),
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
