import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalAddress, type CanonicalAddress } from '../../../src/security/address.js';
import { AddressRanges, canonicalCidr, cidrProblem } from '../../../src/security/cidr.js';

/** An address as the server hands it to the ranges: canonical, as read off a socket, a PROXY header or X-Forwarded-For. */
const canonical = (text: string): CanonicalAddress => canonicalAddress(text) ?? assert.fail(`${text} is not an address`);

test('addresses and CIDR blocks of both families match what they cover', () => {
  const ranges = AddressRanges.parse(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32', '::1']);
  for (const inside of ['10.0.0.0', '10.255.255.255', '192.0.2.7', '2001:db8::1', '2001:db8:ffff::', '::1']) assert.ok(ranges.matches(canonical(inside)), inside);
  for (const outside of ['11.0.0.1', '192.0.2.8', '2001:db9::1', '::2', '127.0.0.1']) assert.ok(!ranges.matches(canonical(outside)), outside);
});

test('an IPv4-mapped IPv6 address matches the IPv4 rule', () => {
  const ranges = AddressRanges.parse(['10.0.0.0/8', '192.0.2.7']);
  assert.ok(ranges.matches(canonical('::ffff:10.1.2.3')));
  assert.ok(ranges.matches(canonical('::ffff:192.0.2.7')));
  assert.ok(ranges.matches(canonical('::ffff:c000:207')));
  assert.ok(!ranges.matches(canonical('::ffff:11.1.2.3')));
});

test('prefix edges: /0 matches its whole family, /32 and /128 one address', () => {
  const all4 = AddressRanges.parse(['0.0.0.0/0']);
  assert.ok(all4.matches(canonical('203.0.113.9')));
  assert.ok(!all4.matches(canonical('2001:db8::1')));
  const one = AddressRanges.parse(['203.0.113.9/32', '2001:db8::5/128']);
  assert.ok(one.matches(canonical('203.0.113.9')) && !one.matches(canonical('203.0.113.10')));
  assert.ok(one.matches(canonical('2001:db8::5')) && !one.matches(canonical('2001:db8::6')));
});

test('an IPv6 block never covers IPv4 peers, not even ::/0 (BlockList alone matches them through ::ffff:a.b.c.d)', () => {
  for (const entry of ['::/0', '::/8', '::/64', '::/80', '::fffe:0:0/95', '::']) {
    const ranges = AddressRanges.parse([entry]);
    for (const peer of ['127.0.0.1', '10.1.2.3', '0.0.0.0', '::ffff:127.0.0.1']) assert.ok(!ranges.matches(canonical(peer)), `${entry} matched ${peer}`);
  }
  assert.ok(AddressRanges.parse(['::/0']).matches(canonical('2001:db8::1')));
  assert.ok(AddressRanges.parse(['::/8']).matches(canonical('::1')));
  // Nor does an IPv4 block cover IPv6 peers, whatever their bits.
  assert.ok(!AddressRanges.parse(['0.0.0.0/0']).matches(canonical('::1')));
  assert.ok(!AddressRanges.parse(['0.0.0.0/0']).matches(canonical('64:ff9b::a00:1')));
});

test('an IPv4-mapped entry is refused, naming the IPv4 address or block to write: no IPv6 entry trusts IPv4 peers', () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ['::ffff:0:0/96', '"::ffff:0:0/96" is an IPv4-mapped block: write the IPv4 block 0.0.0.0/0 (it also matches IPv4 peers reported as ::ffff:a.b.c.d)'],
    ['::ffff:0.0.0.0/96', '"::ffff:0.0.0.0/96" is an IPv4-mapped block: write the IPv4 block 0.0.0.0/0 (it also matches IPv4 peers reported as ::ffff:a.b.c.d)'],
    ['::ffff:10.0.0.0/104', '"::ffff:10.0.0.0/104" is an IPv4-mapped block: write the IPv4 block 10.0.0.0/8 (it also matches IPv4 peers reported as ::ffff:a.b.c.d)'],
    ['::FFFF:a00:0/104', '"::FFFF:a00:0/104" is an IPv4-mapped block: write the IPv4 block 10.0.0.0/8 (it also matches IPv4 peers reported as ::ffff:a.b.c.d)'],
    ['::ffff:10.0.0.5/104', '"::ffff:10.0.0.5/104" is an IPv4-mapped block with host bits set: write the IPv4 block 10.0.0.0/8 (it also matches IPv4 peers reported as ::ffff:a.b.c.d)'],
    ['::ffff:c000:207', '"::ffff:c000:207" is an IPv4-mapped address: write the IPv4 address 192.0.2.7 (it also matches IPv4 peers reported as ::ffff:a.b.c.d)'],
    ['0:0:0:0:0:ffff:192.0.2.7/128', '"0:0:0:0:0:ffff:192.0.2.7/128" is an IPv4-mapped address: write the IPv4 address 192.0.2.7 (it also matches IPv4 peers reported as ::ffff:a.b.c.d)'],
  ];
  for (const [entry, message] of cases) {
    assert.equal(cidrProblem(entry), message, entry);
    assert.equal(canonicalCidr(entry), null, entry);
    assert.throws(() => AddressRanges.parse([entry]), { message }, entry);
  }
  // The IPv4 entry it names matches the mapped form of its addresses.
  assert.ok(AddressRanges.parse(['10.0.0.0/8']).matches(canonical('::ffff:10.9.8.7')));
});

