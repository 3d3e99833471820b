// Configuration against the real start: the positional `[port] [host] [max_threads]` form,
// flags, bad values that stop the start with one message naming the key, and LOG_LEVEL.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { freePort, get, RawClient, request } from '../helpers/raw.js';
import { resolveListenSockets } from '../../src/config.js';
import { openFileLimit } from '../../src/core/open-files.js';
import { ONE_CLIENT_LOAD, RESOURCES_DIR, runServer, startServer, type LogLine } from '../helpers/server.js';

test('positional form `8000 0.0.0.0 20` sets port, host and pool size', async () => {
  const port = await freePort('0.0.0.0');
  const server = await startServer({ args: [String(port), '0.0.0.0', '20'] });
  try {
    assert.equal(server.port, port);
    const line = await server.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('listening on'));
    assert.equal(line.address, `0.0.0.0:${port}`);
    assert.equal(line.workers, 20);
    const response = await request(port, get('/', port));
    assert.equal(response.status, 200);
  } finally {
    await server.stop();
  }
});

test('HOST=:: and ADMIN_HOST=:: take IPv4 and IPv6 clients alike (what an IPv6 cluster needs)', async () => {
  const server = await startServer({ env: { HOST: '::', ADMIN_HOST: '::' } });
  try {
    for (const host of ['127.0.0.1', '::1']) {
      const client = await RawClient.connect(server.port, host);
      client.write(get('/', server.port));
      assert.equal((await client.responses(1))[0]!.status, 200, host);
      client.close();
      const probe = await fetch(`http://${host.includes(':') ? `[${host}]` : host}:${server.adminPort}/readyz`);
      assert.equal(probe.status, 200, `readyz via ${host}`);
      await probe.arrayBuffer();
    }
    // The access log line is written after the response: wait for the second one.
    await server.waitForLog((line) => line.msg === 'request' && line.client === '::1');
    const logged = server.logs.filter((line) => line.msg === 'request').map((line) => line.client);
    assert.deepEqual(logged, ['127.0.0.1', '::1'], 'an IPv4 client is named as such, not ::ffff:127.0.0.1');
    const started = await server.waitForLog((line) => typeof line.msg === 'string' && line.msg.startsWith('listening on'));
    assert.deepEqual([started.msg, started.address, started.admin], [`listening on http://[::]:${server.port}`, `[::]:${server.port}`, `[::]:${server.adminPort}`], 'IPv6 addresses in brackets, as URLs name them');
  } finally {
    await server.stop();
  }
});

test('--flags set values, in both --name=value and --name value forms', async () => {
  const server = await startServer({ args: ['--max-threads=2', '--queue-size', '7'] });
  try {
    const line = await server.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('listening on'));
    assert.equal(line.workers, 2);
    assert.equal(line.queueSize, 7);
  } finally {
    await server.stop();
  }
});

const misspeltWarning = (line: LogLine): boolean => line.level === 'warn' && typeof line.msg === 'string' && line.msg.includes('is not a setting');

test('a misspelt variable (MAX_THREAD=2) is named at start, at warn, with the setting meant; the setting keeps its default', async () => {
  const server = await startServer({ env: { MAX_THREAD: '2', MAX_CONECTIONS: '64' } });
  try {
    const warnings = server.logs.filter(misspeltWarning);
    assert.equal(warnings.length, 1, 'one line for all of them');
    assert.match(warnings[0]!.msg!, /MAX_THREAD is not a setting; did you mean MAX_THREADS\?/);
    assert.match(warnings[0]!.msg!, /MAX_CONECTIONS is not a setting; did you mean MAX_CONNECTIONS\?/);
    assert.deepEqual(warnings[0]!.misspelt, { MAX_THREAD: 'MAX_THREADS', MAX_CONECTIONS: 'MAX_CONNECTIONS' });
    assert.doesNotMatch(JSON.stringify(warnings[0]), /"(2|64)"/, 'names only, never values');
    const started = await server.waitForLog((line) => typeof line.msg === 'string' && line.msg.startsWith('listening on'));
    assert.equal(started.workers, 10);
    assert.ok(server.logs.indexOf(warnings[0]!) < server.logs.indexOf(started), 'said before the server listens');
  } finally {
    await server.stop();
  }
});

test('a start with only settings and the usual names (PATH) warns of no misspelt variable', async () => {
  const server = await startServer();
  try {
    // The warning comes before the listening line, which startServer waited for.
    assert.deepEqual(server.logs.filter(misspeltWarning), []);
  } finally {
    await server.stop();
  }
});

