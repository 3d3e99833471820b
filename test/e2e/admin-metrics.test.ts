// GET /metrics: every metric of the admin contract with its type, exact counters, and the
// live gauges (queue depth, busy workers) read while the pool is held busy and after.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statfsSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { get, RawClient, request, type RawResponse } from '../helpers/raw.js';
import { ONE_CLIENT_LOAD, startServer, type StartedServer } from '../helpers/server.js';
import { rootWithBigFile, stallBehindDownload } from '../helpers/stalled-download.js';

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

interface Exposition {
  /** Metric family name -> TYPE. */
  readonly types: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL_PAIR.lastIndex = 0;
  let at = 0;
  for (let match = LABEL_PAIR.exec(text); match !== null; match = LABEL_PAIR.exec(text)) {
    labels[match[1]!] = match[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    at = LABEL_PAIR.lastIndex;
  }
  assert.equal(at, text.length, `unparsable label set {${text}}`);
  return labels;
}

/**
 * A sample value as Go's ParseFloat reads it: NaN and Inf in any case (prom-client writes an
 * empty event-loop histogram's mean as "Nan").
 */
function parseValue(text: string, line: string): number {
  if (/^nan$/i.test(text)) return NaN;
  if (/^[+-]?inf(inity)?$/i.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  const value = Number(text);
  assert.ok(text !== '' && !Number.isNaN(value), `not a number: ${line}`);
  return value;
}

/** Parses the Prometheus text format (version 0.0.4) strictly enough to catch malformed lines. */
function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ')) continue;
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice('# TYPE '.length).split(' ');
      assert.ok(!types.has(name!), `TYPE given twice for ${name}`);
      types.set(name!, type!);
      continue;
    }
    const match = SAMPLE_LINE.exec(line);
    assert.ok(match !== null, `malformed sample line: ${line}`);
    samples.push({ name: match[1]!, labels: parseLabels(match[2] ?? ''), value: parseValue(match[3]!, line) });
  }
  return { types, samples };
}

