// The main thread names each upload's temporary when it hands the job to the pool, and removes
// exactly that file when the job's worker stopped: at once, whatever other uploads are doing.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { pino } from 'pino';
import type { Job, JobResult, NamedUploadJob, WorkerJob } from '../../src/core/job.js';
import { OneAtATime } from '../../src/core/one-at-a-time.js';
import { ownerOf, temporaryName, thisProcess } from '../../src/handlers/upload-temporaries.js';
import type { JobCallback, JobFailure, JobOutcome, JobRunner } from '../../src/pool/pool.js';
import { UploadLeftovers } from '../../src/upload-leftovers.js';
import { waitFor } from '../fixtures/probes.js';

/** A runner that holds every job until the test ends it. */
class HeldJobs implements JobRunner<WorkerJob, JobResult> {
  readonly jobs: WorkerJob[] = [];
  readonly held: JobCallback<JobResult>[] = [];
  submit(job: WorkerJob, done: JobCallback<JobResult>): boolean {
    this.jobs.push(job);
    this.held.push(done);
    return true;
  }
  fail(index: number, failure: JobFailure, note: string | null = null): void {
    this.held[index]!({ ok: false, failure, error: new Error(failure), workerId: 1, note });
  }
  succeed(index: number): void {
    this.held[index]!({ ok: true, result: { response: { status: 201, headers: [], contentLength: 0, body: { kind: 'bytes', bytes: new Uint8Array(0) } } }, workerId: 1 });
  }
  /** The temporary the upload at `index` was given. */
  temporary(index: number): string {
    return (this.jobs[index] as NamedUploadJob).temporary;
  }
}

const UPLOAD: Job = { kind: 'upload', body: new Uint8Array(0) };
const STATIC: Job = { kind: 'static', method: 'GET', path: '/', conditions: {}, acceptEncoding: undefined, query: '' };
const self = thisProcess();
/** Files no removal may touch: this process's and others' temporaries no job here was given, a stored upload. */
const OTHERS = [
  temporaryName(self, 'a'.repeat(24)),
  temporaryName({ ...self, pid: self.pid + 1 }, 'b'.repeat(24)),
  `.upload-${'d'.repeat(24)}.tmp`,
  'upload_20261205_120000_0123456789abcdef.json',
].sort();

let folder: string;
let jobs: HeldJobs;
let leftovers: UploadLeftovers;
let logged: { msg: string; file?: string; code?: string }[];

beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'rawhttp-leftovers-'));
  for (const name of OTHERS) writeFileSync(join(folder, name), '{}');
  jobs = new HeldJobs();
  logged = [];
  leftovers = new UploadLeftovers(jobs, folder, pino({ level: 'warn' }, { write: (line: string) => logged.push(JSON.parse(line)) }));
});

afterEach(() => rmSync(folder, { recursive: true, force: true }));

