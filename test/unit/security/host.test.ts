import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { refusalStatus, securityRuleOf } from '../../../src/core/refusals.js';
import { checkHost, normalizeHost } from '../../../src/security/host.js';

const ALLOWED: ReadonlySet<string> = new Set(['localhost:8080', '127.0.0.1:8080', '[::1]:8080', 'example.test:8080']);

/** An allowlist as config.ts builds it: every entry normalised. */
const allowlist = (...entries: string[]): ReadonlySet<string> => new Set(entries.map((entry) => normalizeHost(entry)!));

describe('normalizeHost', () => {
  test('lowercases and makes the port explicit; no port or an empty one is the default port 80', () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ['example.com', 'example.com:80'],
      ['Example.COM', 'example.com:80'],
      ['example.com:', 'example.com:80'],
      ['example.com:80', 'example.com:80'],
      ['example.com:8080', 'example.com:8080'],
      ['127.0.0.1', '127.0.0.1:80'],
      ['[::1]', '[::1]:80'],
      ['[::1]:', '[::1]:80'],
      ['[::1]:8080', '[::1]:8080'],
      ['[FE80::A:1]:8080', '[fe80::a:1]:8080'],
      ['[::ffff:127.0.0.1]', '[::ffff:7f00:1]:80'],
      ['[0:0:0:0:0:0:0:1]:8080', '[::1]:8080'],
      ['[2001:0DB8:0:0:1:0:0:1]', '[2001:db8::1:0:0:1]:80'],
      ['[2001:db8:0:1:1:1:1:1]', '[2001:db8:0:1:1:1:1:1]:80'],
      ['[::]:8080', '[::]:8080'],
      ['localhost:08080', 'localhost:08080'],
    ];
    for (const [value, normalized] of cases) assert.equal(normalizeHost(value), normalized, value);
  });

  test('a value that is not a host with an optional port is null', () => {
    for (const value of ['', ':80', '::1', '::1:8080', '[::1', '::1]', '[::1]x', '[::1]:80:80', 'a.test:80:80', 'a.test:http', ' a.test', 'a.test ', 'user@a.test', 'a.test/x', 'http://a.test', '[v1.x]', '[fe80::1%25eth0]', '[1.2.3.4]', '[1.2.3.4]:80', '[:]', '[:]:80', '[::ffff:1.2.3.4.5]:80', '[1:2:3:4:5:6:7:8:9]', '[1::2::3]', '[::ffff:1.2.3.04]', '[00000::1]']) {
      assert.equal(normalizeHost(value), null, JSON.stringify(value));
    }
  });
});

