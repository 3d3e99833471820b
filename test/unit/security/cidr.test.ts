import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AddressRanges, cidrProblem } from '../../../src/security/cidr.js';

test('addresses and CIDR blocks of both families match what they cover', () => {
  const ranges = AddressRanges.parse(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32', '::1']);
  for (const inside of ['10.0.0.0', '10.255.255.255', '192.0.2.7', '2001:db8::1', '2001:db8:ffff::', '::1']) assert.ok(ranges.matches(inside), inside);
  for (const outside of ['11.0.0.1', '192.0.2.8', '2001:db9::1', '::2', '127.0.0.1']) assert.ok(!ranges.matches(outside), outside);
});

test('an IPv4-mapped IPv6 address matches the IPv4 rule', () => {
  const ranges = AddressRanges.parse(['10.0.0.0/8', '192.0.2.7']);
  assert.ok(ranges.matches('::ffff:10.1.2.3'));
  assert.ok(ranges.matches('::ffff:192.0.2.7'));
  assert.ok(ranges.matches('::ffff:c000:207'));
  assert.ok(!ranges.matches('::ffff:11.1.2.3'));
});

test('prefix edges: /0 matches its whole family, /32 and /128 one address', () => {
  const all4 = AddressRanges.parse(['0.0.0.0/0']);
  assert.ok(all4.matches('203.0.113.9'));
  assert.ok(!all4.matches('2001:db8::1'));
  const one = AddressRanges.parse(['203.0.113.9/32', '2001:db8::5/128']);
  assert.ok(one.matches('203.0.113.9') && !one.matches('203.0.113.10'));
  assert.ok(one.matches('2001:db8::5') && !one.matches('2001:db8::6'));
});

test('host bits under the prefix are ignored', () => {
  assert.ok(AddressRanges.parse(['10.1.2.3/8']).matches('10.200.0.1'));
});

test('text that is not an address never matches', () => {
  const ranges = AddressRanges.parse(['0.0.0.0/0', '::/0']);
  for (const text of ['', 'unknown', '1.2.3', '10.0.0.1:80', '[::1]', 'fe80::1%eth0']) assert.ok(!ranges.matches(text), text);
});

test('an empty list matches nothing', () => {
  const ranges = AddressRanges.parse([]);
  for (const address of ['127.0.0.1', '::1', '0.0.0.0']) assert.ok(!ranges.matches(address), address);
});

test('invalid entries are refused with a message naming the entry', () => {
  const cases: ReadonlyArray<readonly [string, RegExp]> = [
    ['10.0.0.0/33', /"10\.0\.0\.0\/33".*0 to 32/],
    ['2001:db8::/129', /0 to 128/],
    ['10.0.0.0/', /prefix length/],
    ['10.0.0.0/08', /prefix length/],
    ['10.0.0.0/8/8', /prefix length/],
    ['10.0.0.0/-1', /prefix length/],
    ['10.0.0', /"10\.0\.0" is not an IP address/],
    ['example.com', /not an IP address/],
    ['fe80::1%eth0/64', /not an IP address/],
    ['[::1]', /not an IP address/],
    ['', /not an IP address/],
  ];
  for (const [entry, message] of cases) {
    assert.match(cidrProblem(entry) ?? 'accepted', message, entry);
    assert.throws(() => AddressRanges.parse(['127.0.0.1', entry]), message, entry);
  }
  assert.equal(cidrProblem('10.0.0.0/8'), null);
});
