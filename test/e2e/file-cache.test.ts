// The main thread's small-file cache: hits skip the workers, and a file changed on disk is
// served fresh once FILE_CACHE_TTL_MS has passed.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { get, request } from '../helpers/raw.js';
import { startServer, type StartedServer } from '../helpers/server.js';

const TTL_MS = 400;
let server: StartedServer;
let root: string;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'rawhttp-cache-'));
  writeFileSync(join(root, 'page.html'), '<p>first</p>\n');
  server = await startServer({ env: { RESOURCES_DIR: root, FILE_CACHE_TTL_MS: String(TTL_MS) } });
});

after(async () => {
  await server?.stop();
  rmSync(root, { recursive: true, force: true });
});

const requestLogs = (): Record<string, unknown>[] => server.logs.filter((line) => line.msg === 'request' && line.path === '/page.html');

test('a repeated GET is answered from the cache, and a changed file is seen after the TTL', async () => {
  const first = await request(server.port, get('/page.html', server.port));
  assert.equal(first.body.toString(), '<p>first</p>\n');
  const second = await request(server.port, get('/page.html', server.port));
  assert.equal(second.body.toString(), '<p>first</p>\n');
  assert.equal(second.headers.etag, first.headers.etag);
  await server.waitForLog((line) => line.msg === 'request' && line.path === '/page.html' && line.cached === true);
  assert.equal(requestLogs()[0]!.cached, false, 'the first request went to a worker');

  writeFileSync(join(root, 'page.html'), '<p>second, longer</p>\n');
  await sleep(TTL_MS + 100);
  const fresh = await request(server.port, get('/page.html', server.port));
  assert.equal(fresh.body.toString(), '<p>second, longer</p>\n');
  assert.notEqual(fresh.headers.etag, first.headers.etag);
});

test('a cached file still answers conditional and range requests', async () => {
  const page = await request(server.port, get('/page.html', server.port));
  const etag = page.headers.etag!;
  const revalidated = await request(server.port, get('/page.html', server.port, `If-None-Match: ${etag}\r\n`));
  assert.equal(revalidated.status, 304);
  const partial = await request(server.port, get('/page.html', server.port, 'Range: bytes=0-2\r\n'));
  assert.equal(partial.status, 206);
  assert.equal(partial.body.toString(), '<p>');
  // Both answered by the main thread's cache, not by a worker.
  for (const status of [304, 206]) {
    await server.waitForLog((line) => line.msg === 'request' && line.path === '/page.html' && line.status === status && line.cached === true);
  }
});
