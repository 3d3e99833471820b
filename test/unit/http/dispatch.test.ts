// What a request gets once it is read: from the cache at once, through a job, or a 503 when the
// pool takes no more; its body's memory released only when the job is done; what a worker
// reports counted and logged; a refusal counted. A stand-in job runner and recording events.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import type { Job, JobResult, Representation, StaticJob } from '../../../src/core/job.js';
import { jsonResponse, refusalResponse, type Response } from '../../../src/core/response.js';
import { BodyBudget, type BodyShare, type BodyTake } from '../../../src/http/body-budget.js';
import { completed, dispatch, immediateResponse, type DispatchDeps, type Responder } from '../../../src/http/dispatch.js';
import type { ServerEvents } from '../../../src/http/events.js';
import { newExchange, type Exchange } from '../../../src/http/exchange.js';
import { ResponseCache } from '../../../src/http/response-cache.js';
import { newTraceId } from '../../../src/http/trace-context.js';
import { canonicalAddress } from '../../../src/security/address.js';
import type { JobCallback } from '../../../src/pool/pool.js';
import { ConditionLogs } from '../../../src/log.js';
import { defaultAccessPolicy } from '../../helpers/connection.js';

function taken(take: BodyTake): BodyShare {
  assert.equal(take.kind, 'taken');
  return take.share;
}

const PAGE = new TextEncoder().encode('<!DOCTYPE html><title>page</title>\n');
const representation: Representation = {
  headers: [['Content-Type', 'text/html; charset=utf-8'], ['ETag', '"p1"']],
  validators: [['ETag', '"p1"']],
  facts: { size: PAGE.length, mtimeMs: 1_000_000, etag: '"p1"', ino: 1, ctimeMs: 1_000_000 },
};

function pageJob(): StaticJob {
  return { kind: 'static', method: 'GET', path: '/page.html', conditions: {}, acceptEncoding: undefined, query: '' };
}

/** The server's dependencies with a runner that holds jobs until the test finishes them. */
function setUp(options: { acceptsJobs: boolean }) {
  const submitted: Array<{ job: Job; done: JobCallback<JobResult> }> = [];
  const events: string[] = [];
  const logged: Array<Record<string, unknown>> = [];
  const recorder: ServerEvents = {
    connectionOpened: () => events.push('opened'),
    requestCompleted: (method, status) => events.push(`completed ${method} ${status}`),
    rejected: (reason) => events.push(`rejected ${reason}`),
    securityRejection: (rule) => events.push(`security ${rule}`),
    proxyRefused: (reason) => events.push(`proxy ${reason}`),
    uploadStored: (bytes) => events.push(`stored ${bytes}`),
  };
  const deps: DispatchDeps = {
    settings: { allowedHosts: new Set(['example.test']) },
    jobs: { submit: (job, done) => options.acceptsJobs && submitted.push({ job, done }) > 0 },
    cache: new ResponseCache(1 << 20, 3_600_000),
    events: recorder,
    log: pino({ level: 'info' }, { write: (line: string) => logged.push(JSON.parse(line) as Record<string, unknown>) }),
    conditionLogs: new ConditionLogs(1000),
    access: defaultAccessPolicy(),
  };
  const answers: Array<{ exchange: Exchange; response: Response }> = [];
  const responder: Responder = { id: 7, respond: (exchange, response) => answers.push({ exchange, response }) };
  return { deps, submitted, events, logged, answers, responder };
}

function exchangeFor(method: string, target: string): Exchange {
  return newExchange(method, target, 1, true, canonicalAddress('192.0.2.1')!, null, newTraceId(), '');
}

