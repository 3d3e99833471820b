#!/usr/bin/env node
// Soak test (not run in CI): mixed load for a long time while resident memory, open file
// descriptors and event-loop lag are sampled from the admin listener; ends with a pass/fail
// verdict on leaks. The load: small GETs, the 2.4 MB image, JSON uploads and malformed requests.
//
//   node scripts/soak.mjs [--seconds=600] [--interval=5] [--concurrency=8]
//                         [--port=N --admin-port=M]
//
// Without --port it starts the built server (dist/src/main.js; run `npm run build` first) on
// ephemeral ports with a temporary uploads folder, and stops it at the end. With --port it
// loads a server you started (uploads then land in that server's UPLOADS_DIR).
// Exit code 0 on pass, 1 on a leak, an unexpected response, or a server that died.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MiB = 1024 * 1024;
/** Samples in the first part of the run are warm-up (JIT, pools, heap sizing): not judged. */
const WARM_UP_FRACTION = 0.2;
/** Leak thresholds, comparing the last third of the judged samples with the first third. */
const MAX_FD_GROWTH = 10;
const MAX_RSS_GROWTH_MIB = 32;
const MAX_RSS_GROWTH_RATIO = 0.2;

function parseArgs(argv) {
  const options = { seconds: 600, interval: 5, concurrency: 8, port: 0, adminPort: 0 };
  const names = { seconds: 'seconds', interval: 'interval', concurrency: 'concurrency', port: 'port', 'admin-port': 'adminPort' };
  for (const arg of argv) {
    const match = /^--([a-z-]+)=(\d+)$/.exec(arg);
    if (match === null || names[match[1]] === undefined) throw new Error(`unknown argument ${arg}`);
    options[names[match[1]]] = Number(match[2]);
  }
  if (options.port !== 0 && options.adminPort === 0) throw new Error('--port needs --admin-port (metrics come from the admin listener)');
  return options;
}

