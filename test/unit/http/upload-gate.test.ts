// The upload gate's order: a valid token, then the client's upload bucket, then the
// preconditions, which only the request that would otherwise be stored gets to fail.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RequestHead } from '../../../src/core/request.js';
import type { AccessPolicy } from '../../../src/http/access-policy.js';
import { gateUpload } from '../../../src/http/upload-gate.js';
import { TokenSet } from '../../../src/security/bearer.js';
import { ClientLimits } from '../../../src/security/client-limits.js';
import { defaultAccessPolicy } from '../../helpers/connection.js';

const TOKEN = 'gate-token-Q9';

function upload(headers: Record<string, string>): RequestHead {
  return {
    method: 'POST',
    target: '/upload',
    version: '1.1',
    headers: { host: 'localhost:8080', 'content-type': 'application/json', ...headers },
    framing: { kind: 'length', length: 2 },
    keepAlive: true,
    expectContinue: false,
  };
}

/** The default policy with tokens on and a bucket of `burst` uploads, on a clock that stands still. */
function policy(burst: number): AccessPolicy {
  return {
    ...defaultAccessPolicy(),
    limits: new ClientLimits({ maxConnectionsPerClient: 128, uploadRatePerMinute: 1, uploadBurst: burst, now: () => 1_000_000 }),
    uploadTokens: { tokens: new TokenSet([TOKEN]) },
  };
}

describe('upload gate', () => {
  test('a request with a token and room in its bucket passes', () => {
    assert.equal(gateUpload(upload({ authorization: `Bearer ${TOKEN}` }), '192.0.2.1', policy(1)), null);
  });

  test('If-Match is refused with 412, after the token and the bucket (RFC 9110 §13.2.1)', () => {
    const access = policy(1);
    const noToken = gateUpload(upload({ 'if-match': '*' }), '192.0.2.1', access);
    assert.equal(noToken?.refusal, 'missing_token');
    const conditional = (): string | undefined => gateUpload(upload({ authorization: `Bearer ${TOKEN}`, 'if-match': '"x"' }), '192.0.2.1', access)?.refusal;
    // A 412 stores nothing and gives back what the bucket gave: the bucket of one stays full.
    assert.deepEqual([conditional(), conditional()], ['upload_if_match', 'upload_if_match']);
    assert.equal(gateUpload(upload({ authorization: `Bearer ${TOKEN}` }), '192.0.2.1', access), null);
    assert.equal(conditional(), 'upload_rate', 'with the bucket empty, its 429 comes before the precondition');
  });

  test('If-None-Match is met: /upload has no current document', () => {
    assert.equal(gateUpload(upload({ authorization: `Bearer ${TOKEN}`, 'if-none-match': '*' }), '192.0.2.1', policy(1)), null);
  });
});
