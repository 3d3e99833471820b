// Folds the rounds of one server in one scenario into one row. Rates and latencies
// take the median (robust to one noisy round); failures are summed over all rounds
// (one error anywhere counts); memory takes the peak.

export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

const sum = (values) => values.reduce((a, b) => a + (b ?? 0), 0);

export function summarize(runs) {
  const ok = runs.filter((r) => !r.failed);
  if (ok.length === 0) return null;
  const pick = (k) => ok.map((r) => r[k]);
  const row = {
    rounds: ok.length,
    failedRounds: runs.length - ok.length,
    rps: median(pick('rps')),
    mbps: median(pick('mbps')),
    p50Ms: median(pick('p50Ms')),
    p99Ms: median(pick('p99Ms')),
    errors: sum(pick('errors')),
    non2xx: sum(pick('non2xx')),
    status503: sum(pick('status503')),
    rssMiB: Math.max(...pick('rssMiB')),
    cpuUsPerRequest: median(pick('cpuUsPerRequest')),
  };
  if (ok.some((r) => r.files !== undefined)) {
    row.files = sum(pick('files'));
    row.ok2xx = sum(ok.map((r) => r.requests - r.non2xx));
    // wrk stops with up to one request in flight per connection: those may be
    // stored but not counted, so a few more files than 2xx is expected.
    row.filesMismatch = ok.some((r) => r.files < r.requests - r.non2xx || r.files > r.requests - r.non2xx + r.connections);
  }
  return row;
}
