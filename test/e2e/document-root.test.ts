// The document root named as a user may name it: the file system's root `/` (whose real path
// ends in a separator, unlike every other folder's) and a folder given with a trailing slash.
// Files below it are served, hidden names and links out of it stay refused. The server listens
// on 127.0.0.1 only, and the tests ask only for files they made.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { get, request } from '../helpers/raw.js';
import { startServer, type StartedServer } from '../helpers/server.js';

/** A fresh folder under the temporary folder, by its real path. */
const freshFolder = (prefix: string): string => realpathSync(mkdtempSync(join(tmpdir(), prefix)));

describe("the file system's root as RESOURCES_DIR", () => {
  let site: string;
  let uploads: string;
  let server: StartedServer;

  before(async () => {
    site = freshFolder('rawhttp-slash-root-');
    uploads = freshFolder('rawhttp-slash-uploads-');
    writeFileSync(join(site, 'page.txt'), 'served from below /\n');
    writeFileSync(join(site, '.secret.txt'), 'not for the web\n');
    symlinkSync('.secret.txt', join(site, 'leak.txt'));
    writeFileSync(join(uploads, 'stored.json'), '{"stored":true}\n');
    server = await startServer({ env: { RESOURCES_DIR: '/' }, uploadsDir: uploads });
  });
  after(async () => {
    await server?.stop();
    rmSync(site, { recursive: true, force: true });
    rmSync(uploads, { recursive: true, force: true });
  });

  test('a file below it is served by its full path', async () => {
    const response = await request(server.port, get(`${site}/page.txt`, server.port));
    assert.equal(response.status, 200, response.body.toString());
    assert.equal(response.body.toString(), 'served from below /\n');
  });

  test('hidden names stay refused, named or behind a link', async () => {
    for (const name of ['.secret.txt', 'leak.txt']) {
      const response = await request(server.port, get(`${site}/${name}`, server.port));
      assert.equal(response.status, 403, name);
    }
  });

  test('an upload reached through the root is still no-store', async () => {
    const response = await request(server.port, get(`${uploads}/stored.json`, server.port));
    assert.equal(response.status, 200, response.body.toString());
    assert.equal(response.headers['cache-control'], 'no-store');
  });
});

describe('RESOURCES_DIR and UPLOADS_DIR given with a trailing slash', () => {
  let parent: string;
  let server: StartedServer;

  before(async () => {
    parent = freshFolder('rawhttp-trailing-slash-');
    const site = join(parent, 'site');
    // A sibling whose name starts with the root's: not inside it.
    const sibling = join(parent, 'sitex');
    mkdirSync(site);
    mkdirSync(sibling);
    mkdirSync(join(site, 'uploads'));
    writeFileSync(join(site, 'page.txt'), 'served\n');
    writeFileSync(join(site, '.env'), 'TOKEN=1\n');
    writeFileSync(join(sibling, 'page.txt'), 'next door\n');
    writeFileSync(join(site, 'uploads', 'stored.json'), '{"stored":true}\n');
    symlinkSync(join(sibling, 'page.txt'), join(site, 'next-door.txt'));
    symlinkSync(join('uploads', 'stored.json'), join(site, 'shared.json'));
    server = await startServer({ env: { RESOURCES_DIR: `${site}/` }, uploadsDir: `${site}/uploads/` });
  });
  after(async () => {
    await server?.stop();
    rmSync(parent, { recursive: true, force: true });
  });

  test('files below it are served, hidden ones and links to a sibling folder are refused', async () => {
    const cases: Array<[string, number]> = [['/page.txt', 200], ['/.env', 403], ['/next-door.txt', 403], ['/uploads/stored.json', 200]];
    for (const [path, status] of cases) {
      const response = await request(server.port, get(path, server.port));
      assert.equal(response.status, status, path);
    }
  });

  test('an upload reached through a link in the document root is no-store', async () => {
    const response = await request(server.port, get('/shared.json', server.port));
    assert.equal(response.status, 200, response.body.toString());
    assert.equal(response.headers['cache-control'], 'no-store');
  });
});
