import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkHost } from '../../../src/security/host.js';

const ALLOWED: ReadonlySet<string> = new Set(['localhost:8080', '127.0.0.1:8080', '[::1]:8080', 'example.test:8080']);

describe('Host rules', () => {
  test('a missing or empty Host gets 400', () => {
    assert.deepEqual(checkHost(undefined, ALLOWED), { ok: false, status: 400, rule: 'missing_host', reason: 'missing Host header' });
    const empty = checkHost('', ALLOWED);
    assert.ok(!empty.ok);
    assert.equal(empty.status, 400);
    assert.equal(empty.rule, 'missing_host');
  });

  test('an allowed Host passes', () => {
    for (const host of ALLOWED) assert.deepEqual(checkHost(host, ALLOWED), { ok: true }, host);
  });

  test('Host names compare case-insensitively', () => {
    for (const host of ['LOCALHOST:8080', 'LocalHost:8080', 'Example.TEST:8080']) {
      assert.deepEqual(checkHost(host, ALLOWED), { ok: true }, host);
    }
  });

  test('any other Host gets 403 naming it', () => {
    const hosts = ['evil.com', 'evil.com:8080', 'localhost', 'localhost:8081', '127.0.0.1', '127.0.0.2:8080', '[::1]', '::1:8080', 'localhost:8080.evil.com', ' localhost:8080', 'localhost:08080', 'example.test.:8080'];
    for (const host of hosts) {
      const check = checkHost(host, ALLOWED);
      assert.ok(!check.ok, host);
      assert.equal(check.status, 403, host);
      assert.equal(check.rule, 'host_not_allowed', host);
      assert.ok(check.reason.includes(host), check.reason);
    }
  });

  test('an empty allowed set refuses everything', () => {
    const check = checkHost('localhost:8080', new Set());
    assert.ok(!check.ok);
    assert.equal(check.status, 403);
  });
});
