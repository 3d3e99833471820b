// Fallback load driver: autocannon (npm), used when wrk is not available.
// Its numbers are lower than wrk's (it is a Node process itself), so only compare
// ratios within one run, never absolute numbers across drivers.
import { execFile } from 'node:child_process';

/** opts: { autocannon (path to autocannon.js), url, connections, duration, headers, upload, pipeline, bodyFile } */
export function runAutocannon(opts) {
  const args = [opts.autocannon, '--json', '-c', String(opts.connections), '-d', String(opts.duration), '-t', '2'];
  for (const [k, v] of Object.entries(opts.headers ?? {})) args.push('-H', `${k}=${v}`);
  if (opts.upload) args.push('-m', 'POST', '-H', 'Content-Type=application/json', '-i', opts.bodyFile);
  if (opts.pipeline) args.push('-p', String(opts.pipeline));
  args.push(opts.url);

  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { timeout: (opts.duration + 30) * 1000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      let r;
      try {
        r = JSON.parse(stdout);
      } catch {
        return reject(new Error(`autocannon gave no result${err ? ` (${err.message.trim()})` : ''}\n${stderr}`.trim()));
      }
      const seconds = r.duration;
      resolve({
        requests: r.requests.total,
        rps: r.requests.total / seconds,
        mbps: r.throughput.total / seconds / 1e6,
        p50Ms: r.latency.p50,
        p99Ms: r.latency.p99,
        errors: r.errors, // autocannon's count already includes timeouts
        errorDetail: { errors: r.errors, timeout: r.timeouts },
        non2xx: r.non2xx,
        status503: Number(r.statusCodeStats?.['503']?.count ?? 0),
      });
    });
  });
}
