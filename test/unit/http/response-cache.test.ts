import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CachedFile, ConditionalHeaders, Job, JobResult, StaticJob } from '../../../src/core/job.js';
import type { JobOutcome, JobRunner } from '../../../src/pool/pool.js';
import { headStart, httpDate } from '../../../src/http/head.js';
import { ENTRY_OVERHEAD_BYTES, ResponseCache } from '../../../src/http/response-cache.js';

const NO_CONDITIONS: ConditionalHeaders = {};

function work(path: string, options: { method?: StaticJob['method']; conditions?: ConditionalHeaders; acceptEncoding?: string } = {}): StaticJob {
  return { kind: 'static', method: options.method ?? 'GET', path, conditions: options.conditions ?? NO_CONDITIONS, acceptEncoding: options.acceptEncoding, query: '' };
}

/** A file as a worker read it; `settled`: its times vouch for the bytes (CachedFile.settled). */
function file(text: string, etag = '"e1"', settled = true): CachedFile {
  const bytes = new TextEncoder().encode(text);
  const validators = [['ETag', etag]] as const;
  return {
    representation: { headers: [['Content-Type', 'text/html; charset=utf-8'], ...validators], validators, facts: { size: bytes.length, mtimeMs: 1_000_000, etag, ino: 1, ctimeMs: 1_000_000 } },
    bytes,
    settled,
  };
}

/** What an entry for `path` (no Accept-Encoding) holding `text` is charged: bytes, key, overhead. */
const charge = (path: string, text: string): number => text.length + 2 * (path.length + 1) + ENTRY_OVERHEAD_BYTES;

const bodyText = (response: ReturnType<ResponseCache['lookup']>): string =>
  response !== null && response.body.kind === 'bytes' ? new TextDecoder().decode(response.body.bytes) : '';

