// Resource exhaustion: with a low descriptor limit (ulimit -n), connections pile up until
// accept() fails with EMFILE. The process survives, the overflow is shed, and once the clients
// go away and descriptors free up, the server serves again. The exhaustion is logged, and a
// file that cannot be opened for lack of descriptors is a 503, not a 404.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { waitFor } from '../fixtures/probes.js';
import { get, RawClient, request } from '../helpers/raw.js';
import { ONE_CLIENT_LOAD, REPO_ROOT, RESOURCES_DIR, type LogLine } from '../helpers/server.js';

/**
 * The server needs about 26 descriptors of its own with one worker and one listening socket;
 * this leaves ~40 for clients.
 */
const FD_LIMIT = 64;
const MAX_CLIENTS = 200;

interface LimitedServer {
  readonly pid: number;
  readonly port: number;
  readonly adminPort: number;
  readonly logs: LogLine[];
  readonly exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

/** Like startServer, but under `ulimit -n`: the shell lowers the limit, then becomes node. */
async function startLimited(env: Record<string, string>, fdLimit = FD_LIMIT): Promise<LimitedServer> {
  const uploadsDir = mkdtempSync(join(tmpdir(), 'rawhttp-emfile-'));
  const child = spawn('sh', ['-c', `ulimit -n ${fdLimit} && exec "$0" "$1"`, process.execPath, join(REPO_ROOT, 'dist', 'src', 'main.js')], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', ADMIN_PORT: '0', RESOURCES_DIR, UPLOADS_DIR: uploadsDir, POOL_STATUS_INTERVAL_MS: '0', ...ONE_CLIENT_LOAD, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout! }).on('line', (text) => {
    try {
      logs.push(JSON.parse(text) as LogLine);
    } catch {
      // not a log line
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then(() => rmSync(uploadsDir, { recursive: true, force: true }));
  const stop = (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return exited;
  };
  try {
    await waitFor(() => child.exitCode !== null || logs.some((line) => String(line.msg).startsWith('listening on')), 'the server to listen', 15_000);
  } catch (error) {
    await stop();
    throw error;
  }
  const started = logs.find((line) => String(line.msg).startsWith('listening on'));
  if (started === undefined) throw new Error(`server exited before listening: ${stderr}`);
  const portOf = (address: unknown): number => Number(String(address).split(':').pop());
  return { pid: child.pid!, port: portOf(started.address), adminPort: portOf(started.admin), logs, exited, stop };
}

test('at the descriptor limit: the overflow is shed, the process survives, and serves again once descriptors free up', async (t) => {
  const server = await startLimited({ MAX_THREADS: '1', LISTEN_SOCKETS: '1', KEEP_ALIVE_TIMEOUT_MS: '60000' });
  const clients: RawClient[] = [];
  try {
    const shed = (): RawClient[] => clients.filter((client) => client.isClosed);
    // Connect until the server can take no more: libuv then accepts and at once closes the
    // overflow (its EMFILE "trick", which keeps the listener from spinning).
    while (shed().length === 0 && clients.length < MAX_CLIENTS) {
      clients.push(await RawClient.connect(server.port));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await waitFor(() => shed().length > 0, 'a connection shed at the descriptor limit', 10_000);
    const held = clients.filter((client) => !client.isClosed);
    t.diagnostic(`descriptor limit ${FD_LIMIT}: ${held.length} connections held, then the next ones were closed unanswered`);
    for (const client of shed()) assert.equal(client.received.length, 0, 'a shed connection gets no bytes');

    await t.test('the start-up warning said MAX_CONNECTIONS does not fit, counting what the server holds', () => {
      const warning = server.logs.find((line) => String(line.msg).startsWith('MAX_CONNECTIONS is close to the open-file limit'));
      assert.equal(warning?.openFileLimit, FD_LIMIT);
      assert.ok(Number(warning?.openFiles) > 5 && Number(warning?.openFiles) < FD_LIMIT, `descriptors held at start: ${String(warning?.openFiles)}`);
    });
    await t.test('running out of descriptors is logged', async () => {
      await waitFor(() => server.logs.some((line) => line.level === 'error' && line.code === 'EMFILE' && String(line.msg).startsWith('accept failing')), 'the exhaustion log', 5000);
    });
    await t.test('a file request on a held connection is 503, not 404', async () => {
      const client = held[0]!;
      client.write(get('/sample.txt', server.port));
      const [response] = await client.responses(1, 5000);
      assert.equal(response!.status, 503);
    });
    await t.test('twenty more file requests at once: each a 503, but at most a line a second in the log', async () => {
      const cannotOpen = (): LogLine[] => server.logs.filter((line) => String(line.msg).startsWith('too many open files (EMFILE/ENFILE): cannot open the file'));
      const before = cannotOpen().length;
      const client = held[1]!;
      client.write(Array.from({ length: 20 }, () => get('/sample.txt', server.port)).join(''));
      const responses = await client.responses(20, 10_000);
      assert.deepEqual(new Set(responses.map((response) => response.status)), new Set([503]));
      assert.ok(cannotOpen().length - before <= 2, `${cannotOpen().length - before} lines for 20 requests`);
    });

    // Still running after the storm.
    assert.equal(await Promise.race([server.exited, new Promise((resolve) => setTimeout(() => resolve('running'), 300))]), 'running');

    for (const client of clients) client.close();
    // Descriptors free up as the server sees the closes; then it serves again.
    let status = 0;
    await waitFor(async () => {
      status = await request(server.port, get('/sample.txt', server.port), 2000).then(
        (response) => response.status,
        () => 0,
      );
      return status === 200;
    }, 'a served request after the clients left', 20_000);
    assert.equal(status, 200);
    const livez = await fetch(`http://127.0.0.1:${server.adminPort}/livez`);
    assert.equal(livez.status, 200);
    const unexpected = server.logs.filter((line) => line.level === 'fatal' || (line.level === 'error' && !/too many open files/.test(String(line.msg))));
    assert.deepEqual(unexpected, [], 'only descriptor exhaustion was logged as an error');
    await waitFor(() => server.logs.some((line) => String(line.msg).startsWith('open files below the limit again')), 'the recovery log', 5000);
  } finally {
    for (const client of clients) client.close();
    await server.stop();
  }
});

/** Runs the server under `ulimit -n` until it exits by itself: for starts that must fail. */
function runLimited(env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  return spawnSync('sh', ['-c', `ulimit -n ${FD_LIMIT} && exec "$0" "$1"`, process.execPath, join(REPO_ROOT, 'dist', 'src', 'main.js')], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', ADMIN_PORT: '0', RESOURCES_DIR, UPLOADS_DIR: mkdtempSync(join(tmpdir(), 'rawhttp-emfile-')), ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
}

test('LISTEN_SOCKETS past the descriptor limit stops the start with one line naming it, exit 2', { skip: process.platform !== 'linux' && 'several listening sockets need Linux' }, () => {
  const run = runLimited({ MAX_THREADS: '1', LISTEN_SOCKETS: '200' });
  assert.equal(run.status, 2, run.stderr);
  assert.match(run.stderr.trim(), /^invalid configuration: LISTEN_SOCKETS: 200 listening sockets on 127\.0\.0\.1:0 cannot all be opened under the open-file limit.*\(EMFILE\)$/);
  assert.doesNotMatch(run.stdout, /listening on/);
});

test('the defaults start under `ulimit -n 256`: LISTEN_SOCKETS=auto takes a sixteenth of the limit, and the server serves', async () => {
  const server = await startLimited({}, 256);
  try {
    const started = server.logs.find((line) => String(line.msg).startsWith('listening on'))!;
    assert.equal(started.listenSockets, process.platform === 'linux' ? 16 : 1);
    assert.equal(started.workers, 10);
    assert.equal((await request(server.port, get('/sample.txt', server.port))).status, 200);
  } finally {
    await server.stop();
  }
});

test('workers past the descriptor limit stop the start with one line naming MAX_THREADS, exit 2', () => {
  const run = runLimited({ MAX_THREADS: '10', LISTEN_SOCKETS: '1' });
  assert.equal(run.status, 2, run.stderr);
  assert.match(run.stderr.trim().split('\n').at(-1)!, /^invalid configuration: MAX_THREADS: 10 workers cannot all start under the open-file limit.*\(EMFILE\)$/);
});
