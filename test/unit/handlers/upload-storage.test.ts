// Storing an upload when a file-system call fails at each step, through an injected fs: before
// the link nothing is stored and nothing is left; after it the answer always names the file.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { NODE_FS, watched, type StorageFs } from '../../../src/handlers/upload-storage.js';
import { isTemporary } from '../../../src/handlers/upload-temporaries.js';
import { namedUpload, storeUpload, watchingFsync } from '../../helpers/storage-fs.js';
import type { JobResult } from '../../../src/core/job.js';

const DOCUMENT = new TextEncoder().encode('{"name":"test","values":[1,2.5]}');
const UPLOAD_FILE = /^upload_\d{8}_\d{6}_[0-9a-f]{16}\.json$/;

function injected(code: string, syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected failure, ${syscall}`), { code, syscall });
}

/** node:fs, except that fsync of the uploads folder itself throws `code`. */
function folderFsyncFails(folder: string, code: string): StorageFs {
  return watchingFsync(folder, (isFolder) => {
    if (isFolder) throw injected(code, 'fsync');
  });
}

function bodyOf(result: JobResult): Record<string, unknown> {
  const { body } = result.response;
  assert.equal(body.kind, 'bytes');
  return JSON.parse(new TextDecoder().decode(body.kind === 'bytes' ? body.bytes : undefined)) as Record<string, unknown>;
}

describe('storing an upload when the file system fails', () => {
  let folder = '';
  const upload = (fs: StorageFs): JobResult => storeUpload(namedUpload(DOCUMENT), { uploadsRoot: folder, minFreeDiskBytes: 0 }, fs);
  const files = (): string[] => readdirSync(folder).sort();
  const temporaries = (): string[] => files().filter(isTemporary);

  /** The one stored document: its name, after checking it holds exactly the bytes sent. */
  function storedName(): string {
    const stored = files().filter((name) => UPLOAD_FILE.test(name));
    assert.equal(stored.length, 1, `one stored document expected in ${JSON.stringify(files())}`);
    assert.ok(readFileSync(join(folder, stored[0]!)).equals(DOCUMENT));
    return stored[0]!;
  }

  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'rawhttp-storage-'));
  });
  afterEach(() => rmSync(folder, { recursive: true, force: true }));

  test('nothing fails: 201 naming the file, logged at info, no temporary left', () => {
    const result = upload(NODE_FS);
    const name = storedName();
    assert.equal(result.response.status, 201);
    assert.deepEqual(bodyOf(result), { status: 'success', message: 'File created successfully', filepath: `/uploads/${name}` });
    assert.equal(result.log?.level, 'info');
    assert.deepEqual(temporaries(), []);
  });

  test('the folder fsync fails: 500 whose JSON body names the stored file, an error log, no temporary left', () => {
    const result = upload(folderFsyncFails(folder, 'EIO'));
    const name = storedName();
    assert.equal(result.response.status, 500);
    assert.deepEqual(bodyOf(result), { status: 'error', message: 'stored but not confirmed durable', filepath: `/uploads/${name}` });
    assert.equal(result.response.headers.find(([field]) => field === 'Location'), undefined, 'no Location: this is not a 201');
    assert.equal(result.storedBytes, DOCUMENT.length);
    assert.equal(result.log?.level, 'error');
    assert.equal(result.log?.fields?.file, name);
    assert.equal(result.log?.fields?.code, 'EIO');
    assert.match(String(result.log?.fields?.error), /injected failure, fsync/);
    assert.deepEqual(temporaries(), []);
  });

  test('a file system that cannot fsync a folder (EINVAL): 201, noted in a warn log', () => {
    const result = upload(folderFsyncFails(folder, 'EINVAL'));
    const name = storedName();
    assert.equal(result.response.status, 201);
    assert.equal(bodyOf(result).filepath, `/uploads/${name}`);
    assert.equal(result.log?.level, 'warn');
    assert.match(String(result.log?.fields?.notes), /cannot fsync a folder \(EINVAL\)/);
  });

  test('the temporary cannot be removed: 201 naming the file, the temporary left for the next start, a warn log', () => {
    const result = upload({ ...NODE_FS, rmSync: () => { throw injected('EACCES', 'unlink'); } });
    const name = storedName();
    assert.equal(result.response.status, 201);
    assert.equal(bodyOf(result).filepath, `/uploads/${name}`);
    assert.equal(temporaries().length, 1);
    assert.equal(result.log?.level, 'warn');
    assert.match(String(result.log?.fields?.notes), /not removed \(EACCES\); removed at the next start/);
  });

  test('the link fails: a plain 500, nothing stored, no temporary left', () => {
    const result = upload({ ...NODE_FS, linkSync: () => { throw injected('EIO', 'link'); } });
    assert.equal(result.response.status, 500);
    assert.match(result.response.headers.find(([field]) => field === 'Content-Type')?.[1] ?? '', /text\/html/);
    assert.equal(result.storedBytes, undefined);
    assert.equal(result.log?.level, 'error');
    assert.equal(result.log?.message, 'upload failed');
    assert.deepEqual(files(), []);
  });

  test('the data fsync fails: a plain 500, nothing stored, no temporary left', () => {
    const result = upload({ ...NODE_FS, fsyncSync: () => { throw injected('EIO', 'fsync'); } });
    assert.equal(result.response.status, 500);
    assert.equal(result.storedBytes, undefined);
    assert.deepEqual(files(), []);
  });

  test('the disk is full while writing: 507, nothing stored, no temporary left', () => {
    const result = upload({ ...NODE_FS, writeSync: () => { throw injected('ENOSPC', 'write'); } });
    assert.equal(result.response.status, 507);
    assert.equal(result.log?.level, 'warn');
    assert.deepEqual(files(), []);
  });

  test('the folder now leads elsewhere (replaced by a link): 500 before anything is written, an error log naming both paths', () => {
    const elsewhere = join(folder, 'elsewhere');
    const opened: string[] = [];
    const openSync: StorageFs['openSync'] = (path, flags, mode) => {
      opened.push(path);
      return NODE_FS.openSync(path, flags, mode);
    };
    const result = upload({ ...NODE_FS, realpathSync: { native: () => elsewhere }, openSync });
    assert.equal(result.response.status, 500);
    assert.equal(result.storedBytes, undefined);
    assert.deepEqual(opened, [], 'nothing opened, so nothing written');
    assert.equal(result.log?.level, 'error');
    assert.equal(result.log?.message, 'upload failed: UPLOADS_DIR now leads elsewhere');
    assert.deepEqual(result.log?.fields, { folder, now: elsewhere });
    assert.equal(result.log?.oncePerSecond, true);
  });

  test('the folder is gone: the plain 500 of a storage failure, with its code', () => {
    const result = upload({ ...NODE_FS, realpathSync: { native: () => { throw injected('ENOENT', 'realpath'); } } });
    assert.equal(result.response.status, 500);
    assert.equal(result.log?.message, 'upload failed');
    assert.equal(result.log?.fields?.code, 'ENOENT');
    assert.deepEqual(files(), []);
  });
});

describe('watched', () => {
  test("reports each descriptor and forgets it before the close, and runs none of node:fs's lazy getters (fs.promises, the streams), which would load their modules in the worker", () => {
    let gettersRun = 0;
    // node:fs's own properties, with an enumerable getter as node:fs has: a spread would run it.
    const lazy = Object.defineProperties({}, { ...Object.getOwnPropertyDescriptors(NODE_FS), promises: { get: () => (gettersRun++, {}), enumerable: true } }) as StorageFs;
    const events: string[] = [];
    const storage = watched(lazy, { opened: (fd) => events.push(`opened ${fd}`), closing: (fd) => events.push(`closing ${fd}`) });
    const dir = mkdtempSync(join(tmpdir(), 'rawhttp-watched-'));
    try {
      const fd = storage.openSync(join(dir, 'file'), 'wx');
      storage.writeSync(fd, DOCUMENT, 0, DOCUMENT.length);
      storage.closeSync(fd);
      assert.deepEqual(events, [`opened ${fd}`, `closing ${fd}`]);
      assert.equal(readFileSync(join(dir, 'file'), 'utf8'), new TextDecoder().decode(DOCUMENT));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(gettersRun, 0);
  });
});
