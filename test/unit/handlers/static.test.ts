// Where an open descriptor points, when the file it opened has been replaced or removed since:
// a deploy that renames a new version over a page must not make the old one unservable. And
// the cache's refresh: a file it already holds is not read again.
import assert from 'node:assert/strict';
import { closeSync, fstatSync, linkSync, mkdirSync, mkdtempSync, openSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { FileFacts, JobResult, StaticJob } from '../../../src/core/job.js';
import { contentTable } from '../../../src/handlers/content-types.js';
import type { DescriptorWatch } from '../../../src/handlers/descriptors.js';
import { SETTLE_MARGIN_MS } from '../../../src/handlers/settled.js';
import { afterRead, nameBeforeDeletion, realPathOf } from '../../../src/handlers/file-changes.js';
import { serveStatic, type StaticContext } from '../../../src/handlers/static.js';

const folder = mkdtempSync(join(tmpdir(), 'rawhttp-realpath-'));
after(() => rmSync(folder, { recursive: true, force: true }));

/** These tests check answers; static-descriptors.test.ts checks what is reported open. */
const UNWATCHED: DescriptorWatch = { opened: () => undefined, closing: () => undefined };

function opened(name: string): { fd: number; path: string } {
  const path = join(folder, name);
  writeFileSync(path, 'v1');
  return { fd: openSync(path, 'r'), path };
}

test('a file renamed over keeps its name: the descriptor still reads the version it opened', () => {
  const { fd, path } = opened('page.html');
  try {
    writeFileSync(join(folder, 'page.html.new'), 'v2');
    renameSync(join(folder, 'page.html.new'), path);
    assert.equal(realPathOf(fd, path, fstatSync(fd)), path);
  } finally {
    closeSync(fd);
  }
});

test('a file removed after it was opened keeps its name too', () => {
  const { fd, path } = opened('gone.txt');
  try {
    unlinkSync(path);
    assert.equal(realPathOf(fd, path, fstatSync(fd)), path);
  } finally {
    closeSync(fd);
  }
});

test('a name that really ends in " (deleted)" is left whole', () => {
  const { fd, path } = opened('notes (deleted)');
  try {
    assert.equal(realPathOf(fd, path, fstatSync(fd)), path);
  } finally {
    closeSync(fd);
  }
});

test('a file with another hard link, removed under the name it was opened by, keeps that name', () => {
  const { fd, path } = opened('linked.txt');
  try {
    linkSync(path, join(folder, 'other-name.txt'));
    unlinkSync(path);
    assert.equal(realPathOf(fd, path, fstatSync(fd)), path);
  } finally {
    closeSync(fd);
  }
});

test('the " (deleted)" suffix is the kernel\'s unless a file is found under the whole name', () => {
  assert.equal(nameBeforeDeletion('/root/page.txt (deleted)', () => false), '/root/page.txt');
  assert.equal(nameBeforeDeletion('/root/page.txt (deleted)', () => true), '/root/page.txt (deleted)');
  assert.equal(nameBeforeDeletion('/root/page.txt', () => false), '/root/page.txt');
});

test('a page renamed over between its fstat and its readlink is served, not refused for the suffix', () => {
  const root = realpathSync(folder);
  const context: StaticContext = { resourcesRoot: root, uploadsRoot: join(root, 'uploads'), contentTable: contentTable({ inlineTypes: ['text/html'], downloadTypes: ['text/plain'] }), smallFileBytes: 64 * 1024, cacheControl: 'no-cache' };
  writeFileSync(join(root, 'deploy.txt'), 'v1');
  const fsModule = process.getBuiltinModule('node:fs');
  const readlinkSync = fsModule.readlinkSync;
  let replaced = false;
  fsModule.readlinkSync = ((...args: Parameters<typeof readlinkSync>) => {
    if (!replaced) {
      replaced = true;
      writeFileSync(join(root, 'deploy.next'), 'v2');
      renameSync(join(root, 'deploy.next'), join(root, 'deploy.txt'));
    }
    return readlinkSync(...args);
  }) as typeof readlinkSync;
  try {
    const result = serveStatic({ kind: 'static', method: 'GET', path: '/deploy.txt', conditions: {}, acceptEncoding: undefined, query: '', held: undefined }, context, UNWATCHED);
    assert.ok(replaced, 'the link was read');
    assert.notEqual(result.response.status, 415, 'judged by its name, not by a type ".txt (deleted)"');
    assert.equal(result.response.status, 200);
    assert.ok(result.response.body.kind === 'bytes');
    assert.equal(new TextDecoder().decode(result.response.body.bytes), 'v1', 'the version it opened');
  } finally {
    fsModule.readlinkSync = readlinkSync;
  }
});

test("the cache's refresh of a file it holds gets 304 and no bytes; a file changed since is read", async () => {
  const root = realpathSync(folder);
  const context: StaticContext = { resourcesRoot: root, uploadsRoot: join(root, 'uploads'), contentTable: contentTable({ inlineTypes: ['text/html'], downloadTypes: [] }), smallFileBytes: 64 * 1024, cacheControl: 'no-cache' };
  writeFileSync(join(root, 'held.html'), 'v1');
  const refresh = (held?: FileFacts): StaticJob => ({ kind: 'static', method: 'GET', path: '/held.html', conditions: {}, acceptEncoding: undefined, query: '', held });
  const first = serveStatic(refresh(), context, UNWATCHED);
  assert.equal(first.response.status, 200);
  const facts = first.cacheable!.representation.facts;

  const same = serveStatic(refresh(facts), context, UNWATCHED);
  assert.equal(same.response.status, 304);
  assert.equal(same.cacheable, undefined, 'not read');
  assert.deepEqual(same.unchanged, first.cacheable!.representation);

  // The same size, a second later: another version.
  utimesSync(join(root, 'held.html'), new Date(), new Date(facts.mtimeMs + 1000));
  const changed = serveStatic(refresh(facts), context, UNWATCHED);
  assert.equal(changed.response.status, 200);
  assert.equal(changed.unchanged, undefined);
  assert.equal(new TextDecoder().decode(changed.cacheable!.bytes), 'v1');
  assert.notEqual(changed.cacheable!.representation.facts.etag, facts.etag);
  // Replaced by a copy of the same size and modification time (`cp -p`, `rsync -t`): another file.
  const current = changed.cacheable!.representation.facts;
  writeFileSync(join(root, 'held.next'), 'v2');
  utimesSync(join(root, 'held.next'), new Date(), new Date(current.mtimeMs));
  renameSync(join(root, 'held.next'), join(root, 'held.html'));
  const copied = serveStatic(refresh(current), context, UNWATCHED);
  assert.equal(copied.unchanged, undefined, 'a file of the same size and time is read again');
  assert.equal(new TextDecoder().decode(copied.cacheable!.bytes), 'v2');
  // Rewritten in place and dated back: its change time moved (a clock tick later: the kernel
  // stamps files with a coarse clock).
  const inPlace = copied.cacheable!.representation.facts;
  await new Promise((resolve) => setTimeout(resolve, 20));
  writeFileSync(join(root, 'held.html'), 'v3');
  utimesSync(join(root, 'held.html'), new Date(), new Date(inPlace.mtimeMs));
  assert.equal(new TextDecoder().decode(serveStatic(refresh(inPlace), context, UNWATCHED).cacheable!.bytes), 'v3');
  // The same tag, but not the same time to the fraction of a millisecond the tag leaves out.
  assert.equal(serveStatic(refresh({ ...changed.cacheable!.representation.facts, mtimeMs: changed.cacheable!.representation.facts.mtimeMs + 0.5 }), context, UNWATCHED).unchanged, undefined);
});

test('a file read in the second of its last change is cached as not settled: its times cannot vouch for the bytes', () => {
  const root = realpathSync(folder);
  const context: StaticContext = { resourcesRoot: root, uploadsRoot: join(root, 'uploads'), contentTable: contentTable({ inlineTypes: ['text/html'], downloadTypes: [] }), smallFileBytes: 64 * 1024, cacheControl: 'no-cache' };
  writeFileSync(join(root, 'fresh.html'), 'v1');
  const job: StaticJob = { kind: 'static', method: 'GET', path: '/fresh.html', conditions: {}, acceptEncoding: undefined, query: '', held: undefined };
  assert.equal(serveStatic(job, context, UNWATCHED).cacheable?.settled, false, 'just written');
  // The same file seen a margin later: the clock the handler weighs the times against moves on.
  const now = Date.now;
  const later = now() + SETTLE_MARGIN_MS + 10;
  Date.now = () => later;
  try {
    assert.equal(serveStatic(job, context, UNWATCHED).cacheable?.settled, true);
  } finally {
    Date.now = now;
  }
});

test('a small file rewritten while it is read gets 503 with Retry-After, never one version\'s tag on another\'s bytes', () => {
  const root = realpathSync(folder);
  const context: StaticContext = { resourcesRoot: root, uploadsRoot: join(root, 'uploads'), contentTable: contentTable({ inlineTypes: ['text/html'], downloadTypes: [] }), smallFileBytes: 64 * 1024, cacheControl: 'no-cache' };
  const path = join(root, 'torn.html');
  writeFileSync(path, 'v1v1');
  const job: StaticJob = { kind: 'static', method: 'GET', path: '/torn.html', conditions: {}, acceptEncoding: undefined, query: '', held: undefined };
  const whole = serveStatic(job, context, UNWATCHED);
  assert.equal(whole.response.status, 200);

  // The handler's fs is Node's own module object: a writer gets in between its stat and its read.
  const fsModule = process.getBuiltinModule('node:fs');
  const readSync = fsModule.readSync;
  let rewritten = false;
  fsModule.readSync = ((...args: Parameters<typeof readSync>) => {
    if (!rewritten) {
      rewritten = true;
      writeFileSync(path, 'v2v2');
      // The same size, and a time the kernel's coarse clock would have moved to by the next write.
      utimesSync(path, new Date(), new Date(Date.now() + 1000));
    }
    return readSync(...args);
  }) as typeof readSync;
  try {
    const torn = serveStatic(job, context, UNWATCHED);
    assert.ok(rewritten, 'the file was read');
    assert.equal(torn.response.status, 503);
    assert.deepEqual(torn.response.headers.find(([name]) => name === 'Retry-After'), ['Retry-After', '1']);
    assert.equal(torn.cacheable, undefined, 'nothing to cache');
  } finally {
    fsModule.readSync = readSync;
  }
  const after = serveStatic(job, context, UNWATCHED);
  assert.equal(new TextDecoder().decode(after.cacheable!.bytes), 'v2v2');
});

test('what became of a file while it was read, from its fstat before and after', () => {
  const before = { size: 4, mtimeMs: 1000, ctimeMs: 1000, nlink: 1 };
  assert.equal(afterRead(before, before), 'same');
  assert.equal(afterRead(before, { ...before, ctimeMs: 2000, nlink: 0 }), 'unlinked', 'renamed over or removed: the bytes are a whole version');
  assert.equal(afterRead({ ...before, nlink: 2 }, { ...before, ctimeMs: 2000, nlink: 0 }), 'unlinked', 'every hard link removed');
  assert.equal(afterRead({ ...before, nlink: 2 }, { ...before, ctimeMs: 2000, nlink: 1 }), 'unlinked', 'a hard-linked file renamed over: one name gone, another left');
  assert.equal(afterRead({ ...before, nlink: 0 }, { ...before, nlink: 0 }), 'unlinked', 'unlinked before its fstat: still not the name\'s');
  assert.equal(afterRead(before, { ...before, ctimeMs: 2000, nlink: 2 }), 'changed', 'a change time moved by anything but the last unlink');
  assert.equal(afterRead({ ...before, nlink: 0 }, { ...before, ctimeMs: 2000, nlink: 0 }), 'unlinked', 'its last name taken: the link count falls before the change time is set');
  assert.equal(afterRead(before, { ...before, ctimeMs: 2000, mtimeMs: 2000, nlink: 0 }), 'changed', 'written, then unlinked');
  assert.equal(afterRead(before, { ...before, ctimeMs: 2000, size: 5, nlink: 0 }), 'changed', 'resized, then unlinked');
});

test('a small file renamed over while it is read is sent whole as the version it opened, and not cached', () => {
  const root = realpathSync(folder);
  const context: StaticContext = { resourcesRoot: root, uploadsRoot: join(root, 'uploads'), contentTable: contentTable({ inlineTypes: ['text/html'], downloadTypes: [] }), smallFileBytes: 64 * 1024, cacheControl: 'no-cache' };
  const path = join(root, 'replaced.html');
  writeFileSync(path, 'v1v1');
  const job: StaticJob = { kind: 'static', method: 'GET', path: '/replaced.html', conditions: {}, acceptEncoding: undefined, query: '', held: undefined };
  const fsModule = process.getBuiltinModule('node:fs');
  const readSync = fsModule.readSync;
  let replaced = false;
  fsModule.readSync = ((...args: Parameters<typeof readSync>) => {
    if (!replaced) {
      replaced = true;
      writeFileSync(join(root, 'replaced.next'), 'v2v2');
      renameSync(join(root, 'replaced.next'), path);
    }
    return readSync(...args);
  }) as typeof readSync;
  try {
    const result = serveStatic(job, context, UNWATCHED);
    assert.ok(replaced, 'the file was read');
    assert.equal(result.response.status, 200);
    assert.ok(result.response.body.kind === 'bytes');
    assert.equal(new TextDecoder().decode(result.response.body.bytes), 'v1v1');
    assert.equal(result.cacheable, undefined, 'no longer what its name serves');
  } finally {
    fsModule.readSync = readSync;
  }
  assert.equal(new TextDecoder().decode(serveStatic(job, context, UNWATCHED).cacheable!.bytes), 'v2v2');
});

test('a document root removed while serving answers 404, not a security refusal for the folder above it', () => {
  const root = join(realpathSync(folder), 'removed-root');
  const context: StaticContext = { resourcesRoot: root, uploadsRoot: join(root, 'uploads'), contentTable: contentTable({ inlineTypes: ['text/html'], downloadTypes: [] }), smallFileBytes: 64 * 1024, cacheControl: 'no-cache' };
  for (const path of ['/', '/index.html', '/uploads/', '/uploads/a.json']) {
    const result = serveStatic({ kind: 'static', method: 'GET', path, conditions: {}, acceptEncoding: undefined, query: '', held: undefined }, context, UNWATCHED);
    assert.equal(result.response.status, 404, path);
    assert.equal(result.response.refusal, undefined, path);
  }
});

test('a precompressed sibling stamped with its page\'s time cut to the second or to the millisecond is served; one a second older is not', () => {
  const root = join(realpathSync(folder), 'siblings');
  mkdirSync(root, { recursive: true });
  const context: StaticContext = { resourcesRoot: root, uploadsRoot: join(root, 'uploads'), contentTable: contentTable({ inlineTypes: ['text/html'], downloadTypes: [] }), smallFileBytes: 64 * 1024, cacheControl: 'no-cache' };
  const page = join(root, 'page.html');
  writeFileSync(page, '<p>page</p>');
  // Seconds with a fraction finer than a millisecond, as a file system with nanosecond stamps keeps them.
  utimesSync(page, 1_700_000_000.123456, 1_700_000_000.123456);
  const pageMs = statSync(page).mtimeMs;
  assert.notEqual(pageMs, Math.floor(pageMs), 'the page\'s time has a part finer than a millisecond');
  const cuts: Array<[string, number, string | undefined]> = [
    ['to the second (brotli, pigz)', Math.floor(pageMs / 1000) * 1000, 'gzip'],
    ['to the millisecond (utimes with a Date, fs.cp)', Math.floor(pageMs), 'gzip'],
    ['a second before the page\'s', Math.floor(pageMs / 1000) * 1000 - 1, undefined],
  ];
  for (const [cut, siblingMs, encoding] of cuts) {
    writeFileSync(`${page}.gz`, 'gzipped page');
    utimesSync(`${page}.gz`, new Date(siblingMs), new Date(siblingMs));
    const result = serveStatic({ kind: 'static', method: 'GET', path: '/page.html', conditions: {}, acceptEncoding: 'gzip', query: '', held: undefined }, context, UNWATCHED);
    assert.equal(result.response.status, 200, cut);
    assert.equal(result.response.headers.find(([name]) => name === 'Content-Encoding')?.[1], encoding, cut);
    assert.equal(result.log?.message, encoding === undefined ? 'precompressed file older than its page: not served' : undefined, cut);
  }
});

/** How many calls `run` makes into the handler's fs: Node's own module object, whose functions are replaced for the count. */
function fsCallsOf(run: () => void): number {
  const fsModule = process.getBuiltinModule('node:fs') as unknown as Record<string, unknown>;
  const realpathSync = fsModule.realpathSync as { native: (...args: unknown[]) => unknown };
  const replaced: Array<[Record<string, unknown>, string, unknown]> = [];
  let calls = 0;
  const count = (owner: Record<string, unknown>, key: string): void => {
    const original = owner[key] as (...args: unknown[]) => unknown;
    replaced.push([owner, key, original]);
    owner[key] = (...args: unknown[]) => {
      calls++;
      return original(...args);
    };
  };
  for (const key of Object.keys(fsModule)) if (key.endsWith('Sync') && key !== 'realpathSync' && typeof fsModule[key] === 'function') count(fsModule, key);
  count(realpathSync as unknown as Record<string, unknown>, 'native');
  try {
    run();
  } finally {
    for (const [owner, key, original] of replaced) owner[key] = original;
  }
  return calls;
}

test('a missing path thousands of folders deep is answered after a few fs calls, not one per folder, and still as its nearest existing folder', () => {
  const root = join(realpathSync(folder), 'deep-missing');
  const elsewhere = join(realpathSync(folder), 'deep-elsewhere');
  mkdirSync(join(root, 'present', '.hidden-folder'), { recursive: true });
  mkdirSync(elsewhere, { recursive: true });
  symlinkSync(elsewhere, join(root, 'out'));
  symlinkSync(join(root, 'present', '.hidden-folder'), join(root, 'shown'));
  const context: StaticContext = { resourcesRoot: root, uploadsRoot: join(root, 'uploads'), contentTable: contentTable({ inlineTypes: ['text/html'], downloadTypes: ['text/plain'] }), smallFileBytes: 64 * 1024, cacheControl: 'no-cache' };
  const missing = `${'a/'.repeat(4000)}x.txt`;
  const cases: Array<[string, number]> = [[`/${missing}`, 404], [`/present/${missing}`, 404], [`/out/${missing}`, 403], [`/shown/${missing}`, 403], ['/present/x.txt', 404], ['/out/x.txt', 403], ['/shown/x.txt', 403]];
  for (const [path, status] of cases) {
    let result: JobResult | undefined;
    const calls = fsCallsOf(() => (result = serveStatic({ kind: 'static', method: 'GET', path, conditions: {}, acceptEncoding: undefined, query: '', held: undefined }, context, UNWATCHED)));
    assert.equal(result!.response.status, status, path.slice(0, 20));
    assert.ok(calls < 20, `${path.slice(0, 20)}…: ${calls} fs calls`);
  }
});

test("the file system's root as the document root: files below it are served, hidden ones refused, uploads no-store", () => {
  const below = join(realpathSync(folder), 'below-slash');
  mkdirSync(join(below, 'uploads'), { recursive: true });
  mkdirSync(join(below, '.hidden-folder'));
  symlinkSync('.hidden-folder', join(below, 'shown'));
  writeFileSync(join(below, 'page.txt'), 'page');
  writeFileSync(join(below, '.env.txt'), 'TOKEN=1');
  symlinkSync('.env.txt', join(below, 'leak.txt'));
  writeFileSync(join(below, 'uploads', 'stored.json'), '{}');
  const context: StaticContext = { resourcesRoot: '/', uploadsRoot: join(below, 'uploads'), contentTable: contentTable({ inlineTypes: ['application/json'], downloadTypes: ['text/plain'] }), smallFileBytes: 64 * 1024, cacheControl: 'no-cache' };
  const answer = (path: string): JobResult => serveStatic({ kind: 'static', method: 'GET', path, conditions: {}, acceptEncoding: undefined, query: '', held: undefined }, context, UNWATCHED);
  assert.equal(answer(`${below}/page.txt`).response.status, 200);
  for (const name of ['.env.txt', 'leak.txt', 'shown/missing.txt']) assert.equal(answer(`${below}/${name}`).response.refusal, 'hidden_file', name);
  assert.equal(answer(`${below}/missing.txt`).response.status, 404);
  const upload = answer(`${below}/uploads/stored.json`);
  assert.equal(upload.response.status, 200);
  assert.equal(upload.response.headers.find(([name]) => name === 'Cache-Control')?.[1], 'no-store');
});

test('POST to a file is 405 with the methods a file allows, not 501: POST is a method we implement', () => {
  const root = realpathSync(folder);
  const context: StaticContext = { resourcesRoot: root, uploadsRoot: join(root, 'uploads'), contentTable: contentTable({ inlineTypes: ['text/html'], downloadTypes: [] }), smallFileBytes: 64 * 1024, cacheControl: 'no-cache' };
  writeFileSync(join(root, 'form.html'), 'page');
  const { response } = serveStatic({ kind: 'static', method: 'POST', path: '/form.html', conditions: {}, acceptEncoding: undefined, query: '', held: undefined }, context, UNWATCHED);
  assert.deepEqual([response.status, response.refusal, response.headers.find(([name]) => name === 'Allow')?.[1]], [405, 'method_not_allowed', 'GET, HEAD, OPTIONS']);
});
