import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { canonicalAddress, peerAddress, type CanonicalAddress } from '../../../src/security/address.js';
import { AddressRanges } from '../../../src/security/cidr.js';
import { connectionAddress, requestClient } from '../../../src/security/forwarded.js';

const trusted = AddressRanges.parse(['10.0.0.0/8', '2001:db8:ffff::/48']);
/** An address as the server hands it over: canonical, as read off a socket or a PROXY header. */
const canonical = (text: string): CanonicalAddress => canonicalAddress(text) ?? assert.fail(`${text} is not an address`);
const BALANCER = canonical('10.0.0.1');

/** The client requestClient finds; fails when it finds an impossible source instead. */
function clientAddress(peer: CanonicalAddress, forwardedFor: string | undefined, ranges: AddressRanges): CanonicalAddress {
  const found = requestClient(peer, forwardedFor, ranges);
  return found.ok ? found.client : assert.fail(`${forwardedFor} named the impossible source ${found.impossibleSource}`);
}

test('X-Forwarded-For is ignored unless the peer is a trusted proxy', () => {
  assert.equal(clientAddress(canonical('203.0.113.5'), '198.51.100.7', trusted), '203.0.113.5');
  assert.equal(clientAddress(canonical('203.0.113.5'), '10.0.0.9', trusted), '203.0.113.5');
  assert.equal(clientAddress(BALANCER, '198.51.100.7', AddressRanges.parse([])), BALANCER);
  assert.equal(clientAddress(BALANCER, undefined, trusted), BALANCER);
});

test('from a trusted peer, the rightmost address that is not a trusted proxy is the client', () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ['198.51.100.7', '198.51.100.7'],
    // Whatever the client wrote on the left is passed over: the balancer appended the truth.
    ['1.1.1.1, 198.51.100.7', '198.51.100.7'],
    ['spoofed, 198.51.100.7', '198.51.100.7'],
    ['198.51.100.7, 10.0.0.2, 10.0.0.3', '198.51.100.7'],
    ['2001:db8::7, 2001:db8:ffff::1', '2001:db8::7'],
    ['::ffff:198.51.100.7', '198.51.100.7'],
    ['2001:DB8:0::7', '2001:db8::7'],
    ['198.51.100.7:4711', '198.51.100.7'],
    ['[2001:db8::7]:4711', '2001:db8::7'],
    ['[2001:db8::7]', '2001:db8::7'],
    ['198.51.100.7:65535', '198.51.100.7'],
    ['198.51.100.7,,10.0.0.2,', '198.51.100.7'],
    ['\t198.51.100.7 ,10.0.0.2', '198.51.100.7'],
  ];
  for (const [header, client] of cases) assert.equal(clientAddress(BALANCER, header, trusted), client, header);
});

test('when every entry is a trusted proxy, the leftmost is the client', () => {
  assert.equal(clientAddress(BALANCER, '10.0.0.7, 10.0.0.2', trusted), '10.0.0.7');
  assert.equal(clientAddress(BALANCER, '', trusted), BALANCER);
  assert.equal(clientAddress(BALANCER, ' , ', trusted), BALANCER);
});

test('an entry that is not an address stops the walk at the peer', () => {
  const cases = ['garbage, 10.0.0.2', 'unknown', '198.51.100.7, 10.0.0.2 10.0.0.3', '198.51.100.07', 'fe80::1%eth0', '198.51.100.7:http', '[198.51.100.7]', '2001:db8::7:4711x', '198.51.100.7:99999', '[2001:db8::7]:65536'];
  for (const header of cases) assert.equal(clientAddress(BALANCER, header, trusted), BALANCER, header);
  // An address with a port is the whole entry, not a part of one.
  for (const header of ['junk1.2.3.4:80', '1.2.3.4:80junk', 'x[2001:db8::1]:80', '[2001:db8::1]:80junk', '[2001:db8::1]junk']) {
    assert.equal(clientAddress(BALANCER, header, trusted), BALANCER, header);
  }
  // Past the first untrusted address, nothing else is read.
  assert.equal(clientAddress(BALANCER, 'garbage, 198.51.100.7', trusted), '198.51.100.7');
});

describe('sources no client has', () => {
  test('a source no TCP client has, named by a trusted hop, is an impossible source, not a client', () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ['0.0.0.0', '0.0.0.0'],
      ['0.1.2.3', '0.1.2.3'],
      ['224.0.0.1', '224.0.0.1'],
      ['239.255.255.255:80', '239.255.255.255'],
      ['240.0.0.1', '240.0.0.1'],
      ['255.255.255.255', '255.255.255.255'],
      ['::', '::'],
      ['[::]:443', '::'],
      ['ff02::1', 'ff02::1'],
      ['[FF05::1:3]', 'ff05::1:3'],
      ['::ffff:0.0.0.0', '0.0.0.0'],
      ['::ffff:224.0.0.1', '224.0.0.1'],
      // Behind a trusted proxy of the chain, and as the leftmost of an all-trusted chain.
      ['0.0.0.0, 10.0.0.2', '0.0.0.0'],
      ['ff02::1, 10.0.0.2, 10.0.0.3', 'ff02::1'],
      ['198.51.100.7, 0.0.0.0', '0.0.0.0'],
    ];
    for (const [header, source] of cases) {
      assert.deepEqual(requestClient(BALANCER, header, trusted), { ok: false, impossibleSource: source }, header);
    }
    // Even where the ranges would trust it as a proxy: no proxy has such an address either.
    const wide = AddressRanges.parse(['0.0.0.0/0', '::/0']);
    assert.deepEqual(requestClient(BALANCER, '198.51.100.7, 0.0.0.0', wide), { ok: false, impossibleSource: '0.0.0.0' });
  });

  test('what the client wrote left of its own address, or an untrusted peer writes, is not read', () => {
    assert.equal(clientAddress(BALANCER, '0.0.0.0, 198.51.100.7', trusted), '198.51.100.7');
    assert.equal(clientAddress(BALANCER, '255.255.255.255, ff02::1, 198.51.100.7, 10.0.0.2', trusted), '198.51.100.7');
    assert.equal(clientAddress(BALANCER, 'garbage, 224.0.0.1, 198.51.100.7', trusted), '198.51.100.7');
    assert.equal(clientAddress(canonical('203.0.113.5'), '0.0.0.0', trusted), '203.0.113.5');
  });

  test("loopback and link-local sources are clients: processes on a proxy's own host", () => {
    for (const [header, client] of [['127.0.0.1', '127.0.0.1'], ['::1', '::1'], ['[fe80::1]:80', 'fe80::1'], ['169.254.0.1', '169.254.0.1'], ['223.255.255.255', '223.255.255.255'], ['1.0.0.0', '1.0.0.0']] as const) {
      assert.equal(clientAddress(BALANCER, header, trusted), client, header);
    }
  });
});

test('a connection speaks for its PROXY header’s source, else for its peer', () => {
  const header = { kind: 'proxied', family: 'IPv4', source: { address: canonical('198.51.100.7'), port: 1 }, destination: { address: canonical('10.0.0.5'), port: 80 } } as const;
  assert.equal(connectionAddress(BALANCER, header), '198.51.100.7');
  assert.equal(connectionAddress(BALANCER, { kind: 'local' }), BALANCER);
  // A dual-stack socket's IPv4 peer, as the listener reads it.
  assert.equal(connectionAddress(peerAddress('::ffff:127.0.0.1')!, null), '127.0.0.1');
});