describe('Host rules', () => {
  test('a missing or empty Host gets 400', () => {
    assert.deepEqual(checkHost(undefined, ALLOWED), { ok: false, refusal: 'missing_host', detail: 'missing Host header' });
    const empty = checkHost('', ALLOWED);
    assert.ok(!empty.ok);
    assert.equal(refusalStatus(empty.refusal), 400);
    assert.equal(securityRuleOf(empty.refusal), 'missing_host');
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
    const hosts = ['evil.com', 'evil.com:8080', 'localhost', 'localhost:', 'localhost:80', 'localhost:8081', '127.0.0.1', '127.0.0.2:8080', '[::1]', 'localhost:08080', 'example.test.:8080'];
    for (const host of hosts) {
      const check = checkHost(host, ALLOWED);
      assert.ok(!check.ok, host);
      assert.equal(refusalStatus(check.refusal), 403, host);
      assert.equal(securityRuleOf(check.refusal), 'host_not_allowed', host);
      assert.ok(check.detail.includes(host), check.detail);
    }
  });

  test('a value that is not a host and optional port gets 400 (RFC 9112 §3.2), allowed or not', () => {
    const hosts = ['::1:8080', ' localhost:8080', 'localhost:8080:8080', 'a b', 'localhost:8080, evil.com', 'user@localhost:8080', '[zz]:8080', 'localhost:abc', 'localhost:8080/x', '"localhost:8080"', '[::1', 'localhost:8080.evil.com'];
    for (const host of hosts) {
      const check = checkHost(host, ALLOWED);
      assert.ok(!check.ok, host);
      assert.equal(refusalStatus(check.refusal), 400, host);
      assert.equal(securityRuleOf(check.refusal), 'invalid_host', host);
      assert.ok(check.detail.includes(host), check.detail);
    }
  });

  test('on the default port, a Host without a port or with an empty one is accepted (RFC 9110 §7.2, RFC 3986 §6.2.3)', () => {
    const onPort80 = allowlist('localhost:80', '127.0.0.1:80', '[::1]:80');
    for (const host of ['localhost', 'localhost:', 'localhost:80', 'LOCALHOST', '127.0.0.1', '[::1]', '[::1]:', '[::1]:80']) {
      assert.deepEqual(checkHost(host, onPort80), { ok: true }, host);
    }
    for (const host of ['localhost:8080', '[::1]:8080', 'localhost:080']) assert.ok(!checkHost(host, onPort80).ok, host);
  });

  test('an allowed entry without a port matches that name on the default port only', () => {
    const allowed = allowlist('example.com', '[::1]');
    for (const host of ['example.com', 'example.com:', 'example.com:80', 'EXAMPLE.com', '[::1]', '[::1]:80']) {
      assert.deepEqual(checkHost(host, allowed), { ok: true }, host);
    }
    for (const host of ['example.com:8080', 'example.com:443', '[::1]:8080', 'www.example.com']) assert.ok(!checkHost(host, allowed).ok, host);
  });

  test('an allowed entry with port 80 and one without are the same entry', () => {
    for (const entry of ['example.com', 'example.com:80', 'example.com:']) {
      const allowed = allowlist(entry);
      for (const host of ['example.com', 'example.com:80']) assert.deepEqual(checkHost(host, allowed), { ok: true }, `${host} against ${entry}`);
    }
  });

  test('IPv6 literals with and without a port', () => {
    const allowed = allowlist('[::1]:8080', '[2001:DB8::1]');
    for (const host of ['[::1]:8080', '[2001:db8::1]', '[2001:db8::1]:80']) assert.deepEqual(checkHost(host, allowed), { ok: true }, host);
    for (const host of ['[::1]', '[::1]:80', '::1', '[2001:db8::1]:8080']) assert.ok(!checkHost(host, allowed).ok, host);
  });

  test('an IPv6 literal matches however it is spelt: a browser or fetch sends the RFC 5952 form', () => {
    // HOST=::ffff:127.0.0.1 gives this entry; fetch('http://[::ffff:127.0.0.1]:8080/') sends `[::ffff:7f00:1]:8080`.
    const allowed = allowlist('[::ffff:127.0.0.1]:8080', '[2001:DB8:0:0:0:0:0:1]:8080');
    for (const host of ['[::ffff:7f00:1]:8080', '[::ffff:127.0.0.1]:8080', '[0:0:0:0:0:FFFF:7F00:0001]:8080', '[2001:db8::1]:8080', '[2001:0db8::0:1]:8080']) {
      assert.deepEqual(checkHost(host, allowed), { ok: true }, host);
    }
    for (const host of ['[::ffff:7f00:2]:8080', '[127.0.0.1]:8080', '127.0.0.1:8080', '[2001:db8::2]:8080']) assert.ok(!checkHost(host, allowed).ok, host);
  });

  test('anything but an IPv6 address in brackets gets 400, as any value that is not a uri-host (RFC 3986 §3.2.2)', () => {
    for (const host of ['[1.2.3.4]:8080', '[:]:8080', '[::ffff:1.2.3.4.5]:8080', '[v1.fe]:8080', '[::1%25lo]:8080']) {
      const check = checkHost(host, ALLOWED);
      assert.ok(!check.ok, host);
      assert.equal(refusalStatus(check.refusal), 400, host);
      assert.equal(securityRuleOf(check.refusal), 'invalid_host', host);
    }
  });

  test('an empty allowed set refuses everything', () => {
    const check = checkHost('localhost:8080', new Set());
    assert.ok(!check.ok);
    assert.equal(refusalStatus(check.refusal), 403);
  });
});