describe('dispatch', () => {
  test('a miss goes to a job; its result answers, fills the cache, and the next request is a hit', () => {
    const { deps, submitted, answers, responder } = setUp({ acceptsJobs: true });
    const first = exchangeFor('GET', '/page.html');
    dispatch(deps, responder, first, pageJob(), null);
    assert.equal(submitted.length, 1);
    assert.equal(answers.length, 0, 'nothing answers before the job is done');
    const fromWorker = jsonResponse(200, { from: 'worker' });
    submitted[0]!.done({ ok: true, workerId: 3, result: { response: fromWorker, cacheable: { representation, bytes: PAGE, settled: true } } });
    assert.deepEqual(answers.map((a) => [a.exchange, a.response]), [[first, fromWorker]]);
    assert.equal(first.answeredBy, 3);

    const second = exchangeFor('GET', '/page.html');
    dispatch(deps, responder, second, pageJob(), null);
    assert.equal(submitted.length, 1, 'a hit submits no job');
    assert.equal(answers[1]!.exchange, second);
    assert.equal(answers[1]!.response.status, 200);
    assert.equal(answers[1]!.response.contentLength, PAGE.length);
    assert.equal(second.answeredBy, 'cache');
  });

  test("a body's memory is held until its job is done", () => {
    const { deps, submitted, responder } = setUp({ acceptsJobs: true });
    const bodies = new BodyBudget(100, { perClient: 100, maxBodyBytes: 100 });
    const share = taken(bodies.take(60, null));
    dispatch(deps, responder, exchangeFor('POST', '/upload'), { kind: 'upload', body: new Uint8Array(60) }, share);
    assert.equal(bodies.heldBytes, 60);
    submitted[0]!.done({ ok: true, workerId: 1, result: { response: jsonResponse(201, {}), storedBytes: 60 } });
    assert.equal(bodies.heldBytes, 0);
  });

  test('a full pool answers 503 with Retry-After at once, counts it and releases the body', () => {
    const { deps, events, answers, responder } = setUp({ acceptsJobs: false });
    const bodies = new BodyBudget(100, { perClient: 100, maxBodyBytes: 100 });
    dispatch(deps, responder, exchangeFor('POST', '/upload'), { kind: 'upload', body: new Uint8Array(10) }, taken(bodies.take(10, null)));
    assert.equal(answers.length, 1);
    assert.equal(answers[0]!.response.status, 503);
    assert.deepEqual(answers[0]!.response.headers.find(([name]) => name === 'Retry-After'), ['Retry-After', '1']);
    assert.deepEqual(events, ['rejected queue_full']);
    assert.equal(bodies.heldBytes, 0);
  });

  test("what a worker reports is counted, and its log line carries the connection's client", () => {
    const { deps, submitted, events, logged, responder } = setUp({ acceptsJobs: true });
    const exchange = exchangeFor('GET', '/%2e%2e/secret');
    dispatch(deps, responder, exchange, { ...pageJob(), path: '/../secret' }, null);
    const refusal = refusalResponse('outside_root', 'GET');
    submitted[0]!.done({ ok: true, workerId: 2, result: { response: refusal, log: { level: 'warn', message: 'outside the root', fields: { detail: 'resolves elsewhere' } } } });
    // The security rule is the catalogue's for the refusal: the worker does not name it.
    assert.deepEqual(events, ['security outside_root']);
    const line = logged.find((entry) => entry.msg === 'outside the root');
    assert.equal(line?.client, '192.0.2.1');
    assert.equal(line?.conn, 7);
    assert.equal(line?.worker, 2);
    assert.equal(line?.rule, 'outside_root');
    assert.deepEqual([line?.reason, line?.detail], ['outside_root', 'resolves elsewhere'], 'reason is the code, as on the access line');
  });

  test("a worker's refusal that is no security rule is not counted as one; its line still names the code", () => {
    const { deps, submitted, events, logged, responder } = setUp({ acceptsJobs: true });
    dispatch(deps, responder, exchangeFor('GET', '/secret.txt'), pageJob(), null);
    submitted[0]!.done({ ok: true, workerId: 2, result: { response: refusalResponse('not_readable', 'GET'), log: { level: 'warn', message: 'file not readable by the server' } } });
    assert.deepEqual(events, []);
    const line = logged.find((entry) => entry.msg === 'file not readable by the server');
    assert.equal(line?.reason, 'not_readable');
    assert.equal(line?.rule, undefined);
  });

  test('a job that never ran answers 503, counted as a refusal; a failed static job 500; all are logged', () => {
    const { deps, submitted, answers, events, logged, responder } = setUp({ acceptsJobs: true });
    for (const path of ['/a.html', '/b.html', '/c.html', '/d.html']) dispatch(deps, responder, exchangeFor('GET', path), pageJob(), null);
    submitted[0]!.done({ ok: false, failure: 'not-run', error: new Error('worker died'), workerId: 1, note: null });
    submitted[1]!.done({ ok: false, failure: 'queue-timeout', error: new Error('no worker in time'), workerId: null, note: null });
    submitted[2]!.done({ ok: false, failure: 'closed', error: new Error('pool closed'), workerId: null, note: null });
    submitted[3]!.done({ ok: false, failure: 'crashed', error: new Error('worker died'), workerId: 2, note: null });
    assert.deepEqual(answers.map((a) => a.response.status), [503, 503, 503, 500]);
    assert.deepEqual(events, ['rejected worker_lost', 'rejected queue_timeout', 'rejected worker_lost']);
    assert.deepEqual(logged.filter((entry) => entry.msg === 'job failed').map((entry) => entry.failure), ['not-run', 'queue-timeout', 'closed', 'crashed']);
  });

  test("a condition the workers report once per second is logged once per engine, the rest counted", () => {
    const full = (): JobResult => ({ response: jsonResponse(507, {}), log: { level: 'warn', message: 'disk full', oncePerSecond: true } });
    const engines = [setUp({ acceptsJobs: true }), setUp({ acceptsJobs: true })];
    for (const { deps, submitted, responder } of engines) {
      for (let i = 0; i < 3; i++) dispatch(deps, responder, exchangeFor('POST', '/upload'), { kind: 'upload', body: new Uint8Array(2) }, null);
      for (const job of submitted) job.done({ ok: true, workerId: 1, result: full() });
    }
    // Each engine has its own limits: no state is shared through the module.
    for (const { logged } of engines) assert.equal(logged.filter((entry) => entry.msg === 'disk full').length, 1);
  });

  test('a once-a-second condition is one per error code: a second code is told at once, not counted among the first', () => {
    const failed = (code: string): JobResult => ({ response: jsonResponse(500, {}), log: { level: 'error', message: 'upload failed', fields: { code }, oncePerSecond: true } });
    const { deps, submitted, responder, logged } = setUp({ acceptsJobs: true });
    const codes = ['ENOSPC', 'ENOSPC', 'EACCES', 'EACCES'];
    for (let i = 0; i < codes.length; i++) dispatch(deps, responder, exchangeFor('POST', '/upload'), { kind: 'upload', body: new Uint8Array(2) }, null);
    submitted.forEach((job, i) => job.done({ ok: true, workerId: 1, result: failed(codes[i]!) }));
    assert.deepEqual(logged.filter((entry) => entry.msg === 'upload failed').map((entry) => [entry.code, entry.suppressed]), [['ENOSPC', 0], ['EACCES', 0]]);
  });

  test('a job no worker took is the engine\'s answer, not a worker\'s', () => {
    const { deps, submitted, answers, logged, responder } = setUp({ acceptsJobs: true });
    const waited = exchangeFor('GET', '/a.html');
    dispatch(deps, responder, waited, pageJob(), null);
    submitted[0]!.done({ ok: false, failure: 'queue-timeout', error: new Error('no worker in time'), workerId: null, note: null });
    assert.deepEqual(answers.map((a) => a.response.status), [503]);
    assert.equal(waited.answeredBy, 'engine');
    assert.equal(logged.find((entry) => entry.msg === 'job failed')?.worker, null);
  });
});

