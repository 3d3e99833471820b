// A step of the wall clock (NTP setting it after a VM resumes) moves no timeout: deadlines
// and the small-file cache's expiry are measured on the monotonic clock. The server runs with
// a preload that steps its Date.now on SIGUSR2 (test/fixtures/clock-step.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { get, RawClient, request } from '../helpers/raw.js';
import { REPO_ROOT, startServer, type StartedServer } from '../helpers/server.js';

const FIXTURE = pathToFileURL(join(REPO_ROOT, 'dist', 'test', 'fixtures', 'clock-step.js')).href;
const HOUR_MS = 3_600_000;

async function stepClock(server: StartedServer): Promise<void> {
  const steps = server.logs.filter((line) => line.msg === 'clock stepped').length;
  server.process.kill('SIGUSR2');
  await server.waitForLog(() => server.logs.filter((line) => line.msg === 'clock stepped').length > steps);
}

test('a step of an hour forward expires no deadline at once', async () => {
  const TIMEOUT_MS = 8000;
  const server = await startServer({ nodeArgs: ['--import', FIXTURE], env: { CLOCK_STEP_MS: String(HOUR_MS), HEADERS_TIMEOUT_MS: String(TIMEOUT_MS), KEEP_ALIVE_TIMEOUT_MS: String(TIMEOUT_MS) } });
  try {
    const idle = await RawClient.connect(server.port);
    idle.write(get('/sample.txt', server.port));
    assert.equal((await idle.responses(1))[0]!.status, 200);
    const stalled = await RawClient.connect(server.port);
    stalled.write('GET /sample.txt HTTP/1.1\r\n');

    await stepClock(server);
    // The sweep runs every tenth of the timeout: a wall-clock deadline would have passed by now.
    await sleep(2000);
    assert.equal(idle.isClosed, false, 'the idle keep-alive connection is still open');
    assert.equal(stalled.isClosed, false, 'the unfinished head is still waited for');
    assert.equal(stalled.received.length, 0, 'no 408 yet');

    stalled.write(`Host: 127.0.0.1:${server.port}\r\n\r\n`);
    assert.equal((await stalled.responses(1))[0]!.status, 200);
    idle.write(get('/sample.txt', server.port));
    assert.equal((await idle.responses(2))[1]!.status, 200);
    idle.close();
    stalled.close();
  } finally {
    await server.stop();
  }
});

test('a step of an hour back still times out a stalled head, and a changed small file is seen after the TTL', async () => {
  const TIMEOUT_MS = 2000;
  const TTL_MS = 1000;
  const root = mkdtempSync(join(tmpdir(), 'rawhttp-clock-'));
  writeFileSync(join(root, 'page.html'), '<p>first</p>\n');
  const server = await startServer({
    nodeArgs: ['--import', FIXTURE],
    env: { RESOURCES_DIR: root, CLOCK_STEP_MS: String(-HOUR_MS), HEADERS_TIMEOUT_MS: String(TIMEOUT_MS), FILE_CACHE_TTL_MS: String(TTL_MS) },
  });
  try {
    assert.equal((await request(server.port, get('/page.html', server.port))).body.toString(), '<p>first</p>\n');
    const stalled = await RawClient.connect(server.port);
    stalled.write('GET /page.html HTTP/1.1\r\n');

    await stepClock(server);
    writeFileSync(join(root, 'page.html'), '<p>second, longer</p>\n');
    await sleep(TTL_MS + 500);
    assert.equal((await request(server.port, get('/page.html', server.port))).body.toString(), '<p>second, longer</p>\n', 'the cached entry expired on time');

    // Generous for a loaded machine; with the wall clock it would wait an hour.
    await stalled.waitClosed(5 * TIMEOUT_MS);
    assert.equal((await stalled.responses(1))[0]!.status, 408);
  } finally {
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  }
});
