// The PROXY protocol header parser: examples from haproxy's proxy-protocol.txt, every error,
// and property-based tests (fast-check): hostile bytes never throw, the answer is the same
// however the bytes are split, and a header is never read past its end.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { canonicalAddress } from '../../../src/security/address.js';
import { MAX_V1_BYTES, MAX_V2_BYTES, parseProxyHeader, ProxyHeaderReader, type ProxyHeader, type ProxyParse } from '../../../src/security/proxy-protocol.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 400);
const SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
const HTTP = Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n');

const text = (value: string): Buffer => Buffer.from(value, 'latin1');
const errorOf = (result: ProxyParse): string => (result.kind === 'error' ? result.error : `no error: ${JSON.stringify(result)}`);

/** A v2 header: version/command byte, family/protocol byte, then the block after the length. */
function v2(versionCommand: number, familyProtocol: number, block: Uint8Array, length = block.length): Buffer {
  const fixed = Buffer.alloc(4);
  fixed[0] = versionCommand;
  fixed[1] = familyProtocol;
  fixed.writeUInt16BE(length, 2);
  return Buffer.concat([SIGNATURE, fixed, block]);
}

function tlv(type: number, value: Uint8Array): Buffer {
  const head = Buffer.alloc(3);
  head[0] = type;
  head.writeUInt16BE(value.length, 1);
  return Buffer.concat([head, value]);
}

/** Two addresses and two ports, as the v2 address block carries them. */
function block(source: Uint8Array, destination: Uint8Array, sourcePort: number, destinationPort: number): Buffer {
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(sourcePort, 0);
  ports.writeUInt16BE(destinationPort, 2);
  return Buffer.concat([source, destination, ports]);
}

const proxied = (family: 'IPv4' | 'IPv6', source: string, sourcePort: number, destination: string, destinationPort: number): ProxyHeader => ({
  kind: 'proxied',
  family,
  source: { address: canonicalAddress(source)!, port: sourcePort },
  destination: { address: canonicalAddress(destination)!, port: destinationPort },
});

describe('version 1', () => {
  test('TCP4 and TCP6 lines give the client; the bytes after the CRLF are left alone', () => {
    const line = 'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n';
    assert.deepEqual(parseProxyHeader(Buffer.concat([text(line), HTTP])), {
      kind: 'header',
      header: proxied('IPv4', '192.168.0.1', 56324, '192.168.0.11', 443),
      consumed: line.length,
    });
    const six = 'PROXY TCP6 2001:DB8:0:0::1 ::ffff:192.0.2.1 0 65535\r\n';
    assert.deepEqual(parseProxyHeader(text(six)), { kind: 'header', header: proxied('IPv6', '2001:db8::1', 0, '192.0.2.1', 65535), consumed: six.length });
  });

  test('UNKNOWN, short or long, keeps the connection’s own addresses', () => {
    assert.deepEqual(parseProxyHeader(text('PROXY UNKNOWN\r\nGET')), { kind: 'header', header: { kind: 'local' }, consumed: 15 });
    const longest = `PROXY UNKNOWN ${'ffff:'.repeat(7)}ffff ${'ffff:'.repeat(7)}ffff 65535 65535\r\n`;
    assert.equal(longest.length, MAX_V1_BYTES);
    assert.deepEqual(parseProxyHeader(text(longest)), { kind: 'header', header: { kind: 'local' }, consumed: MAX_V1_BYTES });
    // Every visible character and space is text: the first and last of US-ASCII's printable range.
    assert.deepEqual(parseProxyHeader(text('PROXY UNKNOWN ~ !\r\n')), { kind: 'header', header: { kind: 'local' }, consumed: 19 });
  });

  test('a line without CRLF in its first 107 bytes is refused at byte 107', () => {
    const long = text(`PROXY UNKNOWN ${'a'.repeat(100)}`);
    assert.equal(parseProxyHeader(long.subarray(0, MAX_V1_BYTES - 1)).kind, 'need-more');
    assert.equal(errorOf(parseProxyHeader(long.subarray(0, MAX_V1_BYTES))), 'v1_line_too_long');
    // The CR as the 107th byte leaves no room for the LF.
    const crLast = text(`PROXY UNKNOWN ${'a'.repeat(MAX_V1_BYTES - 15)}\r\n`);
    assert.equal(errorOf(parseProxyHeader(crLast)), 'v1_line_too_long');
  });

  test('malformed lines are refused', () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ['PROXY TCP4 192.168.0.01 192.168.0.11 56324 443\r\n', 'v1_malformed'], // leading zero
      ['PROXY TCP4 192.168.0.1 192.168.0.11 056324 443\r\n', 'v1_malformed'],
      ['PROXY TCP4 192.168.0.1 192.168.0.11 65536 443\r\n', 'v1_malformed'],
      ['PROXY TCP4 ::1 ::1 1 2\r\n', 'v1_malformed'], // family mismatch
      ['PROXY TCP6 192.0.2.1 192.0.2.2 1 2\r\n', 'v1_malformed'],
      ['PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n', 'v1_malformed'],
      ['PROXY TCP4  192.168.0.1 192.168.0.11 1 2\r\n', 'v1_malformed'], // two spaces
      ['PROXY TCP4 192.168.0.1 192.168.0.11 1 2 \r\n', 'v1_malformed'],
      ['PROXY TCP4 192.168.0.1 192.168.0.11 1\r\n', 'v1_malformed'],
      ['PROXY UDP4 192.168.0.1 192.168.0.11 1 2\r\n', 'v1_malformed'],
      ['PROXY tcp4 192.168.0.1 192.168.0.11 1 2\r\n', 'v1_malformed'],
      ['PROXY UNKNOWNX\r\n', 'v1_malformed'],
      ['PROXY \r\n', 'v1_malformed'],
      ['PROXY TCP4 192.168.0.1 192.168.0.11 1 2\n', 'v1_bad_character'], // bare LF
      ['PROXY TCP4 192.168.0.1 192.168.0.11 1 2\rX', 'v1_bad_character'], // bare CR
      ['PROXY TCP4 192.168.0.1\t192.168.0.11 1 2\r\n', 'v1_bad_character'],
      ['PROXY UNKNOWN \xff\r\n', 'v1_bad_character'],
      ['PROXY UNKNOWN \x7f\r\n', 'v1_bad_character'], // DEL is a control, not text
      ['PROXY UNKNOWN \x1f\r\n', 'v1_bad_character'],
    ];
    for (const [line, error] of cases) assert.equal(errorOf(parseProxyHeader(text(line))), error, JSON.stringify(line));
  });
});