describe('response cache', () => {
  test('a stored file answers GET and HEAD until its time is up', () => {
    const cache = new ResponseCache(1 << 20, 1000);
    assert.equal(cache.lookup(work('/a.html'), 0), null);
    cache.store(work('/a.html'), file('hello'), 0);
    const hit = cache.lookup(work('/a.html'), 999);
    assert.equal(hit?.status, 200);
    assert.equal(bodyText(hit), 'hello');
    const head = cache.lookup(work('/a.html', { method: 'HEAD' }), 999);
    assert.equal(head?.contentLength, 5);
    assert.equal(head?.body.kind, 'none');
    assert.equal(cache.lookup(work('/a.html'), 1000), null, 'expired');
    assert.equal(cache.lookup(work('/a.html'), 0), null, 'an expired entry is gone');
  });

  test('conditions and ranges are answered from the cached representation', () => {
    const cache = new ResponseCache(1 << 20, 1000);
    cache.store(work('/a.html'), file('hello world'), 0);
    assert.equal(cache.lookup(work('/a.html', { conditions: { ifNoneMatch: '"e1"' } }), 1)?.status, 304);
    const partial = cache.lookup(work('/a.html', { conditions: { range: 'bytes=6-' } }), 1);
    assert.equal(partial?.status, 206);
    assert.equal(bodyText(partial), 'world');
    assert.equal(cache.lookup(work('/a.html', { conditions: { ifMatch: '"other"' } }), 1)?.status, 412);
  });

  test("only whole-file 200s carry the entry's prepared head", () => {
    const cache = new ResponseCache(1 << 20, 1000);
    cache.store(work('/a.html'), file('hello world'), 0);
    const get = cache.lookup(work('/a.html'), 1);
    assert.notEqual(get?.prepared, undefined);
    const now = Date.UTC(2026, 10, 27);
    assert.equal(Buffer.from(get!.prepared!.startBytes(now)).toString('latin1'), headStart(get!, httpDate(now)), "the prepared head is the response's own");
    assert.equal(cache.lookup(work('/a.html', { method: 'HEAD' }), 1)?.prepared, get?.prepared, 'HEAD has the same head');
    // The prepared head says 200 and the whole length: a 206, 304 or 412 must build its own.
    for (const conditions of [{ range: 'bytes=6-' }, { range: 'bytes=0-10' }, { ifNoneMatch: '"e1"' }, { ifMatch: '"other"' }]) {
      const response = cache.lookup(work('/a.html', { conditions }), 1);
      assert.notEqual(response?.status, 200, JSON.stringify(conditions));
      assert.equal(response?.prepared, undefined, JSON.stringify(conditions));
    }
  });

  test('POST never hits, and clients accepting other encodings do not share entries', () => {
    const cache = new ResponseCache(1 << 20, 1000);
    cache.store(work('/a.html', { acceptEncoding: 'gzip' }), file('zipped'), 0);
    assert.equal(cache.lookup(work('/a.html', { method: 'POST' }), 1), null);
    assert.equal(cache.lookup(work('/a.html'), 1), null);
    assert.equal(bodyText(cache.lookup(work('/a.html', { acceptEncoding: 'gzip;q=0.5, deflate' }), 1)), 'zipped');
  });

  test('many distinct Accept-Encoding values still find the entry their encodings share', () => {
    const cache = new ResponseCache(1 << 20, 1000);
    cache.store(work('/a.html'), file('plain'), 0);
    cache.store(work('/a.html', { acceptEncoding: 'br' }), file('brotli'), 0);
    // More values than the parsed-header memo keeps, so it is cleared and refilled on the way.
    for (let i = 1; i <= 300; i++) {
      assert.equal(bodyText(cache.lookup(work('/a.html', { acceptEncoding: `br;q=0.${i}, x-${i}` }), 1)), 'brotli', `value ${i}`);
      assert.equal(bodyText(cache.lookup(work('/a.html', { acceptEncoding: `identity, x-${i}` }), 1)), 'plain', `value ${i}`);
    }
    assert.equal(bodyText(cache.lookup(work('/a.html', { acceptEncoding: 'br' }), 1)), 'brotli');
    assert.equal(bodyText(cache.lookup(work('/a.html'), 1)), 'plain');
  });

  test('files not used lately go when the byte budget is spent', () => {
    const cache = new ResponseCache(2 * charge('/a', 'aaaa') + 2, 1000);
    cache.store(work('/a'), file('aaaa'), 0);
    cache.store(work('/b'), file('bbbb'), 0);
    assert.notEqual(cache.lookup(work('/a'), 1), null, 'a is used, b is not');
    cache.store(work('/c'), file('cccc'), 0);
    assert.equal(cache.lookup(work('/b'), 1), null, 'b went first, though it is newer than a');
    assert.notEqual(cache.lookup(work('/a'), 1), null);
    assert.notEqual(cache.lookup(work('/c'), 1), null);
    cache.store(work('/big'), file('x'.repeat(2 * charge('/a', 'aaaa'))), 0);
    assert.equal(cache.lookup(work('/big'), 1), null, 'a file over the budget is not kept');
  });

  test('entries are charged their keys and objects too: one tiny file under thousands of spellings stays within the budget', () => {
    const budget = 64 * 1024;
    const cache = new ResponseCache(budget, 1000);
    // `/uploads//f.json`, `/uploads///f.json`...: each a path of its own, with a one-byte file.
    const spellings = Array.from({ length: 2000 }, (_, k) => `/uploads${'/'.repeat(k + 1)}f.json`);
    for (const path of spellings) cache.store(work(path), file('0'), 0);
    const kept = spellings.filter((path) => cache.lookup(work(path), 1) !== null);
    assert.ok(kept.length > 0 && kept.length <= budget / ENTRY_OVERHEAD_BYTES, `${kept.length} entries kept`);
    assert.ok(kept.every((path) => spellings.indexOf(path) >= spellings.length - kept.length), 'the newest are kept');
  });

  test('a used file gets a second chance, not a permanent place', () => {
    const cache = new ResponseCache(3 * charge('/a', 'xxxx'), 1000);
    for (const name of ['/a', '/b', '/c']) cache.store(work(name), file('xxxx'), 0);
    for (const name of ['/a', '/b', '/c']) assert.notEqual(cache.lookup(work(name), 1), null);
    // All three are used: eviction passes over each once, then takes the oldest.
    cache.store(work('/d'), file('dddd'), 0);
    assert.equal(cache.lookup(work('/a'), 1), null, 'a went after its second chance');
    // Being passed over cleared b's and c's use; c is used again, b is not.
    assert.notEqual(cache.lookup(work('/c'), 1), null);
    cache.store(work('/e'), file('eeee'), 0);
    assert.equal(cache.lookup(work('/b'), 1), null, 'b, not used since it was passed over');
    for (const name of ['/c', '/d', '/e']) assert.notEqual(cache.lookup(work(name), 1), null, name);
  });

  test('storing a path again replaces its entry; a TTL of 0 keeps nothing', () => {
    const cache = new ResponseCache(1 << 20, 1000);
    cache.store(work('/a'), file('old', '"1"'), 0);
    cache.store(work('/a'), file('new', '"2"'), 5);
    assert.equal(bodyText(cache.lookup(work('/a'), 6)), 'new');
    const off = new ResponseCache(1 << 20, 0);
    off.store(work('/a'), file('x'), 0);
    assert.equal(off.lookup(work('/a'), 0), null);
  });

  test('a hot entry is read again by one job before it expires, and replaced in time', () => {
    const submitted: Array<{ job: Job; done: (outcome: JobOutcome<JobResult>) => void }> = [];
    const runner: JobRunner<Job, JobResult> = { submit: (job, done) => (submitted.push({ job, done }), true) };
    const cache = new ResponseCache(1 << 20, 1000, runner, () => 800);
    const old = file('old', '"1"');
    cache.store(work('/a.html'), old, 0);
    for (let at = 0; at < 750; at += 50) assert.equal(bodyText(cache.lookup(work('/a.html'), at)), 'old');
    assert.equal(submitted.length, 0, 'no refresh early in the life of an entry');
    for (let at = 750; at < 1000; at += 10) assert.equal(bodyText(cache.lookup(work('/a.html', { conditions: { range: 'bytes=0-1' } }), at)), 'ol');
    assert.equal(submitted.length, 1, 'one job, however many hits');
    assert.deepEqual(submitted[0]!.job, { ...work('/a.html'), held: old.representation.facts }, 'a plain GET of the file as the entry holds it, without the conditions of the hit');
    const fresh = file('new', '"2"');
    submitted[0]!.done({ ok: true, workerId: 1, result: { response: { status: 200, headers: [], contentLength: 3, body: { kind: 'bytes', bytes: fresh.bytes } }, cacheable: fresh } as unknown as JobResult });
    assert.equal(bodyText(cache.lookup(work('/a.html'), 1000)), 'new', 'replaced before the old entry expired: no miss');
    assert.equal(cache.lookup(work('/a.html'), 1800), null, 'the new entry lives its own TTL from its store');
  });

  test('a refresh that finds the file unchanged keeps its bytes: the entry lives another TTL, and answers before and after share them', () => {
    const submitted: Array<(outcome: JobOutcome<JobResult>) => void> = [];
    const cache = new ResponseCache(1 << 20, 1000, { submit: (_job, done) => (submitted.push(done), true) }, () => 800);
    const held = file('same');
    cache.store(work('/a.html'), held, 0);
    const before = cache.lookup(work('/a.html'), 800);
    // The worker found the same file and did not read it; a precompressed sibling has appeared meanwhile.
    const now = file('same');
    const representation = { ...now.representation, headers: [...now.representation.headers, ['Vary', 'Accept-Encoding']] as const };
    submitted[0]!({ ok: true, workerId: 1, result: { response: { status: 304, headers: representation.validators, contentLength: null, body: { kind: 'none' } }, unchanged: representation } });
    const after = cache.lookup(work('/a.html'), 1700);
    assert.equal(bodyText(after), 'same', 'renewed: alive past the first TTL');
    assert.ok(before?.body.kind === 'bytes' && after?.body.kind === 'bytes' && before.body.bytes === after.body.bytes, 'the very same bytes');
    assert.deepEqual(after.headers.at(-1), ['Vary', 'Accept-Encoding'], 'the representation as it is now');
    assert.equal(cache.lookup(work('/a.html'), 1800), null, 'another TTL from the renewal, no more');
  });

  test('a file read in the moment of its last change is read again at its refresh, never renewed on the strength of its times', () => {
    const submitted: Array<{ job: Job; done: (outcome: JobOutcome<JobResult>) => void }> = [];
    const cache = new ResponseCache(1 << 20, 1000, { submit: (job, done) => (submitted.push({ job, done }), true) }, () => 800);
    cache.store(work('/a.html'), file('torn', '"1"', false), 0);
    assert.equal(bodyText(cache.lookup(work('/a.html'), 800)), 'torn');
    assert.deepEqual(submitted[0]!.job, { ...work('/a.html'), held: undefined }, 'a plain GET that reads the file whatever its times');
    const whole = file('whole', '"1"');
    submitted[0]!.done({ ok: true, workerId: 1, result: { response: { status: 200, headers: [], contentLength: 5, body: { kind: 'bytes', bytes: whole.bytes } }, cacheable: whole } as unknown as JobResult });
    assert.equal(bodyText(cache.lookup(work('/a.html'), 900)), 'whole', 'the bytes read again replace the entry, though its tag is the same');
    assert.equal(submitted.length, 1);
    assert.notEqual(cache.lookup(work('/a.html'), 1600), null, 'and it lives its own TTL');
  });

  test('a refresh that finds the file unchanged leaves alone an entry replaced meanwhile', () => {
    const submitted: Array<(outcome: JobOutcome<JobResult>) => void> = [];
    const cache = new ResponseCache(1 << 20, 1000, { submit: (_job, done) => (submitted.push(done), true) }, () => 900);
    const held = file('old', '"1"');
    cache.store(work('/a.html'), held, 0);
    assert.notEqual(cache.lookup(work('/a.html'), 800), null);
    cache.store(work('/a.html'), file('new', '"2"'), 850);
    submitted[0]!({ ok: true, workerId: 1, result: { response: { status: 304, headers: [], contentLength: null, body: { kind: 'none' } }, unchanged: held.representation } });
    assert.equal(bodyText(cache.lookup(work('/a.html'), 1849)), 'new');
    assert.equal(cache.lookup(work('/a.html'), 1850), null, 'the new entry keeps its own TTL');
  });

  test('a refresh that fails leaves the entry to expire as before', () => {
    const submitted: Array<(outcome: JobOutcome<JobResult>) => void> = [];
    const cache = new ResponseCache(1 << 20, 1000, { submit: (_job, done) => (submitted.push(done), true) });
    cache.store(work('/a.html'), file('old'), 0);
    assert.notEqual(cache.lookup(work('/a.html'), 900), null);
    submitted[0]!({ ok: false, workerId: 1, failure: 'crashed', error: new Error('x'), note: null });
    assert.equal(cache.lookup(work('/a.html'), 1000), null);
  });
});
