import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalAddress } from '../../../src/security/address.js';

test('IPv4 addresses stay as written; leading zeros are refused', () => {
  assert.equal(canonicalAddress('192.0.2.1'), '192.0.2.1');
  assert.equal(canonicalAddress('0.0.0.0'), '0.0.0.0');
  assert.equal(canonicalAddress('192.0.2.01'), null);
  assert.equal(canonicalAddress('192.0.2'), null);
  assert.equal(canonicalAddress('256.0.0.1'), null);
});

test('IPv6 addresses come out in RFC 5952 form', () => {
  assert.equal(canonicalAddress('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
  assert.equal(canonicalAddress('0:0:0:0:0:0:0:1'), '::1');
  assert.equal(canonicalAddress('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
});

test('an IPv4-mapped IPv6 address is the IPv4 address it carries, however written', () => {
  assert.equal(canonicalAddress('::ffff:192.0.2.1'), '192.0.2.1');
  assert.equal(canonicalAddress('::FFFF:C000:0201'), '192.0.2.1');
  assert.equal(canonicalAddress('0:0:0:0:0:ffff:c000:201'), '192.0.2.1');
  // Not mapped: the IPv4-compatible form and NAT64 addresses are IPv6 clients.
  assert.equal(canonicalAddress('64:ff9b::c000:201'), '64:ff9b::c000:201');
});

test('anything else is not an address', () => {
  for (const text of ['', 'localhost', 'fe80::1%eth0', '[::1]', '::1/128', '1.2.3.4:80', ' 1.2.3.4', 'unknown']) {
    assert.equal(canonicalAddress(text), null, text);
  }
});