describe('sources no client has', () => {
  test('an unspecified, "this network", multicast, reserved or broadcast source is refused, in either version and family', () => {
    const sources: ReadonlyArray<readonly [string, Buffer]> = [
      ['0.0.0.0', Buffer.of(0, 0, 0, 0)],
      ['0.0.0.1', Buffer.of(0, 0, 0, 1)],
      ['0.255.255.255', Buffer.of(0, 255, 255, 255)],
      ['224.0.0.1', Buffer.of(224, 0, 0, 1)],
      ['239.255.255.255', Buffer.of(239, 255, 255, 255)],
      ['240.0.0.0', Buffer.of(240, 0, 0, 0)],
      ['250.1.2.3', Buffer.of(250, 1, 2, 3)],
      ['255.255.255.254', Buffer.of(255, 255, 255, 254)],
      ['255.255.255.255', Buffer.of(255, 255, 255, 255)],
    ];
    for (const [source, bytes] of sources) {
      assert.equal(errorOf(parseProxyHeader(text(`PROXY TCP4 ${source} 192.0.2.1 1 2\r\n`))), 'bad_source', source);
      assert.equal(errorOf(parseProxyHeader(v2(0x21, 0x11, block(bytes, Buffer.of(192, 0, 2, 1), 1, 2)))), 'bad_source', source);
    }
    // NAT64 (64:ff9b::/96) addresses are the IPv4 hosts they carry, these among them.
    for (const source of ['::', '0:0:0:0:0:0:0:0', 'ff02::1', 'FF05::1:3', 'ff00::', '::ffff:0.0.0.0', '::ffff:0.1.2.3', '::ffff:224.0.0.1', '::ffff:240.0.0.1', '64:ff9b::e000:1', '64:ff9b::0.0.0.0', '64:ff9b::255.255.255.255']) {
      assert.equal(errorOf(parseProxyHeader(text(`PROXY TCP6 ${source} ::1 1 2\r\n`))), 'bad_source', source);
      assert.equal(errorOf(parseProxyHeader(v2(0x21, 0x21, block(ipv6Bytes(source), ipv6Bytes('::1'), 1, 2)))), 'bad_source', source);
    }
  });

  test('the destination may be anything, and addresses next to the refused ones are clients', () => {
    for (const source of ['1.0.0.0', '9.255.255.255', '127.0.0.1', '223.255.255.255']) {
      assert.equal(parseProxyHeader(text(`PROXY TCP4 ${source} 0.0.0.0 1 2\r\n`)).kind, 'header', source);
    }
    for (const source of ['::1', 'ff::1', 'fe80::1', 'fec0::1', '2001:db8::1', '64:ff9b::198.51.100.1']) {
      assert.equal(parseProxyHeader(text(`PROXY TCP6 ${source} :: 1 2\r\n`)).kind, 'header', source);
    }
  });
});

