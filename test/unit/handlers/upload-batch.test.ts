// Group commit: the uploads of one batch share one folder fsync, and none is answered 201
// before it. Through an injected fs that records the order of the calls.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { JobResult, WorkerJob } from '../../../src/core/job.js';
import { doBatch, type BatchReport, type WorkContext } from '../../../src/handlers/work.js';
import { NODE_FS, type StorageFs } from '../../../src/handlers/upload-storage.js';
import { namedUpload, watchingFsync } from '../../helpers/storage-fs.js';

const DOCUMENT = new TextEncoder().encode('{"n":1}');
/** A job owns its body, as one moved to a worker does (core/job.ts): each gets its own copy. */
const upload = (body: Uint8Array = DOCUMENT): WorkerJob => namedUpload(body.slice());

/** node:fs that logs 'file-fsync', 'link' and 'folder-fsync' in order, and can fail the folder fsync. */
function recordingFs(folder: string, calls: string[], folderFsyncError: string | null = null): StorageFs {
  return watchingFsync(
    folder,
    (isFolder) => {
      calls.push(isFolder ? 'folder-fsync' : 'file-fsync');
      if (isFolder && folderFsyncError !== null) throw Object.assign(new Error(`${folderFsyncError}: injected`), { code: folderFsyncError });
    },
    {
      linkSync: (from, to) => {
        calls.push('link');
        NODE_FS.linkSync(from, to);
      },
    },
  );
}

/** Where `fd` points now, or null when it is closed. */
const target = (fd: number): string | null => {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
};

/** Records what a batch reports; `descriptors`: each open and each close announced, with where the descriptor pointed then. */
const silentReport = (): BatchReport & { notes: string[]; started: number[]; descriptors: string[] } => {
  const notes: string[] = [];
  const started: number[] = [];
  const descriptors: string[] = [];
  return {
    notes,
    started,
    descriptors,
    starting: (index) => started.push(index),
    note: (index, note) => notes.push(`${index}:${note}`),
    finished: () => undefined,
    opened: (fd) => descriptors.push(`opened ${target(fd)}`),
    closing: (fd) => descriptors.push(`closing ${target(fd)}`),
  };
};

describe('a batch of uploads (group commit)', () => {
  let folder = '';
  let context: WorkContext;
  const stored = (): string[] => readdirSync(folder).filter((name) => name.endsWith('.json')).sort();
  const statuses = (results: JobResult[]): number[] => results.map((result) => result.response.status);

  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'rawhttp-batch-'));
    context = { uploadsRoot: folder, minFreeDiskBytes: 0 } as WorkContext;
  });
  afterEach(() => rmSync(folder, { recursive: true, force: true }));

  test('four uploads: four file fsyncs and links, then one folder fsync, then four 201s', () => {
    const calls: string[] = [];
    const report = silentReport();
    const results = doBatch([upload(), upload(), upload(), upload()], context, report, recordingFs(folder, calls));
    assert.deepEqual(statuses(results), [201, 201, 201, 201]);
    assert.deepEqual(calls, ['file-fsync', 'link', 'file-fsync', 'link', 'file-fsync', 'link', 'file-fsync', 'link', 'folder-fsync']);
    assert.equal(stored().length, 4);
    assert.deepEqual(report.started, [0, 1, 2, 3]);
    // Each name is noted as soon as it is linked, so a worker dying before the folder fsync is answered with it.
    assert.equal(report.notes.length, 4);
  });

  test('every descriptor the uploads open is reported, and reported closing while it is still open', () => {
    const report = silentReport();
    const jobs = [upload(), upload()];
    const temporaries = jobs.map((job) => (job.kind === 'upload' ? join(folder, job.temporary) : ''));
    doBatch(jobs, context, report, recordingFs(folder, []));
    // The pool closes what is reported open and not yet closing: a closed descriptor must never be among them.
    assert.deepEqual(report.descriptors, [
      `opened ${temporaries[0]}`,
      `closing ${temporaries[0]}`,
      `opened ${temporaries[1]}`,
      `closing ${temporaries[1]}`,
      `opened ${folder}`,
      `closing ${folder}`,
    ]);
  });

  test('an invalid upload in the batch gets its 400 and takes no part in the commit', () => {
    const calls: string[] = [];
    const results = doBatch([upload(), upload(new TextEncoder().encode('{')), upload()], context, silentReport(), recordingFs(folder, calls));
    assert.deepEqual(statuses(results), [201, 400, 201]);
    assert.equal(calls.filter((call) => call === 'folder-fsync').length, 1);
    assert.equal(stored().length, 2);
  });

  test('each upload\'s body is freed as soon as it is stored or refused, not at the next collection', () => {
    const jobs = [upload(), upload(new TextEncoder().encode('{'))];
    doBatch(jobs, context, silentReport(), recordingFs(folder, []));
    for (const job of jobs) assert.ok(job.kind === 'upload' && job.body.buffer.byteLength === 0, 'the body buffer is detached');
  });

  test('a batch without a stored upload syncs no folder', () => {
    const calls: string[] = [];
    const results = doBatch([upload(new Uint8Array())], context, silentReport(), recordingFs(folder, calls));
    assert.deepEqual(statuses(results), [400]);
    assert.deepEqual(calls, []);
  });

  test('the shared folder fsync fails: every upload of the batch is a 500 naming its own file', () => {
    const results = doBatch([upload(), upload()], context, silentReport(), recordingFs(folder, [], 'EIO'));
    assert.deepEqual(statuses(results), [500, 500]);
    const named = results.map((result) => {
      const body = result.response.body;
      assert.equal(body.kind, 'bytes');
      return (JSON.parse(new TextDecoder().decode(body.kind === 'bytes' ? body.bytes : undefined)) as { filepath: string }).filepath;
    });
    assert.deepEqual(named.map((path) => path.replace('/uploads/', '')).sort(), stored());
  });
});