const badConfigs: { name: string; key: RegExp; args?: string[]; env?: Record<string, string> }[] = [
  { name: 'PORT=70000', key: /PORT/, env: { PORT: '70000' } },
  { name: 'positional port 70000', key: /PORT/, args: ['70000'] },
  { name: 'MAX_THREADS=0', key: /MAX_THREADS/, env: { MAX_THREADS: '0' } },
  { name: '--max-threads=0', key: /MAX_THREADS/, args: ['--max-threads=0'] },
  { name: 'a missing RESOURCES_DIR', key: /RESOURCES_DIR/, env: { RESOURCES_DIR: '/nonexistent/rawhttp-resources' } },
  { name: 'QUEUE_SIZE=-1', key: /QUEUE_SIZE/, env: { QUEUE_SIZE: '-1' } },
  { name: 'PORT=1e4 (parseInt would bind port 1)', key: /PORT/, env: { PORT: '1e4' } },
  { name: 'an empty ADMIN_HOST (would listen on every interface)', key: /ADMIN_HOST/, env: { ADMIN_HOST: '' } },
  { name: 'a CACHE_CONTROL with a newline', key: /CACHE_CONTROL/, env: { CACHE_CONTROL: 'max-age=60\n' } },
  // Found only at start, after the values were read: still one line.
  { name: 'an INLINE_TYPES entry no extension is known for', key: /INLINE_TYPES: .*"text\/nonsense"/, env: { INLINE_TYPES: 'text/nonsense' } },
  { name: 'a media type in both INLINE_TYPES and DOWNLOAD_TYPES', key: /^invalid configuration: INLINE_TYPES: "text\/plain" and DOWNLOAD_TYPES: "text\/plain" both claim \.txt/, env: { INLINE_TYPES: 'text/html,text/plain' } },
  { name: 'an UPLOADS_DIR that cannot be created', key: /UPLOADS_DIR: .*ENOTDIR/, env: { UPLOADS_DIR: join(RESOURCES_DIR, 'index.html', 'uploads') } },
  { name: 'a HOST that is no address of this machine', key: /HOST: 192\.0\.2\.1:\d+ is not an address of this machine/, env: { HOST: '192.0.2.1' } },
  // EINVAL where the machine has IPv6, else not one of its addresses: one line either way, never a stack trace.
  { name: 'a link-local HOST without its zone', key: /HOST: \[fe80::1\]:\d+ (cannot be listened on|is not an address of this machine)/, env: { HOST: 'fe80::1' } },
  { name: 'KEEP_ALIVE_TIMEOUT_MS=30s (parseFloat would read 30 ms)', key: /KEEP_ALIVE_TIMEOUT_MS: .*"30s"/, env: { KEEP_ALIVE_TIMEOUT_MS: '30s' } },
  { name: '--port=0x4899 (an argument parser would read it as a number)', key: /PORT: .*"0x4899"/, args: ['--port=0x4899'] },
  { name: 'SHUTDOWN_TIMEOUT_MS past what a timer can wait', key: /SHUTDOWN_TIMEOUT_MS: must be a number of milliseconds/, env: { SHUTDOWN_TIMEOUT_MS: '3000000000' } },
  { name: 'ADMIN_PORT the same as PORT', key: /ADMIN_PORT: must differ from PORT/, env: { PORT: '18655', ADMIN_PORT: '18655' } },
];

for (const { name, key, args, env } of badConfigs) {
  test(`${name} stops the start with one message naming the key`, async () => {
    const { code, stdout, stderr } = await runServer(args ?? [], env ?? {});
    assert.equal(code, 2, `exit code (null: still running) for ${stderr}`);
    const lines = stderr.trim().split('\n');
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0]!, key);
    assert.doesNotMatch(stdout, /listening on/);
  });
}

test('--help prints every flag and exits 0 without starting', async () => {
  for (const args of [['--help'], ['8000', '-h']]) {
    const { code, stdout, stderr } = await runServer(args, { PORT: 'not a port' });
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^usage: server \[port\] \[host\] \[max_threads\] \[--flags\]\n/);
    assert.match(stdout, /^ {2}--max-threads, MAX_THREADS \(default: 10\)$/m);
    assert.doesNotMatch(stdout, /listening on/);
    assert.equal(stderr, '');
  }
});

