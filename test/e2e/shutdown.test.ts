// Graceful shutdown: SIGTERM under load cuts no request off, idle connections close at once,
// SHUTDOWN_TIMEOUT_MS ends what never finishes (exit 1), and a second signal exits at once.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { get, parseResponses, RawClient } from '../helpers/raw.js';
import { ONE_CLIENT_LOAD, REPO_ROOT, startServer, type LogLine, type StartedServer } from '../helpers/server.js';
import { rootWithBigFile, stallBehindDownload } from '../helpers/stalled-download.js';

const PHASES = [
  'shutdown: not ready any more, draining',
  'shutdown: listener closed, finishing in-flight requests',
  'shutdown: all connections finished',
  'shutdown: workers stopped',
  'shutdown complete',
];

/** Rejects when `promise` takes longer than `ms`, naming what was awaited. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function messages(logs: readonly LogLine[]): string[] {
  return logs.map((line) => String(line.msg));
}

/** The document root for the load: a small page, a small file and a large (streamed) file. */
function makeResources(): { dir: string; files: Record<string, Buffer> } {
  const dir = mkdtempSync(join(tmpdir(), 'rawhttp-shutdown-root-'));
  const large = Buffer.alloc(2 * 1024 * 1024);
  for (let i = 0; i < large.length; i++) large[i] = 0x61 + ((i * 7 + (i >> 12)) % 26);
  const files: Record<string, Buffer> = {
    '/index.html': Buffer.from('<!DOCTYPE html><html><body>shutdown test</body></html>\n'),
    '/small.txt': Buffer.from('a small file\n'.repeat(20)),
    '/large.txt': large,
  };
  for (const [path, bytes] of Object.entries(files)) writeFileSync(join(dir, path), bytes);
  mkdirSync(join(dir, 'uploads'));
  return { dir, files };
}

interface Exchange {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly bytes: Buffer;
  /** The body a complete answer carries (null: any body of the announced length). */
  readonly expectedBody: Buffer | null;
  readonly expectedStatus: number;
}

interface ResponseRecord {
  readonly status: number;
  readonly connectionClose: boolean;
  readonly body: Buffer;
}

/**
 * One keep-alive client: sends a request, reads its whole response, sends the next. It stops
 * when the server closes the connection and records how each request ended.
 */
class LoadClient {
  readonly responses: ResponseRecord[] = [];
  /** Problems: a response cut off, a wrong status or body, a reset, unexpected data. */
  readonly failures: string[] = [];
  /**
   * Requests met by the server's close before a single byte of an answer: the HTTP/1.1 race
   * of a request sent on a keep-alive connection the server closes as idle.
   */
  unanswered = 0;
  readonly done: Promise<void>;
  private buffer = Buffer.alloc(0);
  private head: { status: number; length: number; close: boolean } | null = null;
  private body: Buffer[] = [];
  private bodyBytes = 0;
  private current: Exchange | null = null;
  private sentCount = 0;
  private receivedAny = false;
  /** performance.now() when the current request reached the kernel; null until then. */
  private flushedAt: number | null = null;
  private readonly socket: Socket;