/** Starts dist/src/main.js on ephemeral ports; resolves once it listens. */
function startServer() {
  const uploadsDir = mkdtempSync(join(tmpdir(), 'rawhttp-soak-'));
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'main.js')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', PORT: '0', ADMIN_PORT: '0', UPLOADS_DIR: uploadsDir, LOG_LEVEL: 'info', POOL_STATUS_INTERVAL_MS: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    // Every log line must be read, or a full pipe would stall the server.
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.includes('listening on')) return;
      const { address, admin } = JSON.parse(line);
      const portOf = (text) => Number(text.split(':').pop());
      resolve({ port: portOf(address), adminPort: portOf(admin), child, uploadsDir });
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before listening`)));
  });
}

// ---------------------------------------------------------------------------------------------
// The load

const SMALL = ['/', '/index.html', '/about.html', '/sample.txt', '/logo.png', '/photo.jpg'];
const LARGE = '/sample_image.png';
const BAD = [
  { bytes: 'GET / HTTP/1.1\nHost: h\n\n', status: 400 },
  { bytes: 'GET / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n', status: 400 },
  { bytes: 'GET / HTTP/1.1\r\nHost: h\r\nX-Folded: a\r\n b\r\n\r\n', status: 400 },
  { bytes: 'GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n', status: 400 },
  { bytes: 'GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n', status: 501 },
  { bytes: `GET /${'a'.repeat(9000)} HTTP/1.1\r\n\r\n`, status: 414 },
  { bytes: 'GET / HTTP/1.1\r\nHost: h\r\nX-A: \0\r\n\r\n', status: 400 },
  { bytes: '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n', status: 400 },
];
/** Cumulative weights: small GET 65%, large GET 10%, upload 10%, bad request 15%. */
const MIX = [
  [0.65, 'small'],
  [0.75, 'large'],
  [0.85, 'upload'],
  [1, 'bad'],
];
const REQUEST_TIMEOUT_MS = 30_000;

class Load {
  counts = { small: 0, large: 0, upload: 0, bad: 0 };
  completed = 0;
  failures = [];
  unavailable = 0;
  stopped = false;

  constructor(port, concurrency) {
    this.port = port;
    this.agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  }

  async lane(until) {
    while (Date.now() < until && !this.stopped) {
      const draw = Math.random();
      const kind = MIX.find(([weight]) => draw < weight)[1];
      try {
        await this[kind]();
        this.counts[kind]++;
        this.completed++;
      } catch (error) {
        if (error.unavailable) this.unavailable++;
        else if (this.failures.push(`${kind}: ${error.message}`) <= 5) console.error(`  failure: ${kind}: ${error.message}`);
      }
    }
  }

  /** One request on the keep-alive agent; resolves with status, announced length and bytes read. */
  fetch(method, path, body) {
    return new Promise((resolve, reject) => {
      const headers = body === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) };
      const req = httpRequest({ host: '127.0.0.1', port: this.port, method, path, agent: this.agent, headers, timeout: REQUEST_TIMEOUT_MS }, (res) => {
        let bytes = 0;
        res.on('data', (chunk) => (bytes += chunk.length));
        res.on('end', () => resolve({ status: res.statusCode, length: Number(res.headers['content-length']), bytes }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end(body);
    });
  }

  expect(result, status) {
    if (result.status === 503) throw Object.assign(new Error('503'), { unavailable: true });
    if (result.status !== status) throw new Error(`status ${result.status}, expected ${status}`);
    if (result.bytes !== result.length) throw new Error(`${result.bytes} bytes for a Content-Length of ${result.length}`);
  }

  async small() {
    this.expect(await this.fetch('GET', SMALL[Math.floor(Math.random() * SMALL.length)]), 200);
  }

  async large() {
    this.expect(await this.fetch('GET', LARGE), 200);
  }

  async upload() {
    this.expect(await this.fetch('POST', '/upload', JSON.stringify({ soak: true, at: Date.now(), pad: 'x'.repeat(Math.floor(Math.random() * 2000)) })), 201);
  }

  /** A malformed request on its own connection: the expected status, then the server closes. */
  bad() {
    const { bytes, status } = BAD[Math.floor(Math.random() * BAD.length)];
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: this.port });
      let received = '';
      const timer = setTimeout(() => socket.destroy(new Error('timed out')), REQUEST_TIMEOUT_MS);
      socket.setEncoding('latin1');
      socket.on('data', (chunk) => (received += chunk));
      socket.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.on('close', () => {
        clearTimeout(timer);
        const got = Number(received.slice(9, 12));
        if (got === status) resolve();
        else reject(new Error(`status ${got || 'none'} for a malformed request, expected ${status}`));
      });
      // No FIN from us: the server must close by itself after its error response.
      socket.write(bytes, 'latin1');
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Sampling and the verdict

async function sample(adminPort) {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const value = (name) => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line === undefined ? NaN : Number(line.slice(name.length + 1));
  };
  const livez = await (await fetch(`http://127.0.0.1:${adminPort}/livez`)).json();
  return {
    rssMiB: value('process_resident_memory_bytes') / MiB,
    fds: value('process_open_fds'),
    connections: value('http_server_open_connections'),
    lagP99Ms: livez.eventLoopDelayP99Ms,
  };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor(sorted.length / 2)];
};