test('entries read as canonical text, once each', () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['192.0.2.7/32', '192.0.2.7'],
    ['2001:DB8:0:0::/32', '2001:db8::/32'],
    ['2001:db8::5/128', '2001:db8::5'],
  ];
  for (const [entry, canonical] of cases) assert.equal(canonicalCidr(entry), canonical, entry);
  assert.equal(canonicalCidr('10.0.0.5/8'), null);
  assert.deepEqual(AddressRanges.parse(['10.0.0.1', '10.0.0.1/32']).entries, ['10.0.0.1']);
});

test('host bits under the prefix are refused, naming the network probably meant', () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ['10.0.0.5/8', '"10.0.0.5/8" has host bits set: write 10.0.0.0/8'],
    ['10.1.2.3/8', '"10.1.2.3/8" has host bits set: write 10.0.0.0/8'],
    ['192.0.2.7/0', '"192.0.2.7/0" has host bits set: write 0.0.0.0/0'],
    ['2001:db8::1/32', '"2001:db8::1/32" has host bits set: write 2001:db8::/32'],
    ['2001:db8:ffff::/33', '"2001:db8:ffff::/33" has host bits set: write 2001:db8:8000::/33'],
    ['::1/64', '"::1/64" has host bits set: write ::/64'],
    // `::/8` as written: the IPv4 block was surely meant.
    ['::ffff:10.0.0.0/8', '"::ffff:10.0.0.0/8" has host bits set (the prefix of an IPv4-mapped address counts all 128 bits): write the IPv4 block 10.0.0.0/8'],
    ['::ffff:0:0/0', '"::ffff:0:0/0" has host bits set (the prefix of an IPv4-mapped address counts all 128 bits): write the IPv4 block 0.0.0.0/0'],
    ['::ffff:10.0.0.0/80', '"::ffff:10.0.0.0/80" has host bits set: write ::/80'],
  ];
  for (const [entry, message] of cases) {
    assert.equal(cidrProblem(entry), message, entry);
    assert.throws(() => AddressRanges.parse([entry]), { message }, entry);
  }
});

test('text that is not an address has no canonical form, so it never reaches the ranges', () => {
  for (const text of ['', 'unknown', '1.2.3', '10.0.0.1:80', '[::1]', 'fe80::1%eth0']) assert.equal(canonicalAddress(text), null, text);
});

test('an empty list matches nothing', () => {
  const ranges = AddressRanges.parse([]);
  for (const address of ['127.0.0.1', '::1', '0.0.0.0']) assert.ok(!ranges.matches(canonical(address)), address);
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
    ['fe80::1%eth0/64', /"fe80::1%eth0\/64": zone ids \("%eth0"\) are not allowed/],
    ['fe80::/10%eth0', /"fe80::\/10%eth0": zone ids .* are not allowed/],
    ['fe80::1%eth0', /zone ids .* are not allowed/],
    ['[::1]', /not an IP address/],
    ['', /not an IP address/],
  ];
  for (const [entry, message] of cases) {
    assert.match(cidrProblem(entry) ?? 'accepted', message, entry);
    assert.throws(() => AddressRanges.parse(['127.0.0.1', entry]), message, entry);
  }
  assert.equal(cidrProblem('10.0.0.0/8'), null);
});