describe('an upload whose worker died', () => {
  test('after the link: counted as stored, with its size, and answered 500 naming its file; before: neither', () => {
    const { deps, submitted, events, answers, responder } = setUp({ acceptsJobs: true });
    const upload = (): Job => ({ kind: 'upload', body: new TextEncoder().encode('{"n":1}') });
    dispatch(deps, responder, exchangeFor('POST', '/upload'), upload(), null);
    dispatch(deps, responder, exchangeFor('POST', '/upload'), upload(), null);
    submitted[0]!.done({ ok: false, failure: 'crashed', error: new Error('worker died'), workerId: 1, note: 'upload_20261207_000000_0123456789abcdef.json' });
    submitted[1]!.done({ ok: false, failure: 'crashed', error: new Error('worker died'), workerId: 1, note: null });
    assert.deepEqual(events, ['stored 7']);
    assert.deepEqual(answers.map((a) => a.response.status), [500, 500]);
  });
});

describe("an upload refused for the server's reasons", () => {
  /** Takes every upload the client's bucket holds now, and says how many there were. */
  const emptyBucket = (deps: DispatchDeps): number => {
    let taken = 0;
    while (deps.access.limits.takeUpload('192.0.2.1').ok) taken++;
    return taken;
  };
  const upload = (): Job => ({ kind: 'upload', body: new TextEncoder().encode('{"n":1}') });

  test('a full queue gives back what the upload gate took', () => {
    const { deps, answers, responder } = setUp({ acceptsJobs: false });
    emptyBucket(deps);
    dispatch(deps, responder, exchangeFor('POST', '/upload'), upload(), null);
    assert.deepEqual(answers.map((a) => a.response.status), [503]);
    assert.equal(emptyBucket(deps), 1);
  });

  test('so does an upload the worker could not store (500); a 507, a stored one and a refused document do not', () => {
    const { deps, submitted, responder } = setUp({ acceptsJobs: true });
    emptyBucket(deps);
    for (let i = 0; i < 4; i++) dispatch(deps, responder, exchangeFor('POST', '/upload'), upload(), null);
    submitted[0]!.done({ ok: true, workerId: 1, result: { response: jsonResponse(500, {}) } });
    assert.equal(emptyBucket(deps), 1);
    // The disk guard's 507 depends on the upload's size: given back, large uploads would cost nothing.
    submitted[1]!.done({ ok: true, workerId: 1, result: { response: jsonResponse(507, {}) } });
    submitted[2]!.done({ ok: true, workerId: 1, result: { response: jsonResponse(400, {}) } });
    submitted[3]!.done({ ok: true, workerId: 1, result: { response: jsonResponse(201, {}), storedBytes: 7 } });
    assert.equal(emptyBucket(deps), 0);
  });

  test('so does a job no worker ran; one that ran and failed does not', () => {
    const { deps, submitted, responder } = setUp({ acceptsJobs: true });
    emptyBucket(deps);
    for (let i = 0; i < 2; i++) dispatch(deps, responder, exchangeFor('POST', '/upload'), upload(), null);
    submitted[0]!.done({ ok: false, failure: 'queue-timeout', error: new Error('no worker in time'), workerId: null, note: null });
    assert.equal(emptyBucket(deps), 1);
    submitted[1]!.done({ ok: false, failure: 'crashed', error: new Error('worker died'), workerId: 1, note: null });
    assert.equal(emptyBucket(deps), 0);
  });
});