test('a RESOURCES_DIR the server may not read stops the start with one line, rather than a 403 for every request', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rawhttp-unreadable-'));
  try {
    // Owner only. As root, the server runs as another user; otherwise the owner loses the right itself.
    const asRoot = process.getuid?.() === 0;
    chmodSync(dir, asRoot ? 0o700 : 0o000);
    const launcher = asRoot ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [];
    const { code, stdout, stderr } = await runServer([], { RESOURCES_DIR: dir }, launcher);
    assert.equal(code, 2, stderr);
    assert.match(stderr.trim(), /^invalid configuration: RESOURCES_DIR: directory is not readable by this process/);
    assert.doesNotMatch(stdout, /listening on/);
  } finally {
    chmodSync(dir, 0o700);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an UPLOADS_DIR the server may not write to stops the start with one line naming the process and the folder\'s owner and mode', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'rawhttp-unwritable-'));
  const uploads = join(parent, 'uploads');
  try {
    // As root, the server runs as another user (what `docker run --user 12345` meets in the image);
    // otherwise the owner takes the right away from itself.
    const asRoot = process.getuid?.() === 0;
    chmodSync(parent, 0o755);
    mkdirSync(uploads, { mode: 0o755 });
    chmodSync(uploads, asRoot ? 0o755 : 0o555);
    const launcher = asRoot ? ['setpriv', '--reuid=12345', '--regid=12345', '--clear-groups'] : [];
    const [uid, gid] = asRoot ? [12345, 12345] : [process.getuid!(), process.getgid!()];
    const owner = statSync(uploads);
    const { code, stdout, stderr } = await runServer([], { UPLOADS_DIR: uploads }, launcher);
    assert.equal(code, 2, stderr);
    assert.equal(stderr.trim().split('\n').length, 1, stderr);
    const mode = asRoot ? '0755' : '0555';
    const expected = `invalid configuration: UPLOADS_DIR: cannot create or write to "${uploads}" (EACCES: the server runs as uid ${uid} gid ${gid}`;
    assert.ok(stderr.startsWith(expected), stderr);
    assert.ok(stderr.trim().endsWith(`; the folder is owned by ${owner.uid}:${owner.gid}, mode ${mode})`), stderr);
    assert.doesNotMatch(stdout, /listening on/);
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

test('a port another process holds stops the start with one line, even where the port is shared (SO_REUSEPORT)', async () => {
  const other = await startServer();
  try {
    for (const [env, key] of [
      [{ PORT: String(other.port) }, /^invalid configuration: PORT: 127\.0\.0\.1:\d+ is in use by another process \(EADDRINUSE\)$/],
      [{ PORT: String(other.port), LISTEN_SOCKETS: '1' }, /PORT: .* in use/],
      [{ ADMIN_PORT: String(other.adminPort) }, /^invalid configuration: ADMIN_PORT: 127\.0\.0\.1:\d+ is in use by another process/],
    ] as const) {
      const { code, stdout, stderr } = await runServer([], { HOST: '127.0.0.1', ...env });
      assert.equal(code, 2, stderr);
      assert.match(stderr.trim(), key);
      assert.equal(stderr.trim().split('\n').length, 1, stderr);
      assert.doesNotMatch(stdout, /listening on/);
    }
  } finally {
    await other.stop();
  }
});

/** The listening sockets on `port` as ss shows them, one line each. */
function listeningSockets(port: number): string[] {
  return execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' }).trim().split('\n');
}

/** The accept queue lengths the kernel gives the listeners on `port` (ss shows them as Send-Q). */
function kernelBacklogs(port: number): Set<number> {
  return new Set(listeningSockets(port).map((line) => Number(line.split(/\s+/)[2])));
}

const REUSE_PORT = process.platform === 'linux';

test('BACKLOG reaches the kernel: the port\'s queue, each of its sockets four times an even share (capped by somaxconn)', async () => {
  const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
  const cases: [Record<string, string>, number][] = [
    [{ LISTEN_SOCKETS: '1' }, Math.min(1024, somaxconn)],
    [{ LISTEN_SOCKETS: '1', BACKLOG: '77' }, 77],
  ];
  // 256 sockets of 1024 each queued a quarter of a million connects, most of them from clients long gone.
  if (REUSE_PORT) cases.push([{}, 16], [{ LISTEN_SOCKETS: '8', BACKLOG: '1000' }, 500]);
  for (const [env, expected] of cases) {
    const server = await startServer({ env });
    try {
      assert.deepEqual(kernelBacklogs(server.port), new Set([expected]), JSON.stringify(env));
    } finally {
      await server.stop();
    }
  }
});

/** The kernel's count of connects dropped for a full accept queue (TcpExt ListenOverflows). */
function listenOverflows(): number {
  const [names, values] = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((line) => line.startsWith('TcpExt:'));
  return Number(values!.split(' ')[names!.split(' ').indexOf('ListenOverflows')]);
}

test('a burst of 1000 connects to the default 256 sockets is served in full, overflowing no accept queue', { skip: !REUSE_PORT && 'several listening sockets need Linux' }, async () => {
  const server = await startServer({ env: ONE_CLIENT_LOAD });
  try {
    const overflowsBefore = listenOverflows();
    const responses = await Promise.all(Array.from({ length: 1000 }, () => request(server.port, get('/', server.port))));
    assert.deepEqual(new Set(responses.map((response) => response.status)), new Set([200]));
    // A dropped SYN would be sent again a second later; the kernel counts each drop.
    assert.equal(listenOverflows() - overflowsBefore, 0);
  } finally {
    await server.stop();
  }
});

test('LISTEN_SOCKETS: by default 256 sockets (fewer under a low open-file limit) share the port where SO_REUSEPORT is available, else 1', async () => {
  const server = await startServer();
  try {
    // The server inherits this process's limit (test/e2e/emfile.test.ts starts it under a low one).
    const sockets = REUSE_PORT ? resolveListenSockets('auto', 'linux', openFileLimit(readFileSync('/proc/self/limits', 'utf8'))) : 1;
    assert.equal(listeningSockets(server.port).length, sockets);
    const line = await server.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('listening on'));
    assert.equal(line.listenSockets, sockets);
  } finally {
    await server.stop();
  }
});

