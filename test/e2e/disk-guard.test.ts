// MIN_FREE_DISK_BYTES on the real server: set above the real free space, an upload gets 507
// before anything is written (no file, no temporary); at 0 the guard is off.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { request } from '../helpers/raw.js';
import { startServer } from '../helpers/server.js';

const DOCUMENT = '{"disk":"guard"}';

function upload(port: number): Promise<{ status: number; body: Buffer }> {
  const head = `POST /upload HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${DOCUMENT.length}\r\nConnection: close\r\n\r\n`;
  return request(port, head + DOCUMENT);
}

test('free space below MIN_FREE_DISK_BYTES: 507 and nothing written', async () => {
  // 4 PiB: more than any test machine has free.
  const server = await startServer({ env: { MIN_FREE_DISK_BYTES: String(2 ** 52), MAX_THREADS: '1' } });
  try {
    const response = await upload(server.port);
    assert.equal(response.status, 507);
    assert.deepEqual(readdirSync(server.uploadsDir), []);
    const line = await server.waitForLog((entry) => entry.msg === 'upload refused: free space below MIN_FREE_DISK_BYTES');
    assert.equal(line.level, 'warn');
    assert.equal(line.minFreeDiskBytes, 2 ** 52);
    assert.equal(line.bytes, DOCUMENT.length);
    assert.ok(typeof line.freeBytes === 'number' && line.freeBytes < 2 ** 52);
  } finally {
    await server.stop();
  }
});

test('MIN_FREE_DISK_BYTES=0 turns the guard off', async () => {
  const server = await startServer({ env: { MIN_FREE_DISK_BYTES: '0', MAX_THREADS: '1' } });
  try {
    assert.equal((await upload(server.port)).status, 201);
    assert.equal(readdirSync(server.uploadsDir).filter((name) => name.startsWith('upload_')).length, 1);
  } finally {
    await server.stop();
  }
});