describe('version 2', () => {
  test('TCP over IPv4, as haproxy sends it, before an HTTP request', () => {
    const header = Buffer.from('0d0a0d0a000d0a515549540a2111000cac130001ac130003a6520050', 'hex');
    assert.deepEqual(parseProxyHeader(Buffer.concat([header, HTTP])), {
      kind: 'header',
      header: proxied('IPv4', '172.19.0.1', 42578, '172.19.0.3', 80),
      consumed: 28,
    });
  });

  test('TCP over IPv6 with TLVs: the TLVs are skipped and counted in the header', () => {
    const source = Buffer.from('20010db8000000000000000000000001', 'hex');
    const destination = Buffer.from('00000000000000000000ffffc0000201', 'hex');
    const tlvs = Buffer.concat([tlv(0x04, Buffer.alloc(0)), tlv(0x02, text('example.com')), tlv(0xea, Buffer.alloc(40, 1))]);
    const header = v2(0x21, 0x21, Buffer.concat([block(source, destination, 51000, 8080), tlvs]));
    assert.deepEqual(parseProxyHeader(Buffer.concat([header, HTTP])), {
      kind: 'header',
      header: proxied('IPv6', '2001:db8::1', 51000, '192.0.2.1', 8080),
      consumed: header.length,
    });
  });

  test('LOCAL, unspecified, UNIX and datagram headers keep the connection’s own addresses', () => {
    const four = block(Buffer.of(10, 0, 0, 1), Buffer.of(10, 0, 0, 2), 1, 2);
    const cases: ReadonlyArray<readonly [string, Buffer]> = [
      ['LOCAL, no block', v2(0x20, 0x00, Buffer.alloc(0))],
      ['LOCAL with a block and a family, both ignored', v2(0x20, 0x11, Buffer.alloc(7, 0xff))],
      ['PROXY, unspecified family', v2(0x21, 0x00, Buffer.alloc(5))],
      ['PROXY, IPv4 with unspecified protocol', v2(0x21, 0x10, Buffer.alloc(3))],
      ['PROXY, UDP over IPv4', v2(0x21, 0x12, four)],
      ['PROXY, UNIX stream', v2(0x21, 0x31, Buffer.alloc(216, 0x2f))],
    ];
    for (const [name, header] of cases) {
      assert.deepEqual(parseProxyHeader(Buffer.concat([header, HTTP])), { kind: 'header', header: { kind: 'local' }, consumed: header.length }, name);
    }
  });

  test('each fixed byte is checked as soon as it arrives', () => {
    const four = block(Buffer.of(10, 0, 0, 1), Buffer.of(10, 0, 0, 2), 1, 2);
    const cases: ReadonlyArray<readonly [Buffer, number, string]> = [
      [v2(0x11, 0x11, four), 13, 'v2_bad_version'],
      [v2(0x22, 0x11, four), 13, 'v2_bad_command'],
      [v2(0x2f, 0x11, four), 13, 'v2_bad_command'],
      [v2(0x21, 0x41, four), 14, 'v2_bad_family'],
      [v2(0x21, 0x13, four), 14, 'v2_bad_family'],
      [v2(0x21, 0x11, four, MAX_V2_BYTES - 15), 16, 'v2_too_long'],
      [v2(0x21, 0x11, four, 0xffff), 16, 'v2_too_long'],
      [v2(0x21, 0x11, four.subarray(0, 11)), 16, 'v2_short_addresses'],
      [v2(0x21, 0x21, Buffer.alloc(35)), 16, 'v2_short_addresses'],
      [v2(0x21, 0x31, Buffer.alloc(215)), 16, 'v2_short_addresses'],
    ];
    for (const [header, decidedAt, error] of cases) {
      assert.equal(parseProxyHeader(header.subarray(0, decidedAt - 1)).kind, 'need-more', `${error} before byte ${decidedAt}`);
      assert.equal(errorOf(parseProxyHeader(header.subarray(0, decidedAt))), error);
    }
  });

  test('the largest header accepted is MAX_V2_BYTES', () => {
    const four = block(Buffer.of(10, 0, 0, 1), Buffer.of(10, 0, 0, 2), 1, 2);
    const padding = tlv(0x04, Buffer.alloc(MAX_V2_BYTES - 16 - four.length - 3));
    const header = v2(0x21, 0x11, Buffer.concat([four, padding]));
    assert.equal(header.length, MAX_V2_BYTES);
    assert.equal(parseProxyHeader(header).kind, 'header');
  });

  test('a TLV that runs past the header, or a partial TLV, is refused', () => {
    const four = block(Buffer.of(10, 0, 0, 1), Buffer.of(10, 0, 0, 2), 1, 2);
    const overrun = tlv(0x02, text('example.com')).subarray(0, 8);
    assert.equal(errorOf(parseProxyHeader(v2(0x21, 0x11, Buffer.concat([four, overrun])))), 'v2_bad_tlv');
    assert.equal(errorOf(parseProxyHeader(v2(0x21, 0x11, Buffer.concat([four, Buffer.of(0x04, 0x00)])))), 'v2_bad_tlv');
  });
});

