// An uncaught exception or an unhandled rejection on the main thread of the real server: a
// fatal log line with the stack, the listeners closed (while the process still runs
// out its short grace), and exit code 1 within that grace.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { FATAL_EXIT_CODE, FATAL_GRACE_MS } from '../../src/process-errors.js';
import { get, RawClient, request } from '../helpers/raw.js';
import { REPO_ROOT, startServer } from '../helpers/server.js';

const FIXTURE = pathToFileURL(join(REPO_ROOT, 'dist', 'test', 'fixtures', 'process-faults.js')).href;

/** Resolves with the error code of a connect to `port` (null when it connected). */
function connectError(port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(null);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? String(error)));
  });
}

/**
 * Whether connects to `port` are refused within `withinMs`. The fatal line may reach us while
 * the server is still closing its listening sockets (64 of them), so a few connects may land.
 */
async function refusedWithin(port: number, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    if ((await connectError(port)) === 'ECONNREFUSED') return true;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return false;
}

const CASES = [
  { kind: 'exception', message: 'uncaught exception, exiting', error: 'injected exception' },
  { kind: 'rejection', message: 'unhandled rejection, exiting', error: 'injected rejection' },
] as const;

for (const { kind, message, error } of CASES) {
  test(`an ${kind === 'exception' ? 'uncaught exception' : 'unhandled rejection'} is logged fatal with its stack; the ports stop accepting and the process exits 1 within the grace`, async () => {
    const server = await startServer({ nodeArgs: ['--import', FIXTURE], env: { INJECT_FAULT: kind } });
    let exitedAt = 0;
    void server.exited.then(() => (exitedAt = Date.now()));
    // A request whose head never ends: in flight, so only the grace ends the process.
    const inFlight = await RawClient.connect(server.port);
    try {
      assert.equal((await request(server.port, get('/', server.port))).status, 200);
      inFlight.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n`);
      const faultAt = Date.now();
      server.process.kill('SIGUSR2');

      const line = await server.waitForLog((l) => l.level === 'fatal', 5000);
      assert.equal(line.msg, message);
      const err = line.err as { message?: string; stack?: string };
      assert.equal(err.message, error);
      assert.match(err.stack ?? '', /at .*injectedFault .*process-faults\.js/);

      assert.ok(await refusedWithin(server.port, FATAL_GRACE_MS / 2), 'the public port stops accepting');
      assert.ok(await refusedWithin(server.adminPort, FATAL_GRACE_MS / 2), 'the admin port stops accepting');
      const refusedAt = Date.now();
      const exitCode = await Promise.race([server.exited, new Promise((resolve) => setTimeout(() => resolve('still running'), FATAL_GRACE_MS + 3000))]);
      assert.equal(exitCode, FATAL_EXIT_CODE);
      assert.ok(refusedAt < exitedAt, 'the ports closed before the process ended');
      const tookMs = exitedAt - faultAt;
      assert.ok(tookMs >= FATAL_GRACE_MS - 100 && tookMs < FATAL_GRACE_MS + 3000, `exited ${tookMs} ms after the fault, the grace is ${FATAL_GRACE_MS} ms`);
    } finally {
      inFlight.close();
      await server.stop('SIGKILL');
    }
  });
}