  /** `signalAt()` is when SIGTERM was sent, or null before. */
  constructor(port: number, private readonly next: (index: number) => Exchange, private readonly signalAt: () => number | null) {
    this.socket = connect({ host: '127.0.0.1', port });
    this.socket.on('connect', () => this.send());
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (error: NodeJS.ErrnoException) => this.failures.push(`socket error ${error.code ?? error.message} after ${this.responses.length} responses`));
    this.done = new Promise((resolve) => this.socket.once('close', () => resolve()));
    this.socket.on('end', () => this.onEnd());
  }

  get completed(): number {
    return this.responses.length;
  }

  private send(): void {
    this.current = this.next(this.sentCount++);
    this.receivedAny = false;
    this.flushedAt = null;
    this.socket.write(this.current.bytes, () => (this.flushedAt = performance.now()));
  }

  private onData(chunk: Buffer): void {
    this.receivedAny = true;
    if (this.current === null) {
      this.failures.push(`unexpected data with no request outstanding: ${chunk.toString('latin1', 0, 80)}`);
      return;
    }
    if (this.head === null) {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end === -1) return;
      const lines = this.buffer.toString('latin1', 0, end).split('\r\n');
      const headers = new Map(lines.slice(1).map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
      this.head = { status: Number(lines[0]!.split(' ')[1]), length: Number(headers.get('content-length')), close: headers.get('connection') === 'close' };
      chunk = this.buffer.subarray(end + 4);
      this.buffer = Buffer.alloc(0);
    }
    this.body.push(chunk);
    this.bodyBytes += chunk.length;
    if (this.bodyBytes >= this.head.length) this.finishResponse();
  }

  private finishResponse(): void {
    const { head, current } = this;
    const body = Buffer.concat(this.body);
    this.head = null;
    this.body = [];
    this.bodyBytes = 0;
    this.current = null;
    if (body.length !== head!.length) this.failures.push(`${body.length - head!.length} bytes beyond the announced length`);
    const label = `${current!.method} ${current!.path}`;
    if (head!.status !== current!.expectedStatus) this.failures.push(`${label}: status ${head!.status}`);
    else if (current!.expectedBody !== null && !body.equals(current!.expectedBody)) this.failures.push(`${label}: body differs`);
    this.responses.push({ status: head!.status, connectionClose: head!.close, body });
    // After `Connection: close` the server closes; the client only waits for it.
    if (!head!.close) this.send();
  }

  private onEnd(): void {
    if (this.current !== null) {
      const label = `${this.current.method} ${this.current.path}`;
      const signalAt = this.signalAt();
      if (this.receivedAny) this.failures.push(`${label}: response cut off after ${this.bodyBytes} body bytes`);
      else if (signalAt === null || this.flushedAt === null || this.flushedAt < signalAt) this.failures.push(`${label}: sent before SIGTERM, never answered`);
      else this.unanswered++;
    }
    this.socket.end();
  }
}