test('what cannot be a PROXY header fails at the first byte that differs', () => {
  const cases: ReadonlyArray<readonly [string, number]> = [
    ['GET / HTTP/1.1\r\n', 1],
    ['POST /upload HTTP/1.1\r\n', 2],
    ['PUT / HTTP/1.1\r\n', 2],
    ['PRI * HTTP/2.0\r\n', 3],
    ['\x16\x03\x01\x02\x00', 1], // a TLS ClientHello
    ['PROXZ', 5],
    ['\r\n\r\n\x00\r\nQUIX', 11],
    ['\r\nGET', 3],
  ];
  for (const [start, decidedAt] of cases) {
    const bytes = text(start);
    assert.equal(parseProxyHeader(bytes.subarray(0, decidedAt - 1)).kind, 'need-more', JSON.stringify(start));
    assert.equal(errorOf(parseProxyHeader(bytes.subarray(0, decidedAt))), 'not_proxy_protocol', JSON.stringify(start));
  }
  assert.equal(parseProxyHeader(new Uint8Array(0)).kind, 'need-more');
});

// ---------------------------------------------------------------------------------------------
// Properties

/** A result as plain data; the reader's `rest` is checked separately. */
type Observed = { readonly kind: 'need-more' } | { readonly kind: 'header'; readonly header: ProxyHeader; readonly consumed: number } | { readonly kind: 'error'; readonly error: string };

function observe(result: ProxyParse): Observed {
  if (result.kind === 'header') return { kind: 'header', header: result.header, consumed: result.consumed };
  if (result.kind === 'error') return { kind: 'error', error: result.error };
  return result;
}

/** Feeds the chunks to a reader until it decides; checks `rest` against the whole input. */
function read(chunks: readonly Buffer[]): Observed {
  const reader = new ProxyHeaderReader();
  const whole = Buffer.concat(chunks);
  let fed = 0;
  for (const chunk of chunks) {
    fed += chunk.length;
    let result;
    try {
      result = reader.push(chunk);
    } catch (error) {
      assert.fail(`push threw: ${String(error)}`);
    }
    if (result.kind === 'need-more') continue;
    if (result.kind === 'header') {
      assert.ok(result.consumed <= fed, 'consumed more than was fed');
      assert.deepEqual(Buffer.concat([result.rest, whole.subarray(fed)]), whole.subarray(result.consumed));
    }
    return observe(result);
  }
  // Undecided: the header could still be complete, so fewer bytes than the largest header.
  assert.ok(whole.length < (whole[0] === 0x50 ? MAX_V1_BYTES : MAX_V2_BYTES), `need-more after ${whole.length} bytes`);
  return { kind: 'need-more' };
}

function split(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let at = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(Buffer.from(bytes.subarray(at, point)));
    at = point;
  }
  return chunks;
}

const byteByByte = (bytes: Buffer): Buffer[] => Array.from(bytes, (byte) => Buffer.of(byte));

