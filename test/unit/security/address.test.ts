import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalAddress, clientNetwork, ipv6UrlText, peerAddress } from '../../../src/security/address.js';

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

test("a socket's link-local peer is its address without the zone, which names our interface", () => {
  assert.equal(peerAddress('fe80::1%lo'), 'fe80::1');
  assert.equal(peerAddress('FE80:0:0:0:0:0:0:1%eth0'), 'fe80::1');
  assert.equal(peerAddress('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(peerAddress('2001:db8::7'), '2001:db8::7');
  // Only the kernel's own report drops a zone: in X-Forwarded-For or a PROXY header it is refused.
  assert.equal(canonicalAddress('fe80::1%lo'), null);
});

test('anything else is not an address', () => {
  for (const text of ['', 'localhost', 'fe80::1%eth0', '[::1]', '::1/128', '1.2.3.4:80', ' 1.2.3.4', 'unknown']) {
    assert.equal(canonicalAddress(text), null, text);
  }
});

test('per-client limits count an IPv6 client by its network, an IPv4 client by its address', () => {
  assert.equal(clientNetwork('2001:db8:1:2:3:4:5:6', 64), '2001:db8:1:2::/64');
  assert.equal(clientNetwork('2001:db8:1:2::ffff', 64), '2001:db8:1:2::/64', 'the same /64, another address');
  assert.equal(clientNetwork('2001:db8::1', 64), '2001:db8::/64');
  assert.equal(clientNetwork('::1', 64), '::/64');
  // NAT64 (RFC 6052): each IPv4 host behind the translator is a client of its own, the same
  // one as when it connects over IPv4; the rest of 64:ff9b::/64 is grouped as usual.
  assert.equal(clientNetwork('64:ff9b::c000:221', 64), '192.0.2.33');
  assert.equal(clientNetwork('64:ff9b::c000:222', 56), '192.0.2.34');
  assert.equal(clientNetwork('64:ff9b::1:c000:221', 64), '64:ff9b::/64');
  // Prefixes that end inside a group keep only that group's leading bits.
  assert.equal(clientNetwork('2001:db8:1:2ff::', 56), '2001:db8:1:200::/56');
  assert.equal(clientNetwork('2001:db8:ffff::', 33), '2001:db8:8000::/33');
  assert.equal(clientNetwork('2001:db8:1:2:3:4:5:6', 127), '2001:db8:1:2:3:4:5:6/127');
  assert.equal(clientNetwork('2001:db8:1:2:3:4:5:7', 127), '2001:db8:1:2:3:4:5:6/127');
  // A dotted IPv4 tail is two groups.
  assert.equal(clientNetwork('2001:db8::192.0.2.1', 96), '2001:db8::/96');
  assert.equal(clientNetwork('2001:db8::192.0.2.1', 112), '2001:db8::c000:0/112');
  assert.equal(clientNetwork('64:ff9b::192.0.2.1', 64), '192.0.2.1');
  // 128 bits: every address is a client of its own, spelled as before.
  assert.equal(clientNetwork('2001:db8::1', 128), '2001:db8::1');
  assert.equal(clientNetwork('192.0.2.1', 64), '192.0.2.1');
  assert.equal(clientNetwork('not an address', 64), 'not an address');
});

test('an IPv6 address as URLs write it: what WHATWG URL (browsers, fetch) puts in a Host header', () => {
  const spellings = ['::1', '0:0:0:0:0:0:0:1', '::', '::ffff:127.0.0.1', '::FFFF:7F00:1', '2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8:0:1:1:1:1:1', '1::', '1:0:0:2::3', 'fe80::a:1', '64:ff9b::192.0.2.1', '0:0:1::'];
  for (const text of spellings) assert.equal(ipv6UrlText(text), new URL(`http://[${text}]/`).hostname.slice(1, -1), text);
  assert.equal(ipv6UrlText('::ffff:127.0.0.1'), '::ffff:7f00:1');
  for (const text of ['1.2.3.4', ':', '::ffff:1.2.3.4.5', 'fe80::1%eth0', '[::1]', '1::2::3']) assert.equal(ipv6UrlText(text), null, text);
});
