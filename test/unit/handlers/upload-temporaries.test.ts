import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { CLOCK_MARGIN_MS, isAbandoned, isTemporary, ownerOf, temporaryName, type TempOwner } from '../../../src/handlers/upload-temporaries.js';

const RANDOM = '0123456789abcdef01234567';
const JOB_TIMEOUT_MS = 30_000;
const NOW = Date.UTC(2026, 11, 5, 12, 0, 0);
const self: TempOwner = { host: 'rawhttp-7d9f8c6b5-x2k4p', pid: 1 };

/** A host name as Kubernetes and DNS allow it: labels of letters, digits and inner hyphens. */
const hostName = fc
  .array(fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,12}[a-z0-9])?$/), { minLength: 1, maxLength: 3 })
  .map((labels) => labels.join('.'));
const owner = fc.record({ host: hostName, pid: fc.integer({ min: 1, max: 4_194_304 }) });

describe('temporaryName and ownerOf', () => {
  test('a name carries its owner: host (hyphens and digits included) and process id', () => {
    assert.equal(temporaryName(self, RANDOM), `.upload-rawhttp-7d9f8c6b5-x2k4p-1-${RANDOM}.tmp`);
    for (const owner of [self, { host: 'web-1', pid: 7 }, { host: 'node1.example.com', pid: 4_194_304 }]) {
      assert.deepEqual(ownerOf(temporaryName(owner, RANDOM)), owner);
    }
  });

  test('any valid owner reads back; different owners never share a name', () => {
    fc.assert(
      fc.property(owner, owner, fc.uint8Array({ minLength: 12, maxLength: 12 }), (a, b, bytes) => {
        const random = Buffer.from(bytes).toString('hex');
        assert.deepEqual(ownerOf(temporaryName(a, random)), { host: a.host, pid: a.pid });
        if (a.host !== b.host || a.pid !== b.pid) assert.notEqual(temporaryName(a, random), temporaryName(b, random));
      }),
    );
  });

  test('characters a file name should not hold become _; a name with no owner reads as null', () => {
    assert.equal(temporaryName({ host: 'a b/c', pid: 2 }, RANDOM), `.upload-a_b_c-2-${RANDOM}.tmp`);
    assert.equal(ownerOf(`.upload-${RANDOM}.tmp`), null);
    assert.equal(ownerOf('.upload-host-12-short.tmp'), null);
  });

  test('isTemporary: this format and the owner-less one before it, nothing else', () => {
    assert.ok(isTemporary(temporaryName(self, RANDOM)));
    assert.ok(isTemporary(`.upload-${RANDOM}.tmp`));
    for (const name of ['.upload-notes.txt', 'draft.tmp', 'upload_20240101_000000_0123456789abcdef.json', 'upload-x.tmp']) assert.ok(!isTemporary(name), name);
  });
});

describe('isAbandoned', () => {
  const limit = JOB_TIMEOUT_MS + CLOCK_MARGIN_MS;
  const everyoneRunning = (): boolean => true;
  const abandoned = (name: string, ageMs: number, me: TempOwner = self, isRunning: (pid: number) => boolean = everyoneRunning): boolean => isAbandoned(name, NOW - ageMs, NOW, me, JOB_TIMEOUT_MS, isRunning);

  test("this process's own temporaries are abandoned however fresh: it has stored nothing yet", () => {
    assert.equal(abandoned(temporaryName(self, RANDOM), 0), true);
    assert.equal(abandoned(temporaryName({ host: 'a b', pid: 3 }, RANDOM), 0, { host: 'a b', pid: 3 }), true);
  });

  test("another replica's temporary is kept until it is older than any upload can run", () => {
    for (const other of [{ host: self.host, pid: 2 }, { host: 'rawhttp-7d9f8c6b5-q8w2z', pid: 1 }]) {
      const name = temporaryName(other, RANDOM);
      assert.equal(abandoned(name, 0), false);
      assert.equal(abandoned(name, limit), false);
      assert.equal(abandoned(name, limit + 1), true);
    }
  });

  test("a fresh temporary of this host is abandoned once its process is gone; another host's pids say nothing", () => {
    const running = (pid: number): boolean => pid === 7;
    assert.equal(abandoned(temporaryName({ host: self.host, pid: 2 }, RANDOM), 0, self, running), true);
    assert.equal(abandoned(temporaryName({ host: self.host, pid: 7 }, RANDOM), 0, self, running), false);
    assert.equal(abandoned(temporaryName({ host: 'rawhttp-7d9f8c6b5-q8w2z', pid: 2 }, RANDOM), 0, self, running), false);
  });

  test('owner-less temporaries of earlier versions go by age alone; other files never', () => {
    assert.equal(abandoned(`.upload-${RANDOM}.tmp`, limit), false);
    assert.equal(abandoned(`.upload-${RANDOM}.tmp`, limit + 1), true);
    assert.equal(abandoned('upload_20240101_000000_0123456789abcdef.json', 10 * limit), false);
    assert.equal(abandoned('.upload-notes.txt', 10 * limit), false);
  });

  test('a temporary from the future (a clock ahead) is kept', () => {
    assert.equal(abandoned(temporaryName({ host: 'other', pid: 9 }, RANDOM), -CLOCK_MARGIN_MS), false);
  });
});