interface Generated {
  readonly bytes: Buffer;
  readonly header: ProxyHeader;
}

const port = fc.integer({ min: 0, max: 65_535 });

/** A canonical address a TCP client may connect from: not unspecified, 0.0.0.0/8, multicast, reserved or broadcast. */
function clientLike(address: string): boolean {
  if (address.includes(':')) return address !== '::' && !/^ff..:/.test(address);
  const first = Number(address.split('.')[0]);
  return first >= 1 && first <= 223;
}
const v1Header: fc.Arbitrary<Generated> = fc.oneof(
  fc.record({ source: fc.ipV4().filter(clientLike), destination: fc.ipV4(), sourcePort: port, destinationPort: port }).map(({ source, destination, sourcePort, destinationPort }) => ({
    bytes: text(`PROXY TCP4 ${source} ${destination} ${sourcePort} ${destinationPort}\r\n`),
    header: proxied('IPv4', source, sourcePort, destination, destinationPort),
  })),
  fc.record({ source: fc.ipV6().filter((source) => clientLike(canonicalAddress(source)!)), destination: fc.ipV6(), sourcePort: port, destinationPort: port }).map(({ source, destination, sourcePort, destinationPort }) => ({
    bytes: text(`PROXY TCP6 ${source} ${destination} ${sourcePort} ${destinationPort}\r\n`),
    header: proxied('IPv6', canonicalAddress(source)!, sourcePort, canonicalAddress(destination)!, destinationPort),
  })),
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: MAX_V1_BYTES - 16 }).map((rest) => ({
    bytes: text(`PROXY UNKNOWN${rest === '' ? '' : ` ${rest}`}\r\n`),
    header: { kind: 'local' as const },
  })),
);

const sixteen = fc.uint8Array({ minLength: 16, maxLength: 16 });
const tlvs = fc.array(fc.record({ type: fc.integer({ min: 0, max: 255 }), value: fc.uint8Array({ maxLength: 64 }) }), { maxLength: 5 }).map((list) => Buffer.concat(list.map(({ type, value }) => tlv(type, value))));
const v2Header: fc.Arbitrary<Generated> = fc.oneof(
  fc.record({ source: fc.uint8Array({ minLength: 4, maxLength: 4 }).filter((source) => clientLike(source.join('.'))), destination: fc.uint8Array({ minLength: 4, maxLength: 4 }), sourcePort: port, destinationPort: port, tlvs }).map((spec) => ({
    bytes: v2(0x21, 0x11, Buffer.concat([block(spec.source, spec.destination, spec.sourcePort, spec.destinationPort), spec.tlvs])),
    header: proxied('IPv4', spec.source.join('.'), spec.sourcePort, spec.destination.join('.'), spec.destinationPort),
  })),
  fc.record({ source: sixteen.filter((source) => clientLike(ipv6Text(source))), destination: sixteen, sourcePort: port, destinationPort: port, tlvs }).map((spec) => ({
    bytes: v2(0x21, 0x21, Buffer.concat([block(spec.source, spec.destination, spec.sourcePort, spec.destinationPort), spec.tlvs])),
    header: proxied('IPv6', ipv6Text(spec.source), spec.sourcePort, ipv6Text(spec.destination), spec.destinationPort),
  })),
  // LOCAL with any family and block; PROXY with a family or protocol the server does not use.
  fc.record({ familyProtocol: fc.integer({ min: 0, max: 0x32 }).filter((byte) => byte >> 4 <= 3 && (byte & 0xf) <= 2), block: fc.uint8Array({ maxLength: 40 }) }).map((spec) => ({
    bytes: v2(0x20, spec.familyProtocol, spec.block),
    header: { kind: 'local' as const },
  })),
  fc.record({ familyProtocol: fc.constantFrom(0x00, 0x01, 0x02, 0x10, 0x20, 0x30), block: fc.uint8Array({ maxLength: 40 }) }).map((spec) => ({
    bytes: v2(0x21, spec.familyProtocol, spec.block),
    header: { kind: 'local' as const },
  })),
  fc.record({ familyProtocol: fc.constantFrom(0x12, 0x22, 0x31, 0x32), tlvs }).map((spec) => ({
    bytes: v2(0x21, spec.familyProtocol, Buffer.concat([Buffer.alloc([0, 12, 36, 216][spec.familyProtocol >> 4]!), spec.tlvs])),
    header: { kind: 'local' as const },
  })),
);

