import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { CLOSE_GRACE_MS, Deadline, deadlineOf, phaseFor, type Phase } from '../../../src/http/deadline.js';

const SETTINGS = { keepAliveTimeoutMs: 30_000, headersTimeoutMs: 10_000, requestTimeoutMs: 20_000 };

test('the phase follows what the connection is doing, in order of precedence', () => {
  // phaseFor(current, readingBody, writing, inFlight, inRequest)
  assert.equal(phaseFor('idle', true, true, true, true), 'body');
  assert.equal(phaseFor('idle', false, true, true, true), 'write');
  assert.equal(phaseFor('idle', false, false, true, true), 'none');
  assert.equal(phaseFor('idle', false, false, false, true), 'headers');
  assert.equal(phaseFor('write', false, false, false, false), 'idle');
});

test('an idle connection keeps its deadline: idle time counts from when it fell idle', () => {
  assert.equal(phaseFor('idle', false, false, false, false), null);
});

test('headers and body count from the request\'s first byte; idle and write from now; none never expires', (t) => {
  t.mock.method(performance, 'now', () => 1_000_000);
  const began = 990_000;
  const expected: Record<Phase, number> = {
    headers: began + SETTINGS.headersTimeoutMs,
    body: began + SETTINGS.requestTimeoutMs,
    idle: 1_000_000 + SETTINGS.keepAliveTimeoutMs,
    write: 1_000_000 + SETTINGS.keepAliveTimeoutMs,
    closing: 1_000_000 + CLOSE_GRACE_MS,
    none: 0,
  };
  for (const [phase, at] of Object.entries(expected)) assert.equal(deadlineOf(phase as Phase, SETTINGS, began), at, phase);
});

test('a Deadline expires once, in the phase it was in, and not before its time', (t) => {
  let now = 1_000_000;
  t.mock.method(performance, 'now', () => now);
  const deadline = new Deadline(SETTINGS);
  deadline.enter('headers', 995_000);
  assert.equal(deadline.expired(995_000 + SETTINGS.headersTimeoutMs - 1), null);
  now = 995_000 + SETTINGS.headersTimeoutMs;
  assert.equal(deadline.expired(now), 'headers');
  assert.equal(deadline.expired(now + 1), null, 'told once');
});

test('a Deadline follows the connection: staying idle keeps the deadline, requests in flight have none, idle again counts from then', (t) => {
  let now = 1_000_000;
  t.mock.method(performance, 'now', () => now);
  const deadline = new Deadline(SETTINGS);
  deadline.enter('idle', 0);
  now += 5_000;
  // follow(readingBody, writing, inFlight, inRequest, requestBegan): still idle, so the deadline stays.
  deadline.follow(false, false, false, false, 0);
  assert.equal(deadline.expired(1_000_000 + SETTINGS.keepAliveTimeoutMs), 'idle');
  deadline.enter('idle', 0);
  deadline.follow(false, false, true, false, 0);
  assert.equal(deadline.expired(now + 10 * SETTINGS.keepAliveTimeoutMs), null, 'none never expires');
  deadline.follow(false, false, false, false, 0);
  assert.equal(deadline.expired(now + SETTINGS.keepAliveTimeoutMs - 1), null);
  assert.equal(deadline.expired(now + SETTINGS.keepAliveTimeoutMs), 'idle', 'idle again counts from then');
});

test('an idle Deadline runs on to the keep-alive timeout after the latest request began, if that is later', (t) => {
  t.mock.method(performance, 'now', () => 1_000_000);
  const deadline = new Deadline(SETTINGS);
  deadline.enter('idle', 0);
  // A request answered at once, from the cache: the phase never left idle.
  const began = 1_000_000 + 20_000;
  deadline.noteRequest(began);
  assert.equal(deadline.expired(1_000_000 + SETTINGS.keepAliveTimeoutMs), null);
  assert.equal(deadline.expired(began + SETTINGS.keepAliveTimeoutMs - 1), null);
  assert.equal(deadline.expired(began + SETTINGS.keepAliveTimeoutMs), 'idle');
});

test('a cleared Deadline never expires', (t) => {
  t.mock.method(performance, 'now', () => 1_000_000);
  const deadline = new Deadline(SETTINGS);
  deadline.enter('closing', 0);
  deadline.clear();
  assert.equal(deadline.expired(1_000_000 + 10 * CLOSE_GRACE_MS), null);
});
