// traceparent parsing after W3C Trace Context: what is a valid trace id, what is ignored; and
// fresh trace ids.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { newTraceId, requestTraceId, traceIdFrom } from '../../../src/http/trace-context.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

describe('traceIdFrom', () => {
  test('reads the trace id of a version 00 value, sampled or not', () => {
    assert.equal(traceIdFrom(`00-${TRACE}-${PARENT}-01`), TRACE);
    assert.equal(traceIdFrom(`00-${TRACE}-${PARENT}-00`), TRACE);
    assert.equal(traceIdFrom(`00-${TRACE}-${PARENT}-ff`), TRACE, 'unknown flags are not an error');
  });

  test('reads a later version, with or without fields after the flags', () => {
    assert.equal(traceIdFrom(`cc-${TRACE}-${PARENT}-01`), TRACE);
    assert.equal(traceIdFrom(`cc-${TRACE}-${PARENT}-01-what-the-future-will-be-like`), TRACE);
    assert.equal(traceIdFrom(`01-${TRACE}-${PARENT}-01-`), TRACE);
  });

  const invalid: Record<string, string> = {
    'empty': '',
    'version ff (forbidden)': `ff-${TRACE}-${PARENT}-01`,
    'version 00 with a fifth field': `00-${TRACE}-${PARENT}-01-extra`,
    'version 00 with a trailing character': `00-${TRACE}-${PARENT}-01.`,
    'a later version whose flags are followed by something else than a dash': `cc-${TRACE}-${PARENT}-01.what-the-future-will-be-like`,
    'version of one digit': `0-${TRACE}-${PARENT}-01`,
    'version of three digits': `000-${TRACE}-${PARENT}-01`,
    'version not hex': `.0-${TRACE}-${PARENT}-01`,
    'uppercase version': `0A-${TRACE}-${PARENT}-01`,
    'trace id all zeros': `00-${'0'.repeat(32)}-${PARENT}-01`,
    'trace id too short': `00-${TRACE.slice(1)}-${PARENT}-01`,
    'trace id too long': `00-${TRACE}0-${PARENT}-01`,
    'trace id uppercase': `00-${TRACE.toUpperCase()}-${PARENT}-01`,
    'trace id not hex': `00-${TRACE.slice(0, 31)}g-${PARENT}-01`,
    'parent id all zeros': `00-${TRACE}-${'0'.repeat(16)}-01`,
    'parent id too short': `00-${TRACE}-${PARENT.slice(1)}-01`,
    'parent id too long': `00-${TRACE}-${PARENT}0-01`,
    'parent id uppercase': `00-${TRACE}-${PARENT.toUpperCase()}-01`,
    'flags of one digit': `00-${TRACE}-${PARENT}-1`,
    'flags of three digits': `00-${TRACE}-${PARENT}-001`,
    'flags not hex': `00-${TRACE}-${PARENT}-.0`,
    'another separator': `00_${TRACE}_${PARENT}_01`,
    'surrounding spaces (the parser trims them first)': ` 00-${TRACE}-${PARENT}-01 `,
    'two values joined (a repeated header)': `00-${TRACE}-${PARENT}-01, 00-${TRACE}-${PARENT}-01`,
    'two values joined, the first of a later version': `01-${TRACE}-${PARENT}-01-x, 00-${TRACE}-${PARENT}-01`,
    'two later-version values joined': `cc-${TRACE}-${PARENT}-01-future, cc-${TRACE}-${PARENT}-01-future`,
    'a later version, too short': `cc-${TRACE}-${PARENT}`,
  };
  for (const [what, value] of Object.entries(invalid)) {
    test(`ignores ${what}`, () => assert.equal(traceIdFrom(value), null));
  }

  test('ignores an absent header', () => assert.equal(traceIdFrom(undefined), null));
});

describe('newTraceId', () => {
  test('gives 32 lowercase hex digits, never all zeros, and no id twice (across several refills of the random pool)', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const id = newTraceId();
      assert.match(id, /^[0-9a-f]{32}$/);
      assert.notEqual(id, '0'.repeat(32));
      seen.add(id);
    }
    assert.equal(seen.size, 2000);
  });

  test('the bits look random: each hex digit about as often as any other', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 1000; i++) for (const digit of newTraceId()) counts.set(digit, (counts.get(digit) ?? 0) + 1);
    // 32 000 digits, 2 000 expected of each; 5 standard deviations is about 220.
    assert.equal(counts.size, 16);
    for (const [digit, count] of counts) assert.ok(Math.abs(count - 2000) < 300, `digit ${digit} seen ${count} times`);
  });
});

describe('requestTraceId and the response field', () => {
  test('a valid traceparent gives its id, anything else a fresh one', () => {
    assert.equal(requestTraceId(`00-${TRACE}-${PARENT}-01`), TRACE);
    const fresh = requestTraceId(`00-${TRACE.toUpperCase()}-${PARENT}-01`);
    assert.match(fresh, /^[0-9a-f]{32}$/);
    assert.notEqual(fresh, TRACE);
    assert.notEqual(requestTraceId(undefined), requestTraceId(undefined));
  });
});