test('LISTEN_SOCKETS=4: four sockets share the port, and a burst of 200 connects is served in full', { skip: !REUSE_PORT && 'several listening sockets need Linux' }, async () => {
  // The burst comes from one address: the per-client cap out of the way.
  const server = await startServer({ env: { LISTEN_SOCKETS: '4', ...ONE_CLIENT_LOAD } });
  try {
    assert.equal(listeningSockets(server.port).length, 4);
    const responses = await Promise.all(Array.from({ length: 200 }, () => request(server.port, get('/', server.port))));
    assert.deepEqual(new Set(responses.map((response) => response.status)), new Set([200]));
  } finally {
    await server.stop();
  }
});

test('LOG_LEVEL=debug logs connection open and close', async () => {
  const server = await startServer({ env: { LOG_LEVEL: 'debug' } });
  try {
    const client = await RawClient.connect(server.port);
    client.write(get('/', server.port, 'Connection: close\r\n'));
    await client.responses(1);
    await client.waitClosed();
    const opened = await server.waitForLog((l) => l.level === 'debug' && l.msg === 'connection opened');
    assert.equal(opened.client, '127.0.0.1');
    const closed = await server.waitForLog((l) => l.level === 'debug' && l.msg === 'connection closed' && l.conn === opened.conn);
    assert.equal(typeof closed.conn, 'number');
  } finally {
    await server.stop();
  }
});

test('at the default LOG_LEVEL connection open and close are not logged', async () => {
  const server = await startServer();
  try {
    await request(server.port, get('/', server.port, 'Connection: close\r\n'));
    await server.waitForLog((l) => l.msg === 'request');
    assert.equal(server.logs.some((l) => l.level === 'debug'), false);
  } finally {
    await server.stop();
  }
});

const isPoolStatus = (line: LogLine): boolean => typeof line.msg === 'string' && line.msg.startsWith('busy ');

test('POOL_STATUS_INTERVAL_MS: the pool status line comes that often, at info', async () => {
  const server = await startServer({ env: { POOL_STATUS_INTERVAL_MS: '200', MAX_THREADS: '2' } });
  try {
    const first = await server.waitForLog(isPoolStatus);
    assert.equal(first.level, 'info');
    assert.equal(first.msg, 'busy 0/2, queue 0');
    assert.deepEqual([first.busy, first.workers, first.queued], [0, 2, 0]);
    await server.waitForLog((line) => isPoolStatus(line) && line !== first, 2000);
  } finally {
    await server.stop();
  }
});

test('POOL_STATUS_INTERVAL_MS=0 turns the pool status line off', async () => {
  const server = await startServer({ env: { POOL_STATUS_INTERVAL_MS: '0' } });
  try {
    await request(server.port, get('/', server.port, 'Connection: close\r\n'));
    await server.waitForLog((l) => l.msg === 'request');
    // An interval of 0, were it taken as one, would fill the log at once.
    await sleep(500);
    assert.equal(server.logs.some(isPoolStatus), false);
  } finally {
    await server.stop();
  }
});

test('the uploads folder is created if missing', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'rawhttp-parent-'));
  const uploadsDir = join(parent, 'not', 'yet', 'there');
  const server = await startServer({ uploadsDir });
  try {
    const line = await server.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('listening on'));
    assert.equal(line.uploads, uploadsDir);
    assert.ok(existsSync(uploadsDir) && statSync(uploadsDir).isDirectory());
  } finally {
    await server.stop();
    rmSync(parent, { recursive: true, force: true });
  }
});
