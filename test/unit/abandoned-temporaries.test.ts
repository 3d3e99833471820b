// The sweep of abandoned upload temporaries reads the uploads folder a buffer at a time, so its
// memory does not grow with the uploads stored; it removes exactly what is provably abandoned,
// never an upload of this process in flight; a shutdown stops it; a folder it cannot read is
// logged, not thrown.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { pino, type Logger } from 'pino';
import { SWEEP_BUFFER_ENTRIES, TemporarySweep, type SweepFs } from '../../src/abandoned-temporaries.js';
import { OneAtATime } from '../../src/core/one-at-a-time.js';
import { temporaryName, thisProcess } from '../../src/handlers/upload-temporaries.js';

const JOB_TIMEOUT_MS = 2000;
const self = thisProcess();
const HOUR_AGO = (Date.now() - 3600_000) / 1000;
/** A name of this process's, as an earlier life of it (PID 1 again in a restarted container) wrote it. */
const own = (i: number): string => temporaryName(self, i.toString(16).padStart(24, '0'));
const upload = (i: number): string => `upload_20261205_120000_${i.toString(16).padStart(16, '0')}.json`;

type Line = { msg: string; file?: string; code?: string; entries?: number; removed?: number; left?: number; stopped?: boolean };

let folder: string;
let logged: Line[];
let log: Logger;

beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'rawhttp-sweep-'));
  logged = [];
  log = pino({ level: 'info' }, { write: (line: string) => logged.push(JSON.parse(line) as Line) });
});

afterEach(() => rmSync(folder, { recursive: true, force: true }));

/**
 * A folder of `size` entries, made as they are read: every 100th is an abandoned temporary.
 * `read` counts the entries handed out so far; `removed` what was unlinked.
 */
function generatedFolder(size: number): { fs: SweepFs; read: () => number; removed: string[]; bufferSizes: number[] } {
  let read = 0;
  const removed: string[] = [];
  const bufferSizes: number[] = [];
  async function* entries(): AsyncGenerator<{ name: string }> {
    for (let i = 0; i < size; i++) {
      read++;
      yield { name: i % 100 === 0 ? own(i) : upload(i) };
    }
  }
  const fs: SweepFs = {
    opendir: async (_path, options) => {
      bufferSizes.push(options.bufferSize);
      return entries();
    },
    stat: async () => ({ mtimeMs: Date.now() }),
    unlink: async (path) => {
      removed.push(path);
    },
  };
  return { fs, read: () => read, removed, bufferSizes };
}

test('the folder is read as the sweep goes, a bounded buffer at a time, never listed whole first', async () => {
  const size = 100 * SWEEP_BUFFER_ENTRIES;
  const folderFs = generatedFolder(size);
  const readAtEachRemoval: number[] = [];
  const fs: SweepFs = {
    ...folderFs.fs,
    unlink: async (path) => {
      readAtEachRemoval.push(folderFs.read());
      await folderFs.fs.unlink(path);
    },
  };
  const count = await TemporarySweep.start({ uploadsDir: folder, jobTimeoutMs: JOB_TIMEOUT_MS, log, inFlight: () => false, fs }).ended;
  assert.deepEqual(count, { entries: size, removed: size / 100, left: 0 });
  assert.deepEqual(folderFs.bufferSizes, [SWEEP_BUFFER_ENTRIES]);
  assert.ok(SWEEP_BUFFER_ENTRIES <= 1024, 'the buffer is small beside a folder of millions of uploads');
  // The first temporary is removed before the entries after it have been read.
  assert.equal(readAtEachRemoval[0], 1);
  readAtEachRemoval.forEach((read, i) => assert.equal(read, i * 100 + 1));
});

test('exactly the abandoned temporaries go among 20 000 files, never an upload of this process in flight', async () => {
  const kept: string[] = [];
  const abandoned: string[] = [];
  const inFlight = new Set<string>();
  for (let i = 0; i < 20_000; i++) {
    const name = i % 40 === 0 ? own(i) : upload(i);
    writeFileSync(join(folder, name), '');
    if (name === upload(i)) kept.push(name);
    else if (i % 80 === 0) {
      inFlight.add(name);
      kept.push(name);
    } else abandoned.push(name);
  }
  // Another replica's upload in progress, and one of a replica that died an hour ago.
  const live = `.upload-other-pod-42-${'e'.repeat(24)}.tmp`;
  const dead = `.upload-other-pod-43-${'f'.repeat(24)}.tmp`;
  writeFileSync(join(folder, live), '{"half":');
  writeFileSync(join(folder, dead), '{"half":');
  utimesSync(join(folder, dead), HOUR_AGO, HOUR_AGO);
  kept.push(live);
  abandoned.push(dead);

  const count = await TemporarySweep.start({ uploadsDir: folder, jobTimeoutMs: JOB_TIMEOUT_MS, log, inFlight: (name) => inFlight.has(name) }).ended;
  assert.deepEqual(count, { entries: 20_002, removed: abandoned.length, left: 0 });
  assert.deepEqual(readdirSync(folder).sort(), kept.sort());
  assert.deepEqual(logged.filter((line) => line.msg === 'removed a stale upload temporary').map((line) => line.file).sort(), abandoned.sort());
  assert.deepEqual(logged.at(-1), { ...logged.at(-1), msg: 'stale upload temporaries swept', entries: 20_002, removed: abandoned.length, left: 0, stopped: false });
});