test('SIGTERM under load: every in-flight request gets its complete response, exit code 0', async (t) => {
  const CLIENTS = 50;
  const { dir, files } = makeResources();
  const uploadsDir = join(dir, 'uploads');
  let server: StartedServer | null = null;
  try {
    server = await startServer({
      uploadsDir,
      env: { ...ONE_CLIENT_LOAD, RESOURCES_DIR: dir, MAX_THREADS: '4', MAX_REQUESTS_PER_CONNECTION: '100000' },
    });
    const port = server.port;
    const document = Buffer.from(JSON.stringify({ shutdown: 'test', padding: 'x'.repeat(32 * 1024) }));
    const uploadBytes = Buffer.concat([
      Buffer.from(`POST /upload HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${document.length}\r\n\r\n`, 'latin1'),
      document,
    ]);
    const exchanges: Exchange[] = [
      { method: 'GET', path: '/large.txt', bytes: Buffer.from(get('/large.txt', port), 'latin1'), expectedBody: files['/large.txt']!, expectedStatus: 200 },
      { method: 'POST', path: '/upload', bytes: uploadBytes, expectedBody: null, expectedStatus: 201 },
      { method: 'GET', path: '/small.txt', bytes: Buffer.from(get('/small.txt', port), 'latin1'), expectedBody: files['/small.txt']!, expectedStatus: 200 },
      { method: 'GET', path: '/', bytes: Buffer.from(get('/', port), 'latin1'), expectedBody: files['/index.html']!, expectedStatus: 200 },
    ];
    // Each client starts at a different place in the mix, so all kinds are in flight at once.
    let signalAt: number | null = null;
    const clients = Array.from({ length: CLIENTS }, (_, id) => new LoadClient(port, (index) => exchanges[(id + index) % exchanges.length]!, () => signalAt));

    // Signal once every client is well into its loop.
    const deadline = Date.now() + 30_000;
    while (clients.some((client) => client.completed < 3) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(clients.every((client) => client.completed >= 3), 'the load did not get going');
    const beforeSignal = clients.reduce((sum, client) => sum + client.completed, 0);
    signalAt = performance.now();
    server.process.kill('SIGTERM');

    const code = await within(server.exited, 30_000, 'exit after SIGTERM');
    await within(Promise.all(clients.map((client) => client.done)), 10_000, 'every connection closed');

    const failures = clients.flatMap((client, id) => client.failures.map((failure) => `client ${id}: ${failure}`));
    assert.deepEqual(failures, [], 'no response was cut off, reset or wrong');
    assert.equal(code, 0, 'a clean drain exits 0');

    const responses = clients.flatMap((client) => client.responses);
    const closing = responses.filter((response) => response.connectionClose).length;
    const unanswered = clients.reduce((sum, client) => sum + client.unanswered, 0);
    t.diagnostic(`${responses.length} responses (${responses.length - beforeSignal} after SIGTERM), ${closing} with Connection: close; ${unanswered} requests sent after SIGTERM met an idle connection closing`);
    assert.ok(closing > 0, 'requests in flight at SIGTERM were answered with Connection: close');

    // The server finished exactly what the clients received: a request that met a closing
    // idle connection was never read (the client may safely retry it), and none was lost.
    const logged = server.logs.filter((line) => line.msg === 'request').length;
    assert.equal(logged, responses.length, 'responses logged by the server = complete responses received');
    const created = responses.filter((response) => response.status === 201).length;
    assert.equal(readdirSync(uploadsDir).filter((name) => name.endsWith('.json')).length, created, 'each stored upload was answered 201');

    const seen = messages(server.logs);
    const positions = PHASES.map((phase) => seen.indexOf(phase));
    assert.ok(positions.every((at) => at !== -1), `every phase is logged: ${JSON.stringify(positions)}`);
    assert.deepEqual(positions, [...positions].sort((a, b) => a - b), 'phases are logged in order');
    assert.equal(server.logs.find((line) => line.msg === 'shutdown complete')!.exitCode, 0);
  } finally {
    await server?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGINT closes an idle keep-alive connection after the drain grace and exits 0', async () => {
  const server = await startServer({ env: { KEEP_ALIVE_TIMEOUT_MS: '60000' } });
  try {
    const client = await RawClient.connect(server.port);
    client.write(get('/', server.port));
    const [response] = await client.responses(1);
    assert.equal(response!.headers.connection, 'keep-alive');
    server.process.kill('SIGINT');
    await client.waitClosed(10_000);
    const { responses, rest } = parseResponses(client.received);
    assert.equal(responses.length, 1, 'nothing was sent after the one response');
    assert.equal(rest.length, 0);
    assert.equal(await within(server.exited, 10_000, 'exit after SIGINT'), 0);
    const started = server.logs.find((line) => line.msg === PHASES[0]);
    assert.equal(started?.signal, 'SIGINT');
    const draining = server.logs.find((line) => line.msg === PHASES[1]);
    assert.equal(draining?.connections, 1, 'the idle connection was still open when the listener closed');
    assert.equal(draining?.idleGraceMs, 1000);
  } finally {
    await server.stop('SIGKILL');
  }
});

test('the deadlines hold while draining: a client that never closes after our FIN is cut after the close grace, a trickled head gets 408, exit 0', async () => {
  // The default 256 listening sockets: the connections are spread over them, most of which
  // hold none and close at once when the drain begins.
  const server = await startServer({ env: { SHUTDOWN_TIMEOUT_MS: '15000', KEEP_ALIVE_TIMEOUT_MS: '60000', HEADERS_TIMEOUT_MS: '1500' } });
  try {
    // Half-open allowed: this client keeps its side open after the server's FIN.
    const stubborn = connect({ port: server.port, host: '127.0.0.1', allowHalfOpen: true });
    stubborn.on('error', () => undefined);
    await new Promise((resolve) => stubborn.once('connect', resolve));
    stubborn.write(get('/', server.port));
    await new Promise((resolve) => stubborn.once('data', resolve));
    const trickler = await RawClient.connect(server.port);
    trickler.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n`);
    const started = Date.now();
    server.process.kill('SIGTERM');
    const feed = setInterval(() => trickler.write('X-Slow: 1\r\n'), 200);
    try {
      const [timeout] = await trickler.responses(1, 8000);
      assert.equal(timeout!.status, 408);
      assert.equal(await within(server.exited, 10_000, 'exit after the close grace'), 0);
    } finally {
      clearInterval(feed);
    }
    assert.ok(Date.now() - started < 10_000, `exited after ${Date.now() - started} ms`);
    assert.ok(server.logs.some((line) => line.msg === 'shutdown: all connections finished'));
    stubborn.destroy();
    trickler.close();
  } finally {
    await server.stop('SIGKILL');
  }
});

test('a request sent on an idle connection during the drain grace is served with Connection: close', async () => {
  const server = await startServer({ env: { KEEP_ALIVE_TIMEOUT_MS: '60000' } });
  try {
    const client = await RawClient.connect(server.port);
    client.write(get('/sample.txt', server.port));
    assert.equal((await client.responses(1))[0]!.headers.connection, 'keep-alive');
    server.process.kill('SIGTERM');
    // The listener is closed; this client had no way to know and sends its next request.
    await server.waitForLog((line) => line.msg === PHASES[1]);
    client.write(get('/sample.txt', server.port));
    const [, last] = await client.responses(2, 10_000);
    assert.equal(last!.status, 200);
    assert.equal(last!.headers.connection, 'close');
    await client.waitClosed(10_000);
    assert.equal(await within(server.exited, 10_000, 'exit after SIGTERM'), 0);
  } finally {
    await server.stop('SIGKILL');
  }
});

test('during SHUTDOWN_DELAY_MS every response closes its connection, on old connections and new ones alike', async () => {
  const server = await startServer({ env: { SHUTDOWN_DELAY_MS: '3000', KEEP_ALIVE_TIMEOUT_MS: '60000' } });
  try {
    const old = await RawClient.connect(server.port);
    old.write(get('/sample.txt', server.port));
    assert.equal((await old.responses(1))[0]!.headers.connection, 'keep-alive');
    server.process.kill('SIGTERM');
    await server.waitForLog((line) => line.msg === PHASES[0]);
    // Two pipelined: the first read is the connection's last, the second is never read.
    old.write(get('/sample.txt', server.port) + get('/index.html', server.port));
    const [, last] = await old.responses(2, 10_000);
    assert.equal(last!.status, 200);
    assert.equal(last!.headers.connection, 'close');
    await old.waitClosed(10_000);
    const { responses, rest } = parseResponses(old.received);
    assert.deepEqual([responses.length, rest.length], [2, 0], 'nothing after the last response');
    const fresh = await RawClient.connect(server.port);
    fresh.write(get('/sample.txt', server.port));
    const [answer] = await fresh.responses(1, 10_000);
    assert.equal(answer!.status, 200, 'whoever still comes is served');
    assert.equal(answer!.headers.connection, 'close');
    await fresh.waitClosed(10_000);
    assert.ok(!server.logs.some((line) => line.msg === PHASES[1]), 'all of it within the delay');
    assert.equal(await within(server.exited, 15_000, 'exit after SIGTERM'), 0);
  } finally {
    await server.stop('SIGKILL');
  }
});

/** Opens a connection, proves it is served, then leaves an upload body half sent. */
async function holdPartialUpload(server: StartedServer): Promise<RawClient> {
  const client = await RawClient.connect(server.port);
  client.write(get('/sample.txt', server.port));
  assert.equal((await client.responses(1))[0]!.status, 200);
  client.write(`POST /upload HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"partial":`);
  return client;
}

test('SHUTDOWN_TIMEOUT_MS: a request that never completes is cut, with a warning and exit code 1', async () => {
  const server = await startServer({ env: { SHUTDOWN_TIMEOUT_MS: '500' } });
  try {
    const client = await holdPartialUpload(server);
    server.process.kill('SIGTERM');
    assert.equal(await within(server.exited, 15_000, 'exit after the shutdown timeout'), 1);
    const warning = server.logs.find((line) => line.msg === 'shutdown: timeout reached, closed remaining connections');
    assert.ok(warning !== undefined, `a warning names the timeout: ${JSON.stringify(messages(server.logs))}`);
    assert.equal(warning.level, 'warn');
    assert.equal(warning.connections, 1);
    assert.equal(warning.timeoutMs, 500);
    assert.ok(!messages(server.logs).includes('shutdown: all connections finished'));
    assert.equal(server.logs.find((line) => line.msg === 'shutdown complete')?.exitCode, 1);
    await client.waitClosed(5000);
    const { responses, rest } = parseResponses(client.received);
    assert.deepEqual(responses.map((response) => response.status), [200], 'the half-sent upload got no answer');
    assert.equal(rest.length, 0);
  } finally {
    await server.stop('SIGKILL');
  }
});

test("with the image's NODE_OPTIONS, SIGUSR1 opens no inspector and the server serves on", async () => {
  const nodeOptions = /^\s+NODE_OPTIONS=(\S+)/m.exec(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'))?.[1];
  assert.ok(nodeOptions?.includes('--disable-sigusr1'), `the Dockerfile sets NODE_OPTIONS=--disable-sigusr1 (${nodeOptions})`);
  const server = await startServer({ env: { NODE_OPTIONS: nodeOptions! } });
  try {
    let stderr = '';
    server.process.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    server.process.kill('SIGUSR1');
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.doesNotMatch(stderr, /Debugger listening/);
    assert.equal(server.process.exitCode, null);
    const client = await RawClient.connect(server.port);
    client.write(get('/', server.port));
    const [response] = await client.responses(1);
    assert.equal(response!.status, 200);
    client.close();
  } finally {
    await server.stop();
  }
});

test('a second signal exits at once, with 128 + the signal number', async () => {
  // Without the second signal this drain would wait the full 60 s.
  const server = await startServer({ env: { SHUTDOWN_TIMEOUT_MS: '60000' } });
  try {
    const client = await holdPartialUpload(server);
    server.process.kill('SIGTERM');
    await server.waitForLog((line) => line.msg === PHASES[1]);
    server.process.kill('SIGINT');
    assert.equal(await within(server.exited, 10_000, 'exit after the second signal'), 130);
    const warning = server.logs.find((line) => line.msg === 'shutdown: second signal, exiting now');
    assert.ok(warning !== undefined, 'the second signal is logged');
    assert.equal(warning.level, 'warn');
    assert.equal(warning.signal, 'SIGINT');
    await client.waitClosed(5000);
  } finally {
    await server.stop('SIGKILL');
  }
});

test('a SIGTERM while the server starts (its workers coming up) is not lost: it shuts down once started, exit 0', async () => {
  // Sixty-four workers make start-up last long enough to signal in the middle of it.
  const server = spawn(process.execPath, [join(REPO_ROOT, 'dist', 'src', 'main.js')], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', PORT: '0', ADMIN_PORT: '0', MAX_THREADS: '64' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  server.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string | null>((resolve) => server.once('exit', (code, signal) => resolve(code ?? signal)));
  try {
    const threads = (): number => readdirSync(`/proc/${server.pid}/task`).length;
    const deadline = Date.now() + 20_000;
    while (threads() < 20 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.doesNotMatch(output, /listening on/, 'the signal comes before the server has started');
    server.kill('SIGTERM');
    assert.equal(await within(exited, 60_000, 'exit after SIGTERM during start-up'), 0);
    const lines = messages(output.trim().split('\n').map((line) => JSON.parse(line) as LogLine));
    const order = ['shutdown: signal during start-up, shutting down once started', ...PHASES];
    assert.deepEqual(lines.filter((line) => order.includes(line)), order);
    assert.ok(lines.indexOf(order[0]!) < lines.findIndex((line) => line.startsWith('listening on')), 'noticed while starting');
  } finally {
    server.kill('SIGKILL');
  }
});

test('requests the shutdown timeout cuts are logged and counted as the server\'s failure: the download with its status, the request behind it as 503', async () => {
  const root = rootWithBigFile('rawhttp-shutdown-cut-');
  const server = await startServer({ env: { RESOURCES_DIR: root, DOWNLOAD_TYPES: 'text/plain', SHUTDOWN_TIMEOUT_MS: '500', KEEP_ALIVE_TIMEOUT_MS: '30000' } });
  try {
    const traceIds = ['5bf92f3577b34da6a3ce929d0e0e4736', '6bf92f3577b34da6a3ce929d0e0e4736'] as const;
    const client = await stallBehindDownload(server.port, traceIds);
    await new Promise((resolve) => setTimeout(resolve, 300));
    server.process.kill('SIGTERM');
    assert.equal(await within(server.exited, 15_000, 'exit after the shutdown timeout'), 1);
    const logged = (traceId: string): LogLine | undefined => server.logs.find((line) => line.msg === 'request' && line.traceId === traceId);
    assert.deepEqual([logged(traceIds[0]!)?.status, logged(traceIds[0]!)?.aborted], [200, 'server']);
    assert.deepEqual([logged(traceIds[1]!)?.status, logged(traceIds[1]!)?.aborted], [503, 'server']);
    client.close();
  } finally {
    await server.stop('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  }
});
