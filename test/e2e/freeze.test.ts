// A process frozen longer than its timeouts (SIGSTOP and SIGCONT, a paused container or VM):
// what clients completed during the freeze is served once it ends. The deadlines are judged
// after the event loop has read what arrived, not on the state from before the freeze.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { get, RawClient } from '../helpers/raw.js';
import { ONE_CLIENT_LOAD, startServer } from '../helpers/server.js';

const TIMEOUT_MS = 1500;
/** Longer than every timeout (the admin port's idle timeout is 5 s), with room to spare on a loaded machine. */
const FREEZE_MS = 6000;

test('a head, a body and keep-alive requests completed while the server was frozen are answered after it', async () => {
  const server = await startServer({
    env: { ...ONE_CLIENT_LOAD, HEADERS_TIMEOUT_MS: String(TIMEOUT_MS), REQUEST_TIMEOUT_MS: String(TIMEOUT_MS), KEEP_ALIVE_TIMEOUT_MS: String(TIMEOUT_MS) },
  });
  const pid = server.process.pid!;
  const host = `Host: 127.0.0.1:${server.port}\r\n`;
  const body = JSON.stringify({ frozen: 'x'.repeat(10_000) });
  try {
    const idle = await RawClient.connect(server.port);
    idle.write(get('/sample.txt', server.port));
    assert.equal((await idle.responses(1))[0]!.status, 200);
    const admin = await RawClient.connect(server.adminPort);
    admin.write(get('/livez', server.adminPort));
    assert.equal((await admin.responses(1))[0]!.status, 200);
    const head = await RawClient.connect(server.port);
    head.write('GET /sample.txt HTTP/1.1\r\n');
    const upload = await RawClient.connect(server.port);
    upload.write(`POST /upload HTTP/1.1\r\n${host}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 100)}`);
    // Let the server read those parts, so that the deadlines of all three are running.
    await sleep(200);

    process.kill(pid, 'SIGSTOP');
    try {
      await sleep(200);
      head.write(`${host}\r\n`);
      upload.write(body.slice(100));
      idle.write(get('/sample.txt', server.port));
      admin.write(get('/livez', server.adminPort));
      await sleep(FREEZE_MS);
    } finally {
      process.kill(pid, 'SIGCONT');
    }

    assert.equal((await head.responses(1))[0]!.status, 200, 'the head completed during the freeze');
    assert.equal((await upload.responses(1))[0]!.status, 201, 'the body completed during the freeze');
    assert.equal((await idle.responses(2))[1]!.status, 200, 'the request sent on the idle connection during the freeze');
    assert.equal((await admin.responses(2))[1]!.status, 200, 'the probe sent on the idle admin connection during the freeze');
    for (const client of [idle, admin, head, upload]) client.close();
  } finally {
    await server.stop();
  }
});
