// The server behind nginx's proxy_cache, configured as docs/deploy.md says: files are stored
// and served from the cache, revalidated with their validators once stale, a client's
// conditional request gets its 304 there, each encoding is its own variant, and what the
// server marks no-store (errors, redirects, uploads) is never stored. Needs nginx (Debian's
// package; .ci/run installs it).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { nginxCacheConfig, startCache, type Cache } from '../helpers/nginx.js';
import { freePort, request, type RawResponse } from '../helpers/raw.js';
import { REPO_ROOT, startServer, type StartedServer } from '../helpers/server.js';
import { skipWithout } from '../helpers/tools.js';

const SKIP = skipWithout(['nginx'], 'nginx');
const HOST = 'www.example.com';
/** Long enough for a request pair to be answered within it; the revalidation test waits it out. */
const MAX_AGE_S = 5;
const CACHE_CONTROL = `public, max-age=${MAX_AGE_S}`;

test('the nginx recipe in docs/deploy.md is the tested configuration', () => {
  const production = nginxCacheConfig({ listen: '80', serverName: HOST, origin: '127.0.0.1:8080', cachePath: '/var/cache/nginx/rawhttp' });
  const docs = readFileSync(join(REPO_ROOT, 'docs', 'deploy.md'), 'utf8');
  assert.ok(docs.includes(`\`\`\`nginx\n${production}\`\`\``), 'docs/deploy.md shows nginxCacheConfig() with the production settings');
});

describe('behind nginx proxy_cache, CACHE_CONTROL=public', { skip: SKIP }, () => {
  const plain = Buffer.from('<!DOCTYPE html>\n<title>plain</title>\n');
  const page = Buffer.from(`<!DOCTYPE html>\n<title>page</title>\n${'<p>cached, cached</p>\n'.repeat(200)}`);
  let dir: string;
  let server: StartedServer;
  let cache: Cache;
  let port: number;

  /** A request to nginx as a browser sends it, by the site's name. */
  function send(method: string, path: string, headers: Record<string, string> = {}, body = ''): Promise<RawResponse> {
    const lines = Object.entries({ Host: HOST, Connection: 'close', ...headers }).map(([name, value]) => `${name}: ${value}\r\n`);
    const framing = method === 'POST' ? `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` : '';
    return request(port, `${method} ${path} HTTP/1.1\r\n${lines.join('')}${framing}\r\n${body}`);
  }

  before(async () => {
    if (SKIP !== false) return;
    dir = mkdtempSync(join(tmpdir(), 'rawhttp-shared-cache-'));
    const site = join(dir, 'site');
    mkdirSync(join(site, 'folder'), { recursive: true });
    writeFileSync(join(site, 'page.html'), page);
    writeFileSync(join(site, 'page.html.gz'), gzipSync(page));
    writeFileSync(join(site, 'plain.html'), plain);
    writeFileSync(join(site, 'folder', 'index.html'), '<!DOCTYPE html>\n<title>folder</title>\n');
    server = await startServer({ env: { RESOURCES_DIR: site, CACHE_CONTROL, ALLOWED_HOSTS: HOST, TRUSTED_PROXIES: '127.0.0.1' } });
    port = await freePort();
    cache = await startCache(join(dir, 'nginx'), { listen: `127.0.0.1:${port}`, serverName: HOST, origin: `127.0.0.1:${server.port}`, cachePath: join(dir, 'nginx', 'cache') }, port);
  });

  after(async () => {
    await cache?.stop();
    await server?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test('a second GET is a hit; neither carries a trace id, not even one the first client chose', async () => {
    const chosen = randomBytes(16).toString('hex');
    const first = await send('GET', '/plain.html', { traceparent: `00-${chosen}-${randomBytes(8).toString('hex')}-01` });
    assert.equal(first.status, 200);
    assert.equal(first.headers['x-cache-status'], 'MISS');
    // The server saw the request by the client's Host (403 otherwise) and its trace id.
    await server.waitForLog((line) => line.msg === 'request' && line.traceId === chosen && line.status === 200);
    const second = await send('GET', '/plain.html');
    assert.equal(second.status, 200);
    assert.equal(second.headers['x-cache-status'], 'HIT');
    assert.ok(first.body.equals(plain));
    assert.ok(second.body.equals(plain));
    assert.equal(second.headers['cache-control'], CACHE_CONTROL);
    assert.equal(first.headers['x-trace-id'], undefined);
    assert.equal(second.headers['x-trace-id'], undefined);
  });

  test("a client's If-None-Match through the cache gets 304", async () => {
    const full = await send('GET', '/folder/');
    assert.equal(full.status, 200);
    const revalidated = await send('GET', '/folder/', { 'If-None-Match': full.headers.etag! });
    assert.equal(revalidated.status, 304);
    assert.equal(revalidated.headers['x-cache-status'], 'HIT');
    assert.equal(revalidated.headers.etag, full.headers.etag);
  });

  test('gzip and identity clients each get their own variant, from the cache', async () => {
    for (let round = 0; round < 2; round++) {
      const gzip = await send('GET', '/page.html', { 'Accept-Encoding': 'gzip' });
      assert.equal(gzip.status, 200);
      assert.equal(gzip.headers['content-encoding'], 'gzip');
      assert.ok(gunzipSync(gzip.body).equals(page));
      const identity = await send('GET', '/page.html');
      assert.equal(identity.status, 200);
      assert.equal(identity.headers['content-encoding'], undefined);
      assert.ok(identity.body.equals(page));
      if (round === 1) assert.deepEqual([gzip.headers['x-cache-status'], identity.headers['x-cache-status']], ['HIT', 'HIT']);
    }
  });

  test('a stale entry is revalidated: the server answers 304 and nginx serves its copy', async () => {
    // nginx counts max-age in whole seconds of its clock: stale within one more second.
    const deadline = Date.now() + (MAX_AGE_S + 2) * 1000;
    let response: RawResponse;
    let traceId: string;
    do {
      await sleep(250);
      traceId = randomBytes(16).toString('hex');
      response = await send('GET', '/plain.html', { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` });
    } while (response.headers['x-cache-status'] === 'HIT' && Date.now() < deadline);
    assert.equal(response.status, 200);
    assert.equal(response.headers['x-cache-status'], 'REVALIDATED');
    assert.ok(response.body.equals(plain));
    await server.waitForLog((line) => line.msg === 'request' && line.traceId === traceId && line.status === 304);
  });

  test('a 404 and a 301 are never stored', async () => {
    for (const [path, status] of [['/missing.html', 404], ['/folder', 301]] as const) {
      for (let round = 0; round < 2; round++) {
        const response = await send('GET', path);
        assert.equal(response.status, status, path);
        assert.equal(response.headers['cache-control'], 'no-store', path);
        assert.equal(response.headers['x-cache-status'], 'MISS', `${path}, request ${round + 1}`);
      }
    }
  });

  test('an upload and the stored file are never stored by the cache', async () => {
    const created = await send('POST', '/upload', {}, '{"through":"nginx"}');
    assert.equal(created.status, 201);
    assert.equal(created.headers['cache-control'], 'no-store');
    assert.notEqual(created.headers['x-cache-status'], 'HIT');
    for (let round = 0; round < 2; round++) {
      const file = await send('GET', created.headers.location!);
      assert.equal(file.status, 200);
      assert.equal(file.body.toString(), '{"through":"nginx"}');
      assert.equal(file.headers['cache-control'], 'no-store');
      assert.equal(file.headers['x-cache-status'], 'MISS', `request ${round + 1}`);
    }
  });
});