const remaining = (): string[] => readdirSync(folder).sort();
/** Submits an upload and writes its temporary, as its worker would. */
function uploadWithTemporary(): string {
  leftovers.submit(UPLOAD, () => undefined);
  const name = jobs.temporary(jobs.jobs.length - 1);
  writeFileSync(join(folder, name), '{"partial');
  return name;
}
/** Resolves once the removal of `name` is done (and logged). */
const removed = (name: string): Promise<void> => waitFor(() => logged.some((line) => line.file === name), `${name} removed`, 2000);
/** Gives a removal that should not happen the time to show itself. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 100));

test('each upload goes to the pool with a temporary of its own, named for this process; a static job goes as it is', () => {
  leftovers.submit(UPLOAD, () => undefined);
  leftovers.submit(UPLOAD, () => undefined);
  leftovers.submit(STATIC, () => undefined);
  const [first, second] = [jobs.temporary(0), jobs.temporary(1)];
  assert.notEqual(first, second);
  const ours = ownerOf(temporaryName(self, 'e'.repeat(24)));
  for (const name of [first, second]) assert.deepEqual(ownerOf(name), ours);
  assert.equal(jobs.jobs[0]!.kind === 'upload' && jobs.jobs[0]!.body, UPLOAD.body);
  assert.equal(jobs.jobs[2], STATIC);
});

for (const failure of ['crashed', 'timed-out', 'lost'] as const) {
  test(`an upload that fails as ${failure} has exactly its temporary removed`, async () => {
    const name = uploadWithTemporary();
    jobs.fail(0, failure);
    await removed(name);
    assert.deepEqual(remaining(), OTHERS);
    assert.deepEqual(logged.map((line) => [line.msg, line.file]), [['removed the temporary of an upload whose worker stopped', name]]);
  });
}

test('uploads still being stored do not delay the removal, and keep their temporaries', async () => {
  const stopped = uploadWithTemporary();
  const running = [uploadWithTemporary(), uploadWithTemporary()];
  jobs.fail(0, 'timed-out');
  await removed(stopped);
  // A new upload began meanwhile, and none has finished.
  const started = uploadWithTemporary();
  assert.deepEqual(remaining(), [...OTHERS, ...running, started].sort());
});

test('an upload linked before its worker stopped keeps its document, and its temporary goes', async () => {
  const temporary = uploadWithTemporary();
  const linked = 'upload_20261205_120001_fedcba9876543210.json';
  writeFileSync(join(folder, linked), '{}');
  jobs.fail(0, 'crashed', linked);
  await removed(temporary);
  assert.deepEqual(remaining(), [...OTHERS, linked].sort());
});

test('a temporary the stopped worker never created (or had removed) is no error and logs nothing', async () => {
  leftovers.submit(UPLOAD, () => undefined);
  jobs.fail(0, 'crashed');
  await leftovers.removeRemaining();
  assert.deepEqual(remaining(), OTHERS);
  assert.deepEqual(logged, []);
});

test('a temporary that cannot be removed is logged and left for the next start', async () => {
  leftovers.submit(UPLOAD, () => undefined);
  const name = jobs.temporary(0);
  // A folder under the name: unlink refuses it.
  mkdirSync(join(folder, name));
  jobs.fail(0, 'crashed');
  await leftovers.removeRemaining();
  assert.ok(remaining().includes(name));
  assert.equal(logged[0]?.msg, 'cannot remove the temporary of an upload whose worker stopped; removed at the next start');
  assert.equal(logged[0]?.file, name);
});

test('failures no worker held the upload through, a stored upload and a static job remove nothing', async () => {
  const failures: JobFailure[] = ['queue-timeout', 'closed'];
  const names = failures.map(() => uploadWithTemporary());
  failures.forEach((failure, index) => jobs.fail(index, failure));
  names.push(uploadWithTemporary());
  jobs.succeed(2);
  leftovers.submit(STATIC, () => undefined);
  jobs.fail(3, 'crashed');
  await settle();
  assert.deepEqual(remaining(), [...OTHERS, ...names].sort());
});

test('an upload that failed as not run loses its temporary too: a timed-out worker may have begun it', async () => {
  uploadWithTemporary();
  jobs.fail(0, 'not-run');
  await settle();
  assert.deepEqual(remaining(), [...OTHERS].sort());
});

test('the outcome reaches the caller as it came, and a job the runner refuses is refused', () => {
  const outcomes: JobOutcome<JobResult>[] = [];
  leftovers.submit(UPLOAD, (outcome) => outcomes.push(outcome));
  jobs.fail(0, 'not-run');
  assert.equal(outcomes.length, 1);
  assert.equal(!outcomes[0]!.ok && outcomes[0]!.failure, 'not-run');
  const refusing: JobRunner<WorkerJob, JobResult> = { submit: () => false };
  assert.equal(new UploadLeftovers(refusing, folder, pino({ level: 'silent' })).submit(UPLOAD, () => undefined), false);
});

test('at the end of a shutdown the temporaries of uploads still without an outcome go (their worker is stuck), and nothing else', async () => {
  const stuck = uploadWithTemporary();
  const done = uploadWithTemporary();
  jobs.succeed(1);
  await leftovers.removeRemaining();
  assert.deepEqual(remaining(), [...OTHERS, done].sort());
  assert.deepEqual(logged.map((line) => line.file), [stuck]);
});

test('an upload is in flight from its hand-over until its outcome, whatever the outcome', () => {
  leftovers.submit(UPLOAD, () => {});
  leftovers.submit(UPLOAD, () => {});
  const [first, second] = [jobs.temporary(0), jobs.temporary(1)];
  assert.deepEqual([leftovers.isInFlight(first), leftovers.isInFlight(second)], [true, true]);
  jobs.succeed(0);
  jobs.fail(1, 'crashed');
  assert.deepEqual([leftovers.isInFlight(first), leftovers.isInFlight(second)], [false, false]);
  assert.equal(leftovers.isInFlight(OTHERS[0]!), false);
});

test('a removal waits its turn of the calls on the folder it shares with the sweep', async () => {
  const folderCalls = new OneAtATime();
  leftovers = new UploadLeftovers(jobs, folder, pino({ level: 'warn' }, { write: (line: string) => logged.push(JSON.parse(line)) }), folderCalls);
  let releaseOther = (): void => undefined;
  void folderCalls.run(() => new Promise<void>((resolve) => (releaseOther = resolve)));
  const name = uploadWithTemporary();
  jobs.fail(0, 'crashed');
  await settle();
  assert.ok(remaining().includes(name), 'not removed while another call on the folder runs');
  releaseOther();
  await removed(name);
  assert.ok(!remaining().includes(name));
});
