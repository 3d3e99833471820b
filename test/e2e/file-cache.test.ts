// The main thread's small-file cache: hits skip the workers, and a file changed on disk is
// served fresh once FILE_CACHE_TTL_MS has passed.
import assert from 'node:assert/strict';
import { mkdtempSync, realpathSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { get, RawClient, request } from '../helpers/raw.js';
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

test('a precompressed sibling older than its page is not served, and said so at most once a second per file', async () => {
  const pages = ['zipped-a.html', 'zipped-b.html'];
  const made = new Date(Date.now() - 60_000);
  for (const name of pages) {
    writeFileSync(join(root, name), '<p>one</p>\n');
    writeFileSync(join(root, `${name}.gz`), 'gzipped one');
    for (const path of [join(root, name), join(root, `${name}.gz`)]) utimesSync(path, made, made);
  }
  const gzip = await request(server.port, get(`/${pages[0]}`, server.port, 'Accept-Encoding: gzip\r\n'));
  assert.equal(gzip.headers['content-encoding'], 'gzip', 'as old as its page (gzip -k keeps its time): served');
  assert.equal(gzip.body.toString(), 'gzipped one');

  // The pages are edited; their siblings are not made again.
  for (const name of pages) writeFileSync(join(root, name), '<p>two</p>\n');
  await sleep(TTL_MS + 100);
  // Each of these Accept-Encoding values has its own entry (their encodings differ), so each request is a worker's read.
  const accepts = ['gzip', 'gzip, br', 'br;q=0.5, gzip'];
  for (const accept of accepts) {
    for (const name of pages) {
      const fresh = await request(server.port, get(`/${name}`, server.port, `Accept-Encoding: ${accept}\r\n`));
      assert.equal(fresh.status, 200);
      assert.equal(fresh.headers['content-encoding'], undefined, accept);
      assert.equal(fresh.body.toString(), '<p>two</p>\n', accept);
      assert.equal(fresh.headers.vary, 'Accept-Encoding');
    }
  }
  // Lines held back are written, with their count, when the second ends.
  await sleep(1200);
  for (const name of pages) {
    const sibling = realpathSync(join(root, `${name}.gz`));
    const lines = server.logs.filter((line) => line.msg === 'precompressed file older than its page: not served' && line.file === sibling);
    assert.equal(lines[0]?.suppressed, 0, `${name}: said at once, not counted among another file's`);
    assert.ok(lines.length <= 2, `${name}: ${lines.length} lines, not one a request`);
    assert.equal(lines.reduce((sum, line) => sum + 1 + Number(line.suppressed), 0), accepts.length, `${name}: every request counted`);
  }
});

test('a small file rewritten while workers read it: every response keeps its framing (its whole length, or 503)', async (t) => {
  // No cache: every request reads the file in a worker while this test truncates and rewrites it.
  const dir = mkdtempSync(join(tmpdir(), 'rawhttp-race-'));
  const racing = await startServer({ env: { RESOURCES_DIR: dir, FILE_CACHE_TTL_MS: '0', MAX_REQUESTS_PER_CONNECTION: '100000' } });
  try {
    const version = (n: number): Buffer => Buffer.alloc(30_000 + (n % 7) * 4000, 65 + (n % 26));
    writeFileSync(join(dir, 'race.txt'), version(0));
    writeFileSync(join(dir, 'small.txt'), 'the small file\n');
    const until = Date.now() + 2500;
    let rewrites = 0;
    const rewriting = (async () => {
      while (Date.now() < until) {
        writeFileSync(join(dir, 'race.txt'), version(++rewrites)); // truncates, then writes
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const statuses = new Map<number, number>();
    const client = async (): Promise<void> => {
      const socket = await RawClient.connect(racing.port);
      try {
        for (let pairs = 0; Date.now() < until; pairs++) {
          // Pipelined: a short body on the first would make the second's head read as its bytes.
          socket.write(get('/race.txt', racing.port) + get('/small.txt', racing.port));
          const all = await socket.responses(2 * (pairs + 1), 5000);
          const [race, small] = all.slice(2 * pairs);
          statuses.set(race!.status, (statuses.get(race!.status) ?? 0) + 1);
          // Rewritten in place, a file may be read torn (no server can help that), but the body
          // is always as long as its head says.
          if (race!.status === 200) {
            assert.equal(race!.body.length, Number(race!.headers['content-length']));
          } else {
            assert.equal(race!.status, 503);
          }
          assert.equal(small!.status, 200);
          assert.equal(small!.body.toString(), 'the small file\n');
        }
      } finally {
        socket.close();
      }
    };
    await Promise.all([rewriting, ...Array.from({ length: 4 }, client)]);
    t.diagnostic(`${rewrites} rewrites; statuses ${JSON.stringify([...statuses])}`);
    assert.ok((statuses.get(200) ?? 0) > 100, 'the race ran');
  } finally {
    await racing.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a deploy renaming new versions over small files while clients fetch them: every answer is 200 with one whole version', async (t) => {
  // No cache: every request reads the file in a worker, racing the renames.
  const dir = mkdtempSync(join(tmpdir(), 'rawhttp-deploy-'));
  const racing = await startServer({ env: { RESOURCES_DIR: dir, FILE_CACHE_TTL_MS: '0', MAX_REQUESTS_PER_CONNECTION: '100000' } });
  const names = ['dep.txt', 'dep.html'];
  const version = (n: number): Buffer => Buffer.alloc(2000, 48 + (n % 10));
  try {
    for (const name of names) writeFileSync(join(dir, name), version(0));
    const until = Date.now() + 2500;
    let deploys = 0;
    const deploying = (async () => {
      while (Date.now() < until) {
        deploys++;
        for (const name of names) {
          writeFileSync(join(dir, `${name}.next`), version(deploys));
          renameSync(join(dir, `${name}.next`), join(dir, name));
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const statuses = new Map<string, number>();
    const client = async (name: string): Promise<void> => {
      const socket = await RawClient.connect(racing.port);
      try {
        for (let asked = 1; Date.now() < until; asked++) {
          socket.write(get(`/${name}`, racing.port));
          const response = (await socket.responses(asked, 5000)).at(-1)!;
          const key = `${name} ${response.status}`;
          statuses.set(key, (statuses.get(key) ?? 0) + 1);
          if (response.status === 200) {
            assert.equal(response.body.length, 2000);
            assert.ok(response.body.every((byte) => byte === response.body[0]), 'one version, whole');
          }
        }
      } finally {
        socket.close();
      }
    };
    await Promise.all([deploying, ...names.flatMap((name) => [client(name), client(name)])]);
    t.diagnostic(`${deploys} deploys; ${JSON.stringify([...statuses])}`);
    for (const [key, count] of statuses) assert.ok(key.endsWith(' 200'), `${key}: ${count} times`);
    assert.ok([...statuses.values()].reduce((a, b) => a + b, 0) > 500, 'the race ran');
  } finally {
    await racing.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
