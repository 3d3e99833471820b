// The main thread removes the temporaries of uploads whose worker stopped: its own only, and
// only once no upload is being stored, since it cannot tell which temporary a running one writes.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { pino } from 'pino';
import type { Job, JobResult } from '../../src/core/job.js';
import { temporaryName, thisProcess } from '../../src/handlers/upload-temporaries.js';
import type { JobCallback, JobFailure, JobOutcome, JobRunner } from '../../src/pool/pool.js';
import { UploadLeftovers } from '../../src/upload-leftovers.js';
import { waitFor } from '../fixtures/probes.js';

/** A runner that holds every job until the test ends it. */
class HeldJobs implements JobRunner<Job, JobResult> {
  readonly held: JobCallback<JobResult>[] = [];
  submit(_job: Job, done: JobCallback<JobResult>): boolean {
    this.held.push(done);
    return true;
  }
  fail(index: number, failure: JobFailure): void {
    this.held[index]!({ ok: false, failure, error: new Error(failure), workerId: 1, note: null });
  }
  succeed(index: number): void {
    this.held[index]!({ ok: true, result: { response: { status: 201, headers: [], contentLength: 0, body: { kind: 'bytes', bytes: new Uint8Array(0) } } }, workerId: 1 });
  }
}

const UPLOAD: Job = { kind: 'upload', body: new Uint8Array(0) };
const STATIC: Job = { kind: 'static', method: 'GET', path: '/', conditions: {}, acceptEncoding: undefined, query: '' };
const self = thisProcess();
const OWN = temporaryName(self, 'a'.repeat(24));
/** What is not this process's temporary: another process's, another host's, an owner-less one, a stored upload. */
const OTHERS = [
  temporaryName({ ...self, pid: self.pid + 1 }, 'b'.repeat(24)),
  temporaryName({ host: `${self.host}x`, pid: self.pid }, 'c'.repeat(24)),
  `.upload-${'d'.repeat(24)}.tmp`,
  'upload_20261205_120000_0123456789abcdef.json',
].sort();

let folder: string;
let jobs: HeldJobs;
let leftovers: UploadLeftovers;

beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'rawhttp-leftovers-'));
  for (const name of [OWN, ...OTHERS]) writeFileSync(join(folder, name), '{}');
  jobs = new HeldJobs();
  leftovers = new UploadLeftovers(jobs, folder, pino({ level: 'silent' }));
});

afterEach(() => rmSync(folder, { recursive: true, force: true }));

const remaining = (): string[] => readdirSync(folder).sort();
const ownRemoved = (): Promise<void> => waitFor(() => !readdirSync(folder).includes(OWN), 'the temporary removed', 2000);
/** Gives a sweep that should not happen the time to show itself. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 100));

for (const failure of ['crashed', 'timed-out', 'lost'] as const) {
  test(`an upload that fails as ${failure} has its process's temporaries removed, and nothing else`, async () => {
    assert.equal(leftovers.submit(UPLOAD, () => undefined), true);
    jobs.fail(0, failure);
    await ownRemoved();
    assert.deepEqual(remaining(), OTHERS);
  });
}

test('while another upload is being stored nothing is removed; once it is done, the leftover goes', async () => {
  leftovers.submit(UPLOAD, () => undefined);
  leftovers.submit(UPLOAD, () => undefined);
  jobs.fail(0, 'timed-out');
  await settle();
  assert.deepEqual(remaining(), [OWN, ...OTHERS].sort());
  jobs.succeed(1);
  await ownRemoved();
  assert.deepEqual(remaining(), OTHERS);
});

test('an upload that begins while the folder is being listed keeps the listing from being used: its temporary could be in it', async () => {
  leftovers.submit(UPLOAD, () => undefined);
  // The failure starts a sweep, whose listing is on its way when the next upload begins.
  jobs.fail(0, 'crashed');
  leftovers.submit(UPLOAD, () => undefined);
  await settle();
  assert.deepEqual(remaining(), [OWN, ...OTHERS].sort());
  jobs.succeed(1);
  await ownRemoved();
  assert.deepEqual(remaining(), OTHERS);
});

test('failures no worker held the upload through, a stored upload and a static job remove nothing', async () => {
  const failures: JobFailure[] = ['not-run', 'queue-timeout', 'closed'];
  failures.forEach(() => leftovers.submit(UPLOAD, () => undefined));
  failures.forEach((failure, index) => jobs.fail(index, failure));
  leftovers.submit(UPLOAD, () => undefined);
  jobs.succeed(3);
  leftovers.submit(STATIC, () => undefined);
  jobs.fail(4, 'crashed');
  await settle();
  assert.deepEqual(remaining(), [OWN, ...OTHERS].sort());
});

test('the outcome reaches the caller as it came, and a job the runner refuses is refused', () => {
  const outcomes: JobOutcome<JobResult>[] = [];
  leftovers.submit(UPLOAD, (outcome) => outcomes.push(outcome));
  jobs.fail(0, 'not-run');
  assert.equal(outcomes.length, 1);
  assert.equal(!outcomes[0]!.ok && outcomes[0]!.failure, 'not-run');
  const refusing: JobRunner<Job, JobResult> = { submit: () => false };
  assert.equal(new UploadLeftovers(refusing, folder, pino({ level: 'silent' })).submit(UPLOAD, () => undefined), false);
});

test('at shutdown every temporary of the process goes, even one an upload in flight writes', async () => {
  leftovers.submit(UPLOAD, () => undefined);
  await leftovers.removeAll();
  assert.deepEqual(remaining(), OTHERS);
});