/** Least-squares slope of y over x. */
function slope(xs, ys) {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

function verdict(samples) {
  const judged = samples.slice(Math.floor(samples.length * WARM_UP_FRACTION));
  if (judged.length < 6) return { pass: false, reasons: ['too few samples to judge: run longer or sample more often'] };
  const third = Math.floor(judged.length / 3);
  const first = judged.slice(0, third);
  const last = judged.slice(-third);
  const fdGrowth = median(last.map((s) => s.fds)) - median(first.map((s) => s.fds));
  const rssFirst = median(first.map((s) => s.rssMiB));
  const rssGrowth = median(last.map((s) => s.rssMiB)) - rssFirst;
  const rssSlope = slope(judged.map((s) => s.t / 60), judged.map((s) => s.rssMiB));
  const rssLimit = Math.max(MAX_RSS_GROWTH_MIB, rssFirst * MAX_RSS_GROWTH_RATIO);
  const reasons = [];
  if (fdGrowth > MAX_FD_GROWTH) reasons.push(`open fds grew by ${fdGrowth} (limit ${MAX_FD_GROWTH})`);
  if (rssGrowth > rssLimit) reasons.push(`RSS grew by ${rssGrowth.toFixed(1)} MiB (limit ${rssLimit.toFixed(1)} MiB)`);
  return { pass: reasons.length === 0, reasons, fdGrowth, rssGrowth, rssSlope, rssLimit };
}

// ---------------------------------------------------------------------------------------------

const options = parseArgs(process.argv.slice(2));
const started = options.port === 0 ? await startServer() : null;
const port = started?.port ?? options.port;
const adminPort = started?.adminPort ?? options.adminPort;
let died = false;
started?.child.once('exit', () => (died = true));

console.log(`soak: ${options.seconds} s of mixed load on port ${port}, ${options.concurrency} lanes, a sample every ${options.interval} s`);
console.log('   t(s)    req/s   requests  failures      RSS MiB   open fds  connections  loop p99 ms');
const load = new Load(port, options.concurrency);
const begin = Date.now();
const until = begin + options.seconds * 1000;
const lanes = Promise.all(Array.from({ length: options.concurrency }, () => load.lane(until)));
const samples = [];
let lastCompleted = 0;
let lastAt = begin;
while (Date.now() < until && !died) {
  await new Promise((resolve) => setTimeout(resolve, Math.min(options.interval * 1000, Math.max(0, until - Date.now()))));
  const now = Date.now();
  let probe;
  try {
    probe = await sample(adminPort);
  } catch (error) {
    console.error(`  sampling failed: ${error.message}`);
    died = started !== null && started.child.exitCode !== null;
    continue;
  }
  const point = { t: (now - begin) / 1000, ...probe };
  samples.push(point);
  const rate = ((load.completed - lastCompleted) * 1000) / (now - lastAt);
  lastCompleted = load.completed;
  lastAt = now;
  console.log(
    [point.t.toFixed(0).padStart(7), rate.toFixed(0).padStart(8), String(load.completed).padStart(10), String(load.failures.length).padStart(9),
      point.rssMiB.toFixed(1).padStart(12), String(point.fds).padStart(10), String(point.connections).padStart(12), point.lagP99Ms.toFixed(1).padStart(12)].join(' '),
  );
}
load.stopped = true;
await lanes;
load.agent.destroy();

const result = verdict(samples);
const { counts } = load;
console.log(`\nrequests: ${load.completed} ok (small ${counts.small}, large ${counts.large}, upload ${counts.upload}, malformed ${counts.bad}), ${load.unavailable} x 503, ${load.failures.length} failures`);
if (result.rssSlope !== undefined) {
  console.log(`after warm-up: open fds ${result.fdGrowth >= 0 ? '+' : ''}${result.fdGrowth}, RSS ${result.rssGrowth >= 0 ? '+' : ''}${result.rssGrowth.toFixed(1)} MiB (trend ${result.rssSlope.toFixed(2)} MiB/min), worst loop p99 ${Math.max(...samples.map((s) => s.lagP99Ms)).toFixed(1)} ms`);
}
if (died) result.reasons.push('the server died');
if (load.failures.length > 0) result.reasons.push(`${load.failures.length} unexpected responses`);
const pass = result.reasons.length === 0;
console.log(pass ? 'PASS: no leak, no unexpected response' : `FAIL: ${result.reasons.join('; ')}`);

if (started !== null) {
  started.child.kill('SIGTERM');
  await new Promise((resolve) => (started.child.exitCode !== null ? resolve() : started.child.once('exit', resolve)));
  rmSync(started.uploadsDir, { recursive: true, force: true });
}
process.exit(pass ? 0 : 1);