/** The 16 bytes of an IPv6 address. */
function ipv6Bytes(address: string): Buffer {
  const groups = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const [head, tail] = groups.split('::') as [string, string?];
  const parse = (part: string | undefined): number[] => (part ? part.split(':').map((group) => parseInt(group, 16)) : []);
  const before = parse(head);
  const after = parse(tail);
  const all = tail === undefined ? before : [...before, ...Array<number>(8 - before.length - after.length).fill(0), ...after];
  return Buffer.from(all.flatMap((group) => [group >> 8, group & 0xff]));
}

/** The 16 bytes as eight hexadecimal groups, in canonical form. */
function ipv6Text(bytes: Uint8Array): string {
  return canonicalAddress(Buffer.from(bytes).toString('hex').match(/.{4}/g)!.join(':'))!;
}

const validHeader = fc.oneof(v1Header, v2Header);
const trailing = fc.oneof(fc.constant(HTTP), fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)));

const FRAGMENTS = ['PROXY ', 'PROXY', 'TCP4', 'TCP6', 'UNKNOWN', ' ', '\r\n', '\r', '\n', '192.0.2.1', '::1', '::ffff:1.2.3.4', '65535', '0', '00', '\x00', '\xff', SIGNATURE.toString('latin1'), '\x21', '\x20', '\x11', '\x21\x11\x00\x0c', '\x00\x00', '\xff\xff', 'GET / HTTP/1.1'];
const fragmentSoup = fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 16 }).map((parts) => text(parts.join('')));

type Edit = { readonly at: number; readonly kind: 'flip' | 'delete' | 'insert'; readonly value: number; readonly fragment: string };
const edit: fc.Arbitrary<Edit> = fc.record({ at: fc.nat(), kind: fc.constantFrom('flip', 'delete', 'insert'), value: fc.integer({ min: 0, max: 255 }), fragment: fc.constantFrom(...FRAGMENTS) });

function applyEdit(bytes: Buffer, { at, kind, value, fragment }: Edit): Buffer {
  const i = at % (bytes.length + 1);
  if (kind === 'flip') {
    const copy = Buffer.from(bytes);
    if (i < copy.length) copy[i] = value;
    return copy;
  }
  if (kind === 'delete') return Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + 1 + (value % 4))]);
  return Buffer.concat([bytes.subarray(0, i), text(fragment), bytes.subarray(i)]);
}

const mutated = fc.tuple(validHeader, trailing, fc.array(edit, { minLength: 1, maxLength: 3 })).map(([valid, after, edits]) => edits.reduce(applyEdit, Buffer.concat([valid.bytes, after])));
const hostile = fc.oneof(fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)), fragmentSoup, mutated);
const cuts = fc.array(fc.nat(), { maxLength: 6 });

describe('properties', () => {
  test('a valid header followed by anything parses to what was sent, consuming exactly the header', () => {
    fc.assert(
      fc.property(validHeader, trailing, cuts, ({ bytes, header }, after, at) => {
        const expected: Observed = { kind: 'header', header, consumed: bytes.length };
        const stream = Buffer.concat([bytes, after]);
        assert.deepStrictEqual(read([stream]), expected);
        assert.deepStrictEqual(read(split(stream, at)), expected);
        assert.deepStrictEqual(read(byteByByte(stream)), expected);
      }),
      { numRuns: RUNS },
    );
  });

  test('hostile bytes never throw and get the same answer however they are split', () => {
    fc.assert(
      fc.property(hostile, cuts, (bytes, at) => {
        const whole = read([bytes]);
        assert.deepStrictEqual(read(split(bytes, at)), whole);
        assert.deepStrictEqual(read(byteByByte(bytes)), whole);
      }),
      { numRuns: RUNS * 3 },
    );
  });

  test('an accepted header is decided by its own bytes alone, and a prefix of them is never enough', () => {
    fc.assert(
      fc.property(fc.oneof(hostile, validHeader.map((valid) => valid.bytes)), (bytes) => {
        const result = parseProxyHeader(bytes);
        if (result.kind !== 'header') return;
        assert.deepStrictEqual(parseProxyHeader(bytes.subarray(0, result.consumed)), result);
        assert.equal(parseProxyHeader(bytes.subarray(0, result.consumed - 1)).kind, 'need-more');
      }),
      { numRuns: RUNS * 2 },
    );
  });
});
