import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { CLOSE_GRACE_MS, deadlineOf, phaseFor, type Phase } from '../../../src/http/deadline.js';

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