test('a temporary that cannot be removed is logged and left, and the sweep goes on', async () => {
  for (const i of [0, 1, 2]) writeFileSync(join(folder, own(i)), '');
  const fs: SweepFs = {
    opendir: (path, options) => import('node:fs/promises').then(({ opendir }) => opendir(path, options)),
    stat: async () => ({ mtimeMs: Date.now() }),
    unlink: async (path) => {
      if (path.endsWith(own(1))) throw Object.assign(new Error('EPERM'), { code: 'EPERM' });
      rmSync(path);
    },
  };
  const count = await TemporarySweep.start({ uploadsDir: folder, jobTimeoutMs: JOB_TIMEOUT_MS, log, inFlight: () => false, fs }).ended;
  assert.deepEqual(count, { entries: 3, removed: 2, left: 1 });
  assert.deepEqual(readdirSync(folder), [own(1)]);
  const left = logged.find((line) => line.msg === 'cannot remove a stale upload temporary; left in place');
  assert.deepEqual([left?.file, left?.code], [own(1), 'EPERM']);
});

test('a stopped sweep ends after the entry in hand', async () => {
  const folderFs = generatedFolder(10 * SWEEP_BUFFER_ENTRIES);
  let sweep: TemporarySweep | null = null;
  const fs: SweepFs = {
    ...folderFs.fs,
    unlink: async (path) => {
      await folderFs.fs.unlink(path);
      void sweep?.stop();
    },
  };
  sweep = TemporarySweep.start({ uploadsDir: folder, jobTimeoutMs: JOB_TIMEOUT_MS, log, inFlight: () => false, fs });
  const count = await sweep.ended;
  assert.deepEqual(count, { entries: 1, removed: 1, left: 0 });
  assert.equal(folderFs.read(), 2);
  assert.equal(logged.at(-1)?.stopped, true);
});

test('a folder that cannot be read, at once or midway, is logged and the sweep ends without throwing', async () => {
  const unreadable: SweepFs = {
    opendir: async () => {
      throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
    },
    stat: async () => ({ mtimeMs: 0 }),
    unlink: async () => {},
  };
  assert.deepEqual(await TemporarySweep.start({ uploadsDir: folder, jobTimeoutMs: JOB_TIMEOUT_MS, log, inFlight: () => false, fs: unreadable }).ended, { entries: 0, removed: 0, left: 0 });
  async function* failingMidway(): AsyncGenerator<{ name: string }> {
    yield { name: own(0) };
    throw Object.assign(new Error('EIO'), { code: 'EIO' });
  }
  const failing: SweepFs = { ...unreadable, opendir: async () => failingMidway() };
  assert.deepEqual(await TemporarySweep.start({ uploadsDir: folder, jobTimeoutMs: JOB_TIMEOUT_MS, log, inFlight: () => false, fs: failing }).ended, { entries: 1, removed: 1, left: 0 });
  const failures = logged.filter((line) => line.msg === 'cannot read the uploads folder to remove stale upload temporaries; the rest are left for the next start');
  assert.deepEqual(failures.map((line) => [line.code, line.entries]), [['EACCES', 0], ['EIO', 1]]);
});

test('the sweep makes each call on the folder in its turn of the calls it shares: none while another call on the folder runs', async () => {
  const folderFs = generatedFolder(3 * SWEEP_BUFFER_ENTRIES);
  const calls: string[] = [];
  const counted: SweepFs = {
    opendir: async (path, options) => {
      calls.push('opendir');
      return folderFs.fs.opendir(path, options);
    },
    stat: async (path) => {
      calls.push('stat');
      return folderFs.fs.stat(path);
    },
    unlink: async (path) => {
      calls.push('unlink');
      return folderFs.fs.unlink(path);
    },
  };
  const folderCalls = new OneAtATime();
  // Another call on the folder (a stopped upload's removal on a hung mount) holds the turn.
  let releaseOther = (): void => undefined;
  void folderCalls.run(() => new Promise<void>((resolve) => (releaseOther = resolve)));
  const sweep = TemporarySweep.start({ uploadsDir: folder, jobTimeoutMs: JOB_TIMEOUT_MS, log, inFlight: () => false, fs: counted, folderCalls });
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(calls, [], 'the sweep has not touched the folder while the other call runs');
  releaseOther();
  assert.deepEqual(await sweep.ended, { entries: 3 * SWEEP_BUFFER_ENTRIES, removed: Math.ceil((3 * SWEEP_BUFFER_ENTRIES) / 100), left: 0 });
  assert.equal(calls[0], 'opendir');
});
