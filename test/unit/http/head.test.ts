// Prepared heads must be byte for byte the heads built from scratch, whatever the response,
// the connection and the clock; they only skip the work of building them again.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { HeadFields } from '../../../src/core/response.js';
import { connectionFieldBytes, connectionFields, headStart, httpDate, PreparedHead, type ConnectionHeaders } from '../../../src/http/head.js';

const headFields: fc.Arbitrary<HeadFields> = fc.record({
  status: fc.constantFrom(200, 206, 304, 404, 503),
  headers: fc.array(fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z-]{0,20}$/), fc.stringMatching(/^[\x20-\x7e]{0,40}$/)), { maxLength: 8 }),
  contentLength: fc.option(fc.nat(1 << 30), { nil: null }),
});

const connection: fc.Arbitrary<ConnectionHeaders> = fc.record({
  keepAlive: fc.boolean(),
  keepAliveTimeoutSeconds: fc.constantFrom(1, 5, 30),
  // Past 1000 the fields are built per response rather than tabled.
  remainingRequests: fc.oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 990, max: 1010 }), fc.integer({ min: 1, max: 1_000_000 })),
});

/** The head built from scratch at time `now`, as bytes. */
function expected(fields: HeadFields, at: ConnectionHeaders, now: number): Buffer {
  return Buffer.from(headStart(fields, httpDate(now)) + connectionFields(at), 'latin1');
}

describe('prepared heads', () => {
  test('give the bytes a head built from scratch has, for any response, connection and time', () => {
    const start = Date.UTC(2026, 10, 27, 12, 0, 0);
    const times = fc.array(fc.integer({ min: 0, max: 5000 }).map((ms) => start + ms), { minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(headFields, fc.array(fc.tuple(connection, times), { minLength: 1, maxLength: 4 }), (fields, uses) => {
        const prepared = new PreparedHead(fields);
        for (const [at, nows] of uses) {
          for (const now of nows) {
            const bytes = Buffer.concat([prepared.startBytes(now), connectionFieldBytes(at)]);
            assert.deepEqual(bytes, expected(fields, at, now));
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  test('are encoded again only when the Date changes', () => {
    const prepared = new PreparedHead({ status: 200, headers: [['Content-Type', 'text/plain']], contentLength: 5 });
    const second = Date.UTC(2026, 10, 27, 12, 0, 0);
    const first = prepared.startBytes(second);
    assert.equal(prepared.startBytes(second + 999), first, 'the same buffer within the second');
    const next = prepared.startBytes(second + 1000);
    assert.notEqual(next, first);
    assert.match(next.toString('latin1'), /^Date: Fri, 27 Nov 2026 12:00:01 GMT\r$/m);
  });

  test('share one buffer per distinct connection ending', () => {
    const keepAlive = { keepAlive: true, keepAliveTimeoutSeconds: 30, remainingRequests: 7 };
    assert.equal(connectionFieldBytes(keepAlive), connectionFieldBytes({ ...keepAlive }));
    assert.notEqual(connectionFieldBytes(keepAlive), connectionFieldBytes({ ...keepAlive, keepAliveTimeoutSeconds: 5 }));
    assert.equal(connectionFieldBytes({ ...keepAlive, keepAlive: false }).toString('latin1'), 'Connection: close\r\n\r\n');
  });
});
