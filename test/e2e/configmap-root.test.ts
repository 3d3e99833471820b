// A Kubernetes ConfigMap (or Secret) volume as the document root, laid out as kubelet's atomic
// writer lays it out and updated as it updates it: every file is served, an update is seen
// within the cache's TTL with no error in between, and links to hidden names stay refused.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { mkdirSync, mkdtempSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { get, RawClient, request } from '../helpers/raw.js';
import { startServer, type StartedServer } from '../helpers/server.js';

const TTL_MS = 400;

type Payload = Readonly<Record<string, string>>;

/** The volume's keys at update `n` (`sub/page.html` as an item with a path, `.env` a key with a dot). */
const payload = (n: number): Payload => ({
  'index.html': `<!DOCTYPE html><title>version ${String(n).padStart(3, '0')}</title>\n`,
  'note.txt': `note, version ${n}${'.'.repeat(n)}\n`,
  'sub/page.html': `<!DOCTYPE html><title>sub page ${n}</title>\n`,
  'sub/index.html': `<!DOCTYPE html><title>sub index ${n}</title>\n`,
  '.env': `TOKEN=${n}\n`,
});

/** What kubelet names a new data folder: `os.MkdirTemp(dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))`. */
function dataFolderName(): string {
  const time = new Date().toISOString().slice(0, 19).replace(/[-T:]/g, '_');
  return `..${time}.${randomInt(2 ** 32)}`;
}

/**
 * kubelet's AtomicWriter.Write: the payload into a new data folder, a `..data_tmp` link to it
 * renamed over `..data`, a link per top-level name through `..data`, the old folder removed.
 */
function writeVolume(volume: string, files: Payload): void {
  let old: string | undefined;
  try {
    old = readlinkSync(join(volume, '..data'));
  } catch {
    // The first write.
  }
  const folder = dataFolderName();
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(volume, folder, name)), { recursive: true });
    writeFileSync(join(volume, folder, name), content);
  }
  symlinkSync(folder, join(volume, '..data_tmp'));
  renameSync(join(volume, '..data_tmp'), join(volume, '..data'));
  for (const top of new Set(Object.keys(files).map((name) => name.split('/')[0]!))) {
    try {
      symlinkSync(join('..data', top), join(volume, top));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  if (old !== undefined) rmSync(join(volume, old), { recursive: true });
}

describe('a ConfigMap volume as the document root', () => {
  let volume: string;
  let server: StartedServer;
  let version = 1;

  before(async () => {
    volume = mkdtempSync(join(tmpdir(), 'rawhttp-configmap-'));
    writeVolume(volume, payload(version));
    // Not kubelet's: a hidden file beside the volume's links, and links with plain names to hidden names.
    writeFileSync(join(volume, '.secret.txt'), 'not for the web\n');
    symlinkSync('.secret.txt', join(volume, 'leak.txt'));
    symlinkSync(join('..data', '.env'), join(volume, 'env.txt'));
    server = await startServer({ env: { RESOURCES_DIR: volume, FILE_CACHE_TTL_MS: String(TTL_MS), MAX_REQUESTS_PER_CONNECTION: '100000' } });
  });
  after(async () => {
    await server?.stop();
    rmSync(volume, { recursive: true, force: true });
  });

  test('every file of the volume is served with its content, through the links into its data folder', async () => {
    const files = payload(version);
    for (const [path, name] of [['/', 'index.html'], ['/index.html', 'index.html'], ['/note.txt', 'note.txt'], ['/sub/page.html', 'sub/page.html'], ['/sub/', 'sub/index.html']] as const) {
      const response = await request(server.port, get(path, server.port));
      assert.equal(response.status, 200, path);
      assert.equal(response.body.toString(), files[name], path);
    }
    assert.equal((await request(server.port, get('/sub', server.port))).status, 301);
    assert.equal((await request(server.port, get('/sub/missing.html', server.port))).status, 404);
  });

  test('a link to a hidden name is still refused, inside the data folder or beside it', async () => {
    for (const path of ['/leak.txt', '/env.txt']) {
      const response = await request(server.port, get(path, server.port));
      assert.equal(response.status, 403, path);
      assert.doesNotMatch(response.body.toString(), /not for the web|TOKEN/);
      const line = await server.waitForLog((l) => l.level === 'warn' && l.target === path);
      assert.deepEqual([line.reason, line.detail], ['hidden_file', 'path resolves to a hidden file or folder']);
    }
    // Nor can a request name the data folder, its link, or the dot key.
    for (const path of ['/.env', '/..data/index.html', `/${readlinkSync(join(volume, '..data'))}/index.html`]) {
      assert.equal((await request(server.port, get(path, server.port))).status, 403, path);
    }
  });

  test('updates under load: every answer is 200 with a whole version, and the last one is served within the TTL', async (t) => {
    const paths = ['/', '/note.txt', '/sub/page.html'] as const;
    const nameOf = { '/': 'index.html', '/note.txt': 'note.txt', '/sub/page.html': 'sub/page.html' } as const;
    const failures: string[] = [];
    let answers = 0;
    let stop = false;
    const client = async (): Promise<void> => {
      const socket = await RawClient.connect(server.port);
      try {
        for (let sent = 0; !stop; sent++) {
          const path = paths[sent % paths.length]!;
          socket.write(get(path, server.port));
          const response = (await socket.responses(sent + 1, 5000))[sent]!;
          answers++;
          const body = response.body.toString();
          // Any version up to the current one: an update is seen within the TTL, not at once.
          const whole = Array.from({ length: version }, (_, n) => payload(n + 1)[nameOf[path]]).includes(body);
          if (response.status !== 200 || !whole) failures.push(`${path}: ${response.status} ${body.slice(0, 80)}`);
        }
      } finally {
        socket.close();
      }
    };
    const clients = Array.from({ length: 3 }, client);
    for (let update = 0; update < 6; update++) {
      await sleep(150);
      writeVolume(volume, payload(++version));
    }
    await sleep(TTL_MS + 100);
    stop = true;
    await Promise.all(clients);
    t.diagnostic(`${answers} answers over ${version - 1} updates`);
    assert.deepEqual(failures, []);
    assert.ok(answers > 100, 'the load ran');
    for (const path of paths) {
      const response = await request(server.port, get(path, server.port));
      assert.equal(response.status, 200);
      assert.equal(response.body.toString(), payload(version)[nameOf[path]], `${path} is the last version a TTL after the update`);
    }
  });

  test('a revalidation with the ETag from before an update gets 200 and the new body', async () => {
    // The page keeps its length from version to version: only the new file's time tells them apart.
    const before = await request(server.port, get('/index.html', server.port));
    assert.equal(before.status, 200);
    const etag = before.headers.etag!;
    assert.equal((await request(server.port, get('/index.html', server.port, `If-None-Match: ${etag}\r\n`))).status, 304);
    writeVolume(volume, payload(++version));
    await sleep(TTL_MS + 100);
    const after = await request(server.port, get('/index.html', server.port, `If-None-Match: ${etag}\r\n`));
    assert.equal(after.status, 200);
    assert.equal(after.body.toString(), payload(version)['index.html']);
    assert.notEqual(after.headers.etag, etag);
  });
});