describe('immediateResponse and completed', () => {
  test('a security refusal is counted and logged; OPTIONS is not', () => {
    const { deps, events, logged } = setUp({ acceptsJobs: true });
    const refused = immediateResponse(deps, 7, exchangeFor('GET', '/../x'), { kind: 'reject', refusal: 'dot_segment', detail: 'dot segment in path' });
    assert.equal(refused.status, 403);
    const options = immediateResponse(deps, 7, exchangeFor('OPTIONS', '*'), { kind: 'options', allow: 'GET, HEAD, OPTIONS' });
    assert.equal(options.status, 204);
    assert.deepEqual(events, ['security traversal']);
    const lines = logged.filter((entry) => entry.msg === 'security refusal');
    assert.equal(lines.length, 1);
    assert.deepEqual([lines[0]!.reason, lines[0]!.detail, lines[0]!.rule], ['dot_segment', 'dot segment in path', 'traversal'], 'reason is the code, as on the access line; the free text is detail');
  });

  test('a refusal that is no security rule is neither counted nor logged as one', () => {
    const { deps, events, logged } = setUp({ acceptsJobs: true });
    const refused = immediateResponse(deps, 7, exchangeFor('GET', '/100%.txt'), { kind: 'reject', refusal: 'bad_percent_encoding', detail: 'invalid percent-encoding' });
    assert.equal(refused.status, 400);
    assert.deepEqual(events, []);
    assert.equal(logged.filter((entry) => entry.msg === 'security refusal').length, 0);
  });

  test('security refusals are logged at most once a second for each rule, each counted', () => {
    const { deps, events, logged } = setUp({ acceptsJobs: true });
    // A client pipelining refused requests: every one is counted, not every one is a log line.
    for (let i = 0; i < 50; i++) immediateResponse(deps, 7, exchangeFor('GET', '/../x'), { kind: 'reject', refusal: 'dot_segment', detail: 'dot segment in path' });
    immediateResponse(deps, 7, exchangeFor('GET', '/.env'), { kind: 'reject', refusal: 'hidden_file', detail: 'hidden file' });
    assert.equal(events.length, 51);
    const lines = logged.filter((entry) => entry.msg === 'security refusal');
    assert.deepEqual(lines.map((line) => line.rule), ['traversal', 'hidden_file'], 'the first of each rule at once');
    assert.equal(lines[0]!.target, '/../x');
  });

  test('a sent response is counted and written to the access log', () => {
    const { deps, events, logged } = setUp({ acceptsJobs: true });
    const exchange = exchangeFor('HEAD', '/page.html');
    completed(deps, 7, exchange, 200, 123, false);
    assert.deepEqual(events, ['completed HEAD 200']);
    const line = logged.find((entry) => entry.msg === 'request');
    assert.equal(line?.status, 200);
    assert.equal(line?.bytes, 123);
    assert.equal(line?.connection, 'close');
    assert.equal(line?.traceId, exchange.traceId);
  });
});