async function scrape(adminPort: number): Promise<Exposition> {
  const response = await fetch(`http://127.0.0.1:${adminPort}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseExposition(await response.text());
}

const matches = (sample: Sample, name: string, labels: Record<string, string>): boolean =>
  sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value);

/** The value of the one sample with this name whose labels include `labels` (it must exist). */
function valueOf(exposition: Exposition, name: string, labels: Record<string, string> = {}): number {
  const found = exposition.samples.filter((sample) => matches(sample, name, labels));
  assert.equal(found.length, 1, `expected one sample ${name}${JSON.stringify(labels)}, found ${found.length}`);
  return found[0]!.value;
}

/** Like valueOf, for series that only appear once something happened (0 before). */
function countOf(exposition: Exposition, name: string, labels: Record<string, string>): number {
  const found = exposition.samples.filter((sample) => matches(sample, name, labels));
  assert.ok(found.length <= 1, `several samples match ${name}${JSON.stringify(labels)}`);
  return found[0]?.value ?? 0;
}

function upload(port: number, body: Buffer): Buffer {
  const head = `POST /upload HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** A valid JSON document of about `bytes` bytes (a worker needs real time to check and store it). */
function jsonDocument(bytes: number): Buffer {
  const item = '"lorem ipsum dolor sit amet 0123456789",';
  return Buffer.from(`{"items":[${item.repeat(Math.floor(bytes / item.length))}"end"]}`);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `read` returns `expected`; fails with the last value after the timeout. */
async function eventually<T>(read: () => Promise<T>, expected: T, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = await read();
  while (last !== expected && Date.now() < deadline) {
    await sleep(25);
    last = await read();
  }
  assert.equal(last, expected, what);
}

describe('the metrics contract', () => {
  const THREADS = 3;
  let server: StartedServer;
  before(async () => {
    server = await startServer({ env: { MAX_THREADS: String(THREADS) } });
  });
  after(async () => {
    await server.stop();
  });

  test('the server-error series the alerts divide by exist at 0 before any error, so rate() sees the first burst', async () => {
    const exposition = await scrape(server.adminPort);
    for (const [method, status] of [['GET', '500'], ['GET', '503'], ['HEAD', '500'], ['HEAD', '503'], ['POST', '500'], ['POST', '503'], ['POST', '507']]) {
      assert.equal(valueOf(exposition, 'http_server_requests_total', { method: method!, status: status! }), 0, `${method} ${status}`);
    }
  });

  test('every metric exists with its type, including the default process and Node.js metrics', async () => {
    // One request of each kind, so every labelled family has samples.
    assert.equal((await request(server.port, get('/', server.port))).status, 200);
    assert.equal((await request(server.port, upload(server.port, Buffer.from('{"a":1}')))).status, 201);
    const exposition = await scrape(server.adminPort);
    const expected: Record<string, string> = {
      http_server_queue_depth: 'gauge',
      http_server_queue_capacity: 'gauge',
      http_server_busy_workers: 'gauge',
      http_server_workers: 'gauge',
      http_server_rejected_total: 'counter',
      http_server_requests_total: 'counter',
      http_server_request_duration_seconds: 'histogram',
      http_server_open_connections: 'gauge',
      http_server_connections_total: 'counter',
      http_server_worker_restarts_total: 'counter',
      http_server_security_rejections_total: 'counter',
      http_server_uploads_total: 'counter',
      http_server_upload_bytes_total: 'counter',
      http_server_uploads_free_bytes: 'gauge',
      http_server_uploads_size_bytes: 'gauge',
      http_server_tracked_clients: 'gauge',
      http_server_log_lines_dropped_total: 'counter',
      process_cpu_user_seconds_total: 'counter',
      process_cpu_system_seconds_total: 'counter',
      process_cpu_seconds_total: 'counter',
      process_start_time_seconds: 'gauge',
      process_resident_memory_bytes: 'gauge',
      process_open_fds: 'gauge',
      process_max_fds: 'gauge',
      nodejs_eventloop_lag_seconds: 'gauge',
      nodejs_eventloop_lag_p99_seconds: 'gauge',
      nodejs_active_handles: 'gauge',
      nodejs_active_requests: 'gauge',
      nodejs_heap_size_total_bytes: 'gauge',
      nodejs_heap_size_used_bytes: 'gauge',
      nodejs_external_memory_bytes: 'gauge',
      nodejs_version_info: 'gauge',
      nodejs_gc_duration_seconds: 'histogram',
    };
    for (const [name, type] of Object.entries(expected)) assert.equal(exposition.types.get(name), type, `TYPE of ${name}`);
    // Every family has at least one sample: dashboards see the series before the first event.
    for (const name of Object.keys(expected).filter((name) => name.startsWith('http_server_'))) {
      const suffixes = expected[name] === 'histogram' ? ['_bucket', '_sum', '_count'] : [''];
      for (const suffix of suffixes) assert.ok(exposition.samples.some((sample) => sample.name === name + suffix), `no sample for ${name}${suffix}`);
    }
    // Counters follow the naming rules (promtool checks the rest in prometheus.test.ts).
    for (const [name, type] of exposition.types) {
      assert.equal(type === 'counter', name.endsWith('_total'), `${name} is a ${type}: only counters end in _total`);
    }
    assert.equal(valueOf(exposition, 'http_server_workers'), THREADS);
    assert.equal(valueOf(exposition, 'http_server_worker_restarts_total'), 0);
    for (const reason of ['queue_full', 'connection_limit', 'draining']) {
      assert.equal(valueOf(exposition, 'http_server_rejected_total', { reason }), 0, `rejected{reason="${reason}"} starts at 0`);
    }
    assert.ok(valueOf(exposition, 'process_start_time_seconds') > 0);
  });

  test('the duration histogram is well formed, in seconds', async () => {
    const exposition = await scrape(server.adminPort);
    const labels = { method: 'GET', status: '200' };
    const buckets = exposition.samples.filter((sample) => matches(sample, 'http_server_request_duration_seconds_bucket', labels));
    assert.ok(buckets.length >= 10, 'enough buckets to see a fast server and its tail');
    const bounds = buckets.map((sample) => Number(sample.labels.le === '+Inf' ? Infinity : sample.labels.le));
    assert.deepEqual(bounds, [...bounds].sort((a, b) => a - b), 'buckets ascend');
    assert.equal(bounds.at(-1), Infinity);
    assert.ok(bounds[0]! <= 0.001, `the first bucket resolves sub-millisecond answers (${bounds[0]} s)`);
    const counts = buckets.map((sample) => sample.value);
    assert.deepEqual(counts, [...counts].sort((a, b) => a - b), 'cumulative counts never decrease');
    const count = valueOf(exposition, 'http_server_request_duration_seconds_count', labels);
    assert.equal(counts.at(-1), count, 'le="+Inf" equals _count');
    assert.equal(count, valueOf(exposition, 'http_server_requests_total', labels), 'one observation per response');
    const sum = valueOf(exposition, 'http_server_request_duration_seconds_sum', labels);
    assert.ok(sum > 0 && sum < count * 10, `the sum is in seconds (${sum} for ${count} requests)`);
  });

  test('label sets stay bounded: no paths, unknown methods share one value', async () => {
    const baseline = await scrape(server.adminPort);
    for (let i = 0; i < 5; i++) assert.equal((await request(server.port, get(`/missing-${i}.txt`, server.port))).status, 404);
    const odd = await request(server.port, `BREW / HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`);
    assert.equal(odd.status, 501);
    // Refused before its method could be read: OTHER. Refused by the parser after its method (too long a line, a second Host): that method.
    const noMethod = await request(server.port, `G(T / HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`);
    assert.equal(noMethod.status, 400);
    const tooLong = await request(server.port, `GET /${'a'.repeat(9000)} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`);
    assert.equal(tooLong.status, 414);
    const twoHosts = await request(server.port, `GET / HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`);
    assert.equal(twoHosts.status, 400);
    const exposition = await scrape(server.adminPort);
    const allowed = new Set(['method', 'status', 'reason', 'le', 'version', 'major', 'minor', 'patch', 'type', 'kind', 'space']);
    for (const sample of exposition.samples) {
      for (const label of Object.keys(sample.labels)) assert.ok(allowed.has(label), `unexpected label ${label} on ${sample.name}`);
      if (sample.name.startsWith('http_server_request')) assert.ok(!Object.values(sample.labels).some((value) => value.includes('/')), `a path leaked into ${sample.name}`);
    }
    const delta = (labels: Record<string, string>): number =>
      countOf(exposition, 'http_server_requests_total', labels) - countOf(baseline, 'http_server_requests_total', labels);
    assert.equal(delta({ method: 'GET', status: '404' }), 5);
    assert.equal(delta({ method: 'OTHER', status: '501' }), 1);
    assert.equal(delta({ method: 'OTHER', status: '400' }), 1);
    assert.equal(delta({ method: 'GET', status: '414' }), 1);
    assert.equal(delta({ method: 'GET', status: '400' }), 1);
  });

  test('counters are exact: requests, connections, uploads, security refusals', async () => {
    const baseline = await scrape(server.adminPort);
    const client = await RawClient.connect(server.port);
    client.write(get('/sample.txt', server.port) + get('/sample.txt', server.port) + get('/nope.txt', server.port));
    const responses = await client.responses(3);
    assert.deepEqual(responses.map((response) => response.status), [200, 200, 404]);
    client.close();
    const document = Buffer.from('{"metrics":"exact","n":[1,2,3]}');
    assert.equal((await request(server.port, upload(server.port, document))).status, 201);
    assert.equal((await request(server.port, get('/../etc/passwd', server.port))).status, 403);
    assert.equal((await request(server.port, `GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n`)).status, 403);
    assert.equal((await request(server.port, `GET / HTTP/1.1\r\nHost: user@127.0.0.1:${server.port}\r\n\r\n`)).status, 400);
    assert.equal((await request(server.port, get('/.hidden', server.port))).status, 403);

    const exposition = await scrape(server.adminPort);
    const delta = (name: string, labels: Record<string, string> = {}): number => countOf(exposition, name, labels) - countOf(baseline, name, labels);
    assert.equal(delta('http_server_requests_total', { method: 'GET', status: '200' }), 2);
    assert.equal(delta('http_server_requests_total', { method: 'GET', status: '404' }), 1);
    assert.equal(delta('http_server_requests_total', { method: 'GET', status: '403' }), 3);
    assert.equal(delta('http_server_requests_total', { method: 'POST', status: '201' }), 1);
    assert.equal(delta('http_server_connections_total'), 6, 'one pipelined connection and five single requests');
    assert.equal(delta('http_server_uploads_total'), 1);
    assert.equal(delta('http_server_upload_bytes_total'), document.length);
    assert.equal(delta('http_server_security_rejections_total', { reason: 'traversal' }), 1);
    assert.equal(delta('http_server_security_rejections_total', { reason: 'host_not_allowed' }), 1);
    assert.equal(delta('http_server_security_rejections_total', { reason: 'invalid_host' }), 1);
    assert.equal(delta('http_server_requests_total', { method: 'GET', status: '400' }), 1);
    assert.equal(delta('http_server_security_rejections_total', { reason: 'hidden_file' }), 1);
    assert.equal(delta('http_server_rejected_total', { reason: 'queue_full' }), 0);
  });

  test('the uploads file system gauges are what statfs says of UPLOADS_DIR', async () => {
    const exposition = await scrape(server.adminPort);
    const disk = statfsSync(server.uploadsDir);
    assert.equal(valueOf(exposition, 'http_server_uploads_size_bytes'), disk.blocks * disk.bsize);
    // Other programs write to this file system meanwhile: close, not equal.
    const free = valueOf(exposition, 'http_server_uploads_free_bytes');
    assert.ok(Math.abs(free - disk.bavail * disk.bsize) < 64 * 1024 * 1024, `free bytes ${free} near statfs's ${disk.bavail * disk.bsize}`);
    assert.ok(free > 0 && free <= disk.blocks * disk.bsize);
    assert.equal(valueOf(exposition, 'http_server_queue_capacity'), 1024, 'the default QUEUE_SIZE');
  });

  test('open connections read the live count', async () => {
    const open = async (): Promise<number> => valueOf(await scrape(server.adminPort), 'http_server_open_connections');
    await eventually(open, 0, 'no connection open at the start');
    const clients = await Promise.all([RawClient.connect(server.port), RawClient.connect(server.port)]);
    await eventually(open, 2, 'two idle connections are counted');
    for (const client of clients) client.close();
    await eventually(open, 0, 'closed connections are no longer counted');
  });
});

describe('overload', () => {
  test('every 503 of a saturated pool is counted: rejected_total{reason="queue_full"} equals the 503s seen', async (t) => {
    const server = await startServer({ env: { ...ONE_CLIENT_LOAD, MAX_THREADS: '1', QUEUE_SIZE: '0' } });
    try {
      // Requests pipelined in one write are parsed in one event-loop turn: the single worker
      // takes the first, and with no queue the rest are refused at once. Uploads always need a
      // worker (a static file might be answered from a main-thread cache).
      const CONNECTIONS = 8;
      const PIPELINED = 12;
      const clients = await Promise.all(Array.from({ length: CONNECTIONS }, () => RawClient.connect(server.port)));
      const burst = Buffer.concat(Array.from({ length: PIPELINED }, () => upload(server.port, Buffer.from('{"overload":true}'))));
      for (const client of clients) client.write(burst);
      const responses: RawResponse[] = (await Promise.all(clients.map((client) => client.responses(PIPELINED, 20_000)))).flat();
      for (const client of clients) client.close();

      const refused = responses.filter((response) => response.status === 503);
      const served = responses.filter((response) => response.status === 201);
      assert.equal(refused.length + served.length, CONNECTIONS * PIPELINED, 'every request got 201 or 503');
      assert.ok(refused.length >= PIPELINED - 1, `the pool was overloaded (${refused.length} 503s)`);
      for (const response of refused) assert.equal(response.headers['retry-after'], '1');
      t.diagnostic(`${served.length} served, ${refused.length} refused with 503`);

      const exposition = await scrape(server.adminPort);
      assert.equal(valueOf(exposition, 'http_server_rejected_total', { reason: 'queue_full' }), refused.length);
      assert.equal(valueOf(exposition, 'http_server_requests_total', { method: 'POST', status: '503' }), refused.length);
      assert.equal(valueOf(exposition, 'http_server_requests_total', { method: 'POST', status: '201' }), served.length);
      assert.equal(valueOf(exposition, 'http_server_uploads_total'), served.length, 'a refused upload stores nothing');
      assert.equal(valueOf(exposition, 'http_server_rejected_total', { reason: 'connection_limit' }), 0);
      assert.equal(valueOf(exposition, 'http_server_queue_depth'), 0);
      assert.equal(valueOf(exposition, 'http_server_busy_workers'), 0);
    } finally {
      await server.stop();
    }
  });

  test('connections over MAX_CONNECTIONS are refused with 503 and counted', async () => {
    const server = await startServer({ env: { MAX_CONNECTIONS: '2' } });
    try {
      const held = await Promise.all([RawClient.connect(server.port), RawClient.connect(server.port)]);
      await eventually(async () => valueOf(await scrape(server.adminPort), 'http_server_open_connections'), 2, 'both connections accepted');
      const refused = await request(server.port, get('/', server.port));
      assert.equal(refused.status, 503);
      assert.equal(refused.headers['retry-after'], '1');
      for (const client of held) client.close();
      const exposition = await scrape(server.adminPort);
      assert.equal(valueOf(exposition, 'http_server_rejected_total', { reason: 'connection_limit' }), 1);
      assert.equal(valueOf(exposition, 'http_server_rejected_total', { reason: 'queue_full' }), 0);
    } finally {
      await server.stop();
    }
  });

  test('queue depth and busy workers read the live state while workers are held busy, and 0 after', async (t) => {
    // Workers are held busy by JSON uploads of 1 MiB: checking and fsyncing each takes a worker
    // tens of milliseconds, while 16 clients keep more of them arriving than two workers finish.
    const THREADS = 2;
    const QUEUE = 64;
    const CLIENTS = 16;
    const uploadsDir = mkdtempSync(join(tmpdir(), 'rawhttp-metrics-uploads-'));
    const server = await startServer({ uploadsDir, env: { ...ONE_CLIENT_LOAD, MAX_THREADS: String(THREADS), QUEUE_SIZE: String(QUEUE), MAX_BODY_BYTES: String(2 * 1024 * 1024) } });
    let loading = true;
    let load: Promise<unknown> = Promise.resolve();
    try {
      const body = jsonDocument(1024 * 1024);
      const bytes = upload(server.port, body);
      const statuses: number[] = [];
      const uploader = async (): Promise<void> => {
        const client = await RawClient.connect(server.port);
        for (let sent = 1; loading; sent++) {
          client.write(bytes);
          const responses = await client.responses(sent, 30_000);
          statuses.push(responses[sent - 1]!.status);
        }
        client.close();
      };
      load = Promise.all(Array.from({ length: CLIENTS }, uploader));

      let maxBusy = 0;
      let maxQueue = 0;
      const deadline = Date.now() + 30_000;
      while ((maxBusy === 0 || maxQueue === 0) && Date.now() < deadline) {
        const exposition = await scrape(server.adminPort);
        const busy = valueOf(exposition, 'http_server_busy_workers');
        const queued = valueOf(exposition, 'http_server_queue_depth');
        assert.ok(busy <= THREADS, `busy workers (${busy}) never exceed the pool`);
        assert.ok(queued <= QUEUE, `queue depth (${queued}) never exceeds QUEUE_SIZE`);
        assert.equal(valueOf(exposition, 'http_server_workers'), THREADS);
        maxBusy = Math.max(maxBusy, busy);
        maxQueue = Math.max(maxQueue, queued);
        await sleep(10);
      }
      loading = false;
      await load;
      t.diagnostic(`during the load: up to ${maxBusy} busy workers, ${maxQueue} queued jobs; ${statuses.length} uploads`);
      assert.ok(maxBusy > 0, 'a scrape during the load saw busy workers');
      assert.ok(maxQueue > 0, 'a scrape during the load saw jobs waiting');

      // Every client has its last answer: nothing runs or waits any more.
      const exposition = await scrape(server.adminPort);
      assert.equal(valueOf(exposition, 'http_server_busy_workers'), 0);
      assert.equal(valueOf(exposition, 'http_server_queue_depth'), 0);
      const created = statuses.filter((status) => status === 201).length;
      assert.equal(created, statuses.length, `every upload was stored (statuses: ${[...new Set(statuses)].join(', ')})`);
      assert.equal(valueOf(exposition, 'http_server_uploads_total'), created);
      assert.equal(valueOf(exposition, 'http_server_upload_bytes_total'), created * body.length);
      assert.equal(valueOf(exposition, 'http_server_requests_total', { method: 'POST', status: '201' }), created);
      assert.equal(readdirSync(uploadsDir).filter((name) => name.endsWith('.json')).length, created);
    } finally {
      // On a failed assertion the uploaders are still running: let them finish first.
      loading = false;
      await load.catch(() => undefined);
      await server.stop();
      rmSync(uploadsDir, { recursive: true, force: true });
    }
  });
});

test('requests whose client leaves before their response is sent are counted and logged: the cut download with its status, the one behind it as 499', async () => {
  const root = rootWithBigFile('rawhttp-aborted-');
  const server = await startServer({ env: { RESOURCES_DIR: root, DOWNLOAD_TYPES: 'text/plain' } });
  try {
    const traceIds = ['0af7651916cd43dd8448eb211c80319c', '4bf92f3577b34da6a3ce929d0e0e4736'] as const;
    const client = await stallBehindDownload(server.port, traceIds);
    await sleep(500);
    client.socket.destroy();
    const cut = await server.waitForLog((line) => line.msg === 'request' && line.traceId === traceIds[0]);
    assert.equal(cut.status, 200);
    assert.equal(cut.aborted, 'client');
    const behind = await server.waitForLog((line) => line.msg === 'request' && line.traceId === traceIds[1]);
    assert.equal(behind.status, 499);
    assert.equal(behind.aborted, 'client');
    const exposition = await scrape(server.adminPort);
    assert.equal(valueOf(exposition, 'http_server_requests_total', { method: 'GET', status: '499' }), 1);
    assert.equal(valueOf(exposition, 'http_server_requests_total', { method: 'GET', status: '200' }), 1);
  } finally {
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  }
});

test("a download cut short because its file shrank is the server's failure: the cut one logged with its status, the one behind it as 503", async () => {
  const root = rootWithBigFile('rawhttp-shrunk-');
  const server = await startServer({ env: { RESOURCES_DIR: root, DOWNLOAD_TYPES: 'text/plain' } });
  try {
    const traceIds = ['0af7651916cd43dd8448eb211c80319c', '4bf92f3577b34da6a3ce929d0e0e4736'] as const;
    const client = await stallBehindDownload(server.port, traceIds);
    await sleep(300);
    // The sender reads on from where it was: past the end now, which ends the response short.
    truncateSync(join(root, 'big.txt'), 10);
    client.socket.resume();
    await client.waitClosed();
    const failure = await server.waitForLog((line) => line.msg === 'file changed while being sent');
    assert.deepEqual([failure.path, failure.traceId], ['/big.txt', traceIds[0]]);
    const cut = await server.waitForLog((line) => line.msg === 'request' && line.traceId === traceIds[0]);
    assert.deepEqual([cut.status, cut.aborted], [200, 'server']);
    const behind = await server.waitForLog((line) => line.msg === 'request' && line.traceId === traceIds[1]);
    assert.deepEqual([behind.status, behind.aborted], [503, 'server']);
    const exposition = await scrape(server.adminPort);
    assert.equal(valueOf(exposition, 'http_server_requests_total', { method: 'GET', status: '503' }), 1);
    assert.equal(valueOf(exposition, 'http_server_requests_total', { method: 'GET', status: '200' }), 1);
  } finally {
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  }
});

test('a large file that shrank while its response waited its turn in a pipeline gets 503 with Retry-After, not a 200 head without its body; the connection carries on', async () => {
  const root = rootWithBigFile('rawhttp-shrunk-waiting-');
  writeFileSync(join(root, 'next.txt'), Buffer.alloc(1024 * 1024, 0x62));
  const server = await startServer({ env: { RESOURCES_DIR: root, DOWNLOAD_TYPES: 'text/plain' } });
  try {
    const client = await RawClient.connect(server.port);
    client.socket.pause();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    client.write(get('/big.txt', server.port) + get('/next.txt', server.port, `traceparent: 00-${traceId}-00f067aa0ba902b7-01\r\n`));
    // The worker has opened next.txt and made its head (1 MiB) by now; it waits behind big.txt.
    await sleep(300);
    truncateSync(join(root, 'next.txt'), 10);
    client.socket.resume();
    const [big, next] = await client.responses(2, 10_000);
    assert.equal(big!.status, 200);
    assert.equal(big!.body.length, 32 * 1024 * 1024);
    assert.equal(next!.status, 503);
    assert.equal(next!.headers['retry-after'], '1');
    assert.match(next!.body.toString(), /The file changed while it was read; please retry\./);
    client.write(get('/index.html', server.port));
    const [, , after] = await client.responses(3);
    assert.equal(after!.status, 200, 'the connection stays');
    client.close();
    const line = await server.waitForLog((entry) => entry.msg === 'request' && entry.traceId === traceId);
    assert.deepEqual([line.status, line.aborted, line.reason], [503, undefined, 'file_changed']);
    const warned = await server.waitForLog((entry) => entry.level === 'warn' && entry.traceId === traceId);
    assert.deepEqual([warned.msg, warned.reason], ['file changed before being sent: 503', 'file_changed'], 'the code as reason, as on the access line');
    const exposition = await scrape(server.adminPort);
    assert.equal(valueOf(exposition, 'http_server_requests_total', { method: 'GET', status: '503' }), 1);
    assert.equal(valueOf(exposition, 'http_server_requests_total', { method: 'GET', status: '200' }), 2);
  } finally {
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  }
});
