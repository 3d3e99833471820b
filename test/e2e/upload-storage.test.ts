// POST /upload when storage misbehaves: stale temporaries at start, a full disk (507), a
// folder the server may not write to (500) and one replaced under it (500). Each test gets
// a server of its own.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { waitFor } from '../fixtures/probes.js';
import { get, request, type RawResponse } from '../helpers/raw.js';
import { REPO_ROOT, startServer, type LogLine, type StartedServer } from '../helpers/server.js';

const DATA_JSON = readFileSync(join(REPO_ROOT, 'data.json'));
const isRoot = process.getuid?.() === 0;
const UPLOAD_FILE = /^upload_\d{8}_\d{6}_[0-9a-f]{16}\.json$/;

function upload(port: number, body: Buffer): Promise<RawResponse> {
  const head = `POST /upload HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
  return request(port, Buffer.concat([Buffer.from(head, 'latin1'), body]), 30_000);
}

const uploadsIn = (dir: string): string[] => readdirSync(dir).filter((name) => name.startsWith('upload_') || name.startsWith('.upload-'));

/** The server still answers, and stores again once the problem is gone. */
async function assertServes(server: StartedServer): Promise<void> {
  const page = await request(server.port, get('/', server.port));
  assert.equal(page.status, 200);
}

async function assertStoresAgain(server: StartedServer, dir: string): Promise<void> {
  const response = await upload(server.port, DATA_JSON);
  assert.equal(response.status, 201, response.body.toString());
  const name = (response.headers.location ?? '').replace('/uploads/', '');
  assert.ok(readFileSync(join(dir, name)).equals(DATA_JSON));
}

/** Says in the test output why a check could not run here, then skips it. */
function skipWithReason(t: TestContext, reason: string): void {
  t.diagnostic(`SKIPPED: ${reason}`);
  t.skip(reason);
}

function run(command: string, args: string[]): string | null {
  try {
    execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    return null;
  } catch (error) {
    return `${command} ${args.join(' ')} failed: ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}`;
  }
}

/** Writes until the file system refuses with ENOSPC, so no page is left for an upload. */
function fill(dir: string): void {
  const fd = openSync(join(dir, 'filler'), 'w');
  try {
    for (const size of [4096, 1]) {
      const block = Buffer.alloc(size, 0x61);
      for (let i = 0; i < 1_000_000; i++) {
        try {
          writeSync(fd, block);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw error;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

test('stale upload temporaries are removed once the server listens, nothing else is touched', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rawhttp-stale-'));
  const stale = ['.upload-0123456789abcdef01234567.tmp', '.upload-x.tmp'];
  const kept = ['.upload-notes.txt', 'draft.tmp', 'upload_20240101_000000_0123456789abcdef.json'];
  const hourAgo = (Date.now() - 3600_000) / 1000;
  for (const name of [...stale, ...kept]) {
    writeFileSync(join(dir, name), '{"half":');
    // Older than any upload can run (which temporaries are abandoned: upload-replicas.test.ts).
    utimesSync(join(dir, name), hourAgo, hourAgo);
  }
  let server: StartedServer | null = null;
  try {
    server = await startServer({ uploadsDir: dir });
    const swept = await server.waitForLog((entry) => entry.msg === 'stale upload temporaries swept');
    assert.deepEqual([swept.entries, swept.removed, swept.left], [stale.length + kept.length, stale.length, 0]);
    assert.deepEqual(readdirSync(dir).sort(), [...kept].sort());
    for (const name of stale) {
      const line = await server.waitForLog((entry) => entry.msg === 'removed a stale upload temporary' && entry.file === name);
      assert.equal(line.level, 'warn');
    }
  } finally {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an uploads folder created under a parent the server may not read: it starts, says the parent was not synced, and stores', async (t) => {
  if (!isRoot) return skipWithReason(t, 'needs root to run the server as another user');
  const parent = mkdtempSync(join(tmpdir(), 'rawhttp-dropbox-'));
  // Others may create entries here but not list it (a "drop box"): the folder cannot be opened to be synced.
  chmodSync(parent, 0o733);
  const dir = join(parent, 'uploads');
  let server: StartedServer | null = null;
  try {
    server = await startServer({ uploadsDir: dir, launcher: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] });
    const line = await server.waitForLog((entry) => String(entry.msg).startsWith('cannot fsync a folder created for UPLOADS_DIR'));
    assert.equal(line.level, 'warn');
    assert.equal(line.folder, parent);
    assert.equal((await upload(server.port, DATA_JSON)).status, 201);
  } finally {
    await server?.stop();
    rmSync(parent, { recursive: true, force: true });
  }
});

test('a full disk gives 507 and leaves no partial or temporary file; the server keeps serving', async (t) => {
  if (!isRoot) return skipWithReason(t, 'full-disk test needs root to mount a small tmpfs; not running as root');
  const dir = mkdtempSync(join(tmpdir(), 'rawhttp-full-'));
  const mountError = run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
  if (mountError !== null) {
    rmSync(dir, { recursive: true, force: true });
    return skipWithReason(t, `cannot mount a tmpfs for the full-disk test (${mountError})`);
  }
  let server: StartedServer | null = null;
  try {
    // The guard off: this is about a disk that fills up under the server (ENOSPC).
    server = await startServer({ uploadsDir: dir, env: { MIN_FREE_DISK_BYTES: '0' } });
    fill(dir);
    const response = await upload(server.port, DATA_JSON);
    assert.equal(response.status, 507, response.body.toString());
    assert.deepEqual(uploadsIn(dir), [], 'a partial or temporary file was left behind');
    const line = await server.waitForLog((entry) => entry.msg === 'upload refused: storage full');
    assert.equal(line.code, 'ENOSPC');
    await assertServes(server);
    unlinkSync(join(dir, 'filler'));
    await assertStoresAgain(server, dir);
  } finally {
    await server?.stop();
    run('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Makes `dir` refuse new files; root ignores modes, so it needs an immutable flag or a read-only mount. */
function makeUnwritable(dir: string): { undo: () => void; how: string } | { reason: string } {
  if (!isRoot) {
    chmodSync(dir, 0o555);
    return { undo: () => chmodSync(dir, 0o755), how: 'chmod 0555' };
  }
  const chattrError = run('chattr', ['+i', dir]);
  if (chattrError === null) return { undo: () => run('chattr', ['-i', dir]), how: 'chattr +i (running as root)' };
  const bindError = run('mount', ['--bind', dir, dir]);
  if (bindError !== null) return { reason: `running as root, and neither chattr +i nor a bind mount works (${chattrError}; ${bindError})` };
  const remountError = run('mount', ['-o', 'remount,bind,ro', dir]);
  if (remountError !== null) {
    run('umount', [dir]);
    return { reason: `running as root, chattr +i fails and a read-only remount fails (${chattrError}; ${remountError})` };
  }
  return { undo: () => run('umount', [dir]), how: 'a read-only bind mount (running as root)' };
}

test('an uploads folder the server may not write to gives 500 and an error log at most once a second; the server keeps serving', async (t) => {
  const parent = mkdtempSync(join(tmpdir(), 'rawhttp-readonly-'));
  const dir = join(parent, 'uploads');
  mkdirSync(dir);
  let server: StartedServer | null = null;
  let undo: (() => void) | null = null;
  try {
    server = await startServer({ uploadsDir: dir, env: { UPLOAD_RATE_PER_MINUTE: '0' } });
    const unwritable = makeUnwritable(dir);
    if ('reason' in unwritable) return skipWithReason(t, unwritable.reason);
    undo = unwritable.undo;
    t.diagnostic(`uploads folder made unwritable with ${unwritable.how}`);
    const response = await upload(server.port, DATA_JSON);
    assert.equal(response.status, 500, response.body.toString());
    const line = await server.waitForLog((entry) => entry.msg === 'upload failed');
    assert.equal(line.level, 'error');
    assert.match(String(line.code), /^(EACCES|EPERM|EROFS)$/);
    // Every upload meets the condition while it lasts: one line a second says how many did.
    const more = await Promise.all(Array.from({ length: 20 }, () => upload(server!.port, DATA_JSON)));
    assert.deepEqual(new Set(more.map((answer) => answer.status)), new Set([500]));
    // Those held back are told when the second ends, not at the next failure.
    const summary = await server.waitForLog((entry) => entry.msg === 'upload failed' && Number(entry.suppressed) > 0, 3000);
    assert.equal((await upload(server.port, DATA_JSON)).status, 500);
    const failedLines = (): LogLine[] => server!.logs.filter((entry) => entry.msg === 'upload failed');
    const told = (): number => failedLines().reduce((sum, entry) => sum + 1 + Number(entry.suppressed ?? 0), 0);
    await waitFor(() => told() === 22, `every failed upload told (${JSON.stringify(summary)})`, 5000);
    assert.ok(failedLines().length <= 3, `${failedLines().length} lines for 22 failed uploads`);
    assert.deepEqual(uploadsIn(dir), []);
    await assertServes(server);
    undo();
    undo = null;
    await assertStoresAgain(server, dir);
    assert.equal(uploadsIn(dir).filter((name) => UPLOAD_FILE.test(name)).length, 1);
  } finally {
    undo?.();
    await server?.stop();
    rmSync(parent, { recursive: true, force: true });
  }
});

test('an uploads folder replaced by a link to another folder gives 500 and nothing is written there; a fresh real folder in its place stores and serves again', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'rawhttp-moved-'));
  const dir = join(parent, 'uploads');
  const elsewhere = mkdtempSync(join(tmpdir(), 'rawhttp-elsewhere-'));
  mkdirSync(dir);
  let server: StartedServer | null = null;
  try {
    server = await startServer({ uploadsDir: dir, env: { UPLOAD_RATE_PER_MINUTE: '0' } });
    await assertStoresAgain(server, dir);
    // Renamed away: nothing to write into.
    renameSync(dir, join(parent, 'uploads-before'));
    assert.equal((await upload(server.port, DATA_JSON)).status, 500);
    // A link to a folder outside the configured tree: a 201 would promise a document that GET refuses (403).
    symlinkSync(elsewhere, dir);
    const response = await upload(server.port, DATA_JSON);
    assert.equal(response.status, 500, `${response.status} ${response.headers.location ?? ''}`);
    assert.deepEqual(readdirSync(elsewhere), [], 'the upload was written through the link');
    const line = await server.waitForLog((entry) => entry.msg === 'upload failed: UPLOADS_DIR now leads elsewhere');
    assert.equal(line.level, 'error');
    assert.equal(line.now, realpathSync(elsewhere));
    await assertServes(server);
    // An operator's new, real folder under the same name: uploads are stored and served again.
    unlinkSync(dir);
    mkdirSync(dir);
    const stored = await upload(server.port, DATA_JSON);
    assert.equal(stored.status, 201, stored.body.toString());
    const served = await request(server.port, get(stored.headers.location ?? '', server.port));
    assert.equal(served.status, 200);
    assert.ok(served.body.equals(DATA_JSON));
  } finally {
    await server?.stop();
    rmSync(parent, { recursive: true, force: true });
    rmSync(elsewhere, { recursive: true, force: true });
  }
});
