// Load driver: wrk (Debian package). The Lua hooks in bench/wrk/ print one JSON
// line with the counts and percentiles, so nothing depends on wrk's text layout.
import { execFile } from 'node:child_process';
import path from 'node:path';

/**
 * Runs wrk once. opts: { wrk, benchDir, url, connections, threads, duration,
 * headers, upload, pipeline, bodyFile }. Returns the normalized result (see normalize()).
 */
export function runWrk(opts) {
  const script = path.join(opts.benchDir, 'wrk', opts.upload ? 'post-upload.lua' : opts.pipeline ? 'pipeline.lua' : 'report.lua');
  const args = [
    '-t', String(Math.min(opts.threads, opts.connections)),
    '-c', String(opts.connections),
    '-d', `${opts.duration}s`,
    '--timeout', '2s',
    '-s', script,
  ];
  for (const [k, v] of Object.entries(opts.headers ?? {})) args.push('-H', `${k}: ${v}`);
  args.push(opts.url);
  if (opts.upload) args.push('--', opts.bodyFile);
  else if (opts.pipeline) args.push('--', String(opts.pipeline));

  return new Promise((resolve, reject) => {
    // The kill timeout bounds the run even if wrk hangs.
    execFile(opts.wrk, args, { timeout: (opts.duration + 30) * 1000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const line = stdout.split('\n').find((l) => l.startsWith('BENCH_JSON '));
      if (!line) return reject(new Error(`wrk gave no result${err ? ` (${err.message.trim()})` : ''}\n${stderr || stdout}`.trim()));
      const result = normalize(JSON.parse(line.slice('BENCH_JSON '.length)));
      // wrk 4.1 times a pipelined batch as a whole and its percentiles come out wrong
      // (a p99 of 0 below a p50 of 9 ms), so pipelined runs report no latency.
      if (opts.pipeline) Object.assign(result, { p50Ms: null, p99Ms: null });
      resolve(result);
    });
  });
}

function normalize(r) {
  const seconds = r.duration_us / 1e6;
  const e = r.errors;
  return {
    requests: r.requests,
    rps: r.requests / seconds,
    mbps: r.bytes / seconds / 1e6,
    p50Ms: r.latency_us.p50 / 1000,
    p99Ms: r.latency_us.p99 / 1000,
    // Socket-level failures; HTTP error statuses are counted in non2xx instead.
    errors: e.connect + e.read + e.write + e.timeout,
    errorDetail: { connect: e.connect, read: e.read, write: e.write, timeout: e.timeout },
    non2xx: r.non2xx,
    status503: r.status503,
  };
}
