// The PROXY protocol header (haproxy's doc/proxy-protocol.txt), pure: a load balancer that
// relays a TCP connection first sends one header naming the client it speaks for, as a text
// line (version 1) or a binary block (version 2). `parseProxyHeader` decides from the bytes
// received so far; the decision never changes as more bytes arrive, so any split of the same
// bytes gives the same answer, and it never reads past the header.
import { isIPv4, isIPv6 } from 'node:net';
import { canonicalAddress, isClientAddress, type CanonicalAddress } from './address.js';

export interface Endpoint {
  /** An IPv4-mapped IPv6 address reads as IPv4. */
  readonly address: CanonicalAddress;
  readonly port: number;
}

export type ProxyHeader =
  /** The relayed connection's client (`source`) and the address it connected to. */
  | { readonly kind: 'proxied'; readonly family: 'IPv4' | 'IPv6'; readonly source: Endpoint; readonly destination: Endpoint }
  /**
   * The connection's own addresses stand: a v2 LOCAL command (the balancer's health check),
   * v1 UNKNOWN, or an address family this server has no use for (unspecified, UNIX sockets,
   * datagrams), which §2.2 lets a receiver treat as unspecified.
   */
  | { readonly kind: 'local' };

type ProxiedHeader = Extract<ProxyHeader, { kind: 'proxied' }>;

/** Stable codes for logs and metrics; each error also carries a sentence. */
export type ProxyHeaderError =
  | 'not_proxy_protocol'
  | 'v1_line_too_long'
  | 'v1_bad_character'
  | 'v1_malformed'
  | 'bad_source'
  | 'v2_bad_version'
  | 'v2_bad_command'
  | 'v2_bad_family'
  | 'v2_too_long'
  | 'v2_short_addresses'
  | 'v2_bad_tlv';

export type ProxyParse =
  | { readonly kind: 'need-more' }
  /** `consumed` bytes are the header; what follows them is the relayed stream. */
  | { readonly kind: 'header'; readonly header: ProxyHeader; readonly consumed: number }
  | { readonly kind: 'error'; readonly error: ProxyHeaderError; readonly message: string };

/** §2.1: the longest v1 line, CRLF included ("PROXY UNKNOWN" with two full IPv6 addresses). */
export const MAX_V1_BYTES = 107;
/**
 * Our cap on a whole v2 header. The largest address block is 216 bytes (two UNIX paths); the
 * rest is room for TLVs such as cloud balancers' endpoint ids, TLS details and a unique id.
 */
export const MAX_V2_BYTES = 1024;

const V1_PREFIX = new TextEncoder().encode('PROXY ');
const V2_SIGNATURE = Uint8Array.of(0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a);
const V2_FIXED_BYTES = 16;
const CR = 0x0d;
const LF = 0x0a;

const NEED_MORE: ProxyParse = { kind: 'need-more' };
const LOCAL: ProxyHeader = { kind: 'local' };
const fail = (error: ProxyHeaderError, message: string): ProxyParse => ({ kind: 'error', error, message });

/** Parses the first bytes of a connection (all of them so far, from the first byte). */
export function parseProxyHeader(bytes: Uint8Array): ProxyParse {
  if (bytes.length === 0) return NEED_MORE;
  // Either signature is told apart by its first byte, so a plain request fails at once.
  if (bytes[0] === V2_SIGNATURE[0]) return startsLike(bytes, V2_SIGNATURE) ? parseV2(bytes) : notProxy();
  if (bytes[0] === V1_PREFIX[0]) return startsLike(bytes, V1_PREFIX) ? parseV1(bytes) : notProxy();
  return notProxy();
}

const notProxy = (): ProxyParse => fail('not_proxy_protocol', 'the connection does not start with a PROXY protocol header');

/** Whether the bytes so far agree with `signature` (as far as either goes). */
function startsLike(bytes: Uint8Array, signature: Uint8Array): boolean {
  const length = Math.min(bytes.length, signature.length);
  for (let i = 0; i < length; i++) if (bytes[i] !== signature[i]) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Version 1: "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n" (§2.1)

/** Finds the CRLF within the first 107 bytes; refuses a lone CR or LF and non-text bytes. */
function parseV1(bytes: Uint8Array): ProxyParse {
  const end = Math.min(bytes.length, MAX_V1_BYTES);
  for (let i = V1_PREFIX.length; i < end; i++) {
    const byte = bytes[i]!;
    if (byte === CR) {
      if (i + 1 === MAX_V1_BYTES) return tooLong();
      if (i + 1 === bytes.length) return NEED_MORE;
      if (bytes[i + 1] !== LF) return fail('v1_bad_character', 'a CR not followed by LF in a v1 line');
      return parseV1Line(Buffer.from(bytes.buffer, bytes.byteOffset, i).toString('latin1'), i + 2);
    }
    // One line of US-ASCII text; a bare LF does not end it.
    if (byte < 0x20 || byte > 0x7e) return fail('v1_bad_character', `byte 0x${byte.toString(16)} in a v1 line`);
  }
  return bytes.length >= MAX_V1_BYTES ? tooLong() : NEED_MORE;
}

const tooLong = (): ProxyParse => fail('v1_line_too_long', `no CRLF in the first ${MAX_V1_BYTES} bytes of a v1 line`);

function parseV1Line(line: string, consumed: number): ProxyParse {
  const fields = line.split(' ');
  // UNKNOWN: the receiver ignores the rest of the line and uses the real connection.
  if (fields[1] === 'UNKNOWN') return { kind: 'header', header: LOCAL, consumed };
  const [, protocol, source, destination, sourcePort, destinationPort] = fields;
  if ((protocol !== 'TCP4' && protocol !== 'TCP6') || fields.length !== 6) return fail('v1_malformed', 'a v1 line must be "PROXY TCP4|TCP6 <source> <destination> <source port> <destination port>"');
  const family = protocol === 'TCP4' ? 'IPv4' : 'IPv6';
  const from = v1Endpoint(family, source!, sourcePort!);
  const to = v1Endpoint(family, destination!, destinationPort!);
  if (from === null || to === null) return fail('v1_malformed', `a v1 ${protocol} line with an invalid address or port`);
  return proxiedHeader({ kind: 'proxied', family, source: from, destination: to }, consumed);
}

/** The header, unless its source is an address no TCP client can have. */
function proxiedHeader(header: ProxiedHeader, consumed: number): ProxyParse {
  if (!isClientAddress(header.source.address)) return fail('bad_source', 'the source address is unspecified, "this network" (0.0.0.0/8), multicast, reserved (240.0.0.0/4) or broadcast: no TCP client has it');
  return { kind: 'header', header, consumed };
}

/** Decimal without leading zeros (§2.1: no confusion with octal), 0 to 65535. */
const PORT = /^(?:0|[1-9]\d{0,4})$/;
const IPV6_TEXT = /^[0-9A-Fa-f:.]+$/;

function v1Endpoint(family: 'IPv4' | 'IPv6', address: string, port: string): Endpoint | null {
  const valid = family === 'IPv4' ? isIPv4(address) : isIPv6(address) && IPV6_TEXT.test(address);
  if (!valid || !PORT.test(port) || Number(port) > 65_535) return null;
  return { address: canonicalAddress(address)!, port: Number(port) };
}

// ---------------------------------------------------------------------------------------------
// Version 2: signature, version and command, family and protocol, length, addresses, TLVs (§2.2)

const COMMAND_LOCAL = 0x0;
const COMMAND_PROXY = 0x1;
const FAMILY_INET = 0x1;
const FAMILY_INET6 = 0x2;
const PROTOCOL_STREAM = 0x1;
/** Address block bytes by family: unspecified, IPv4, IPv6, UNIX (two 108-byte paths). */
const ADDRESS_BYTES = [0, 12, 36, 216] as const;

/** Checks each fixed byte as soon as it arrives, so a bad header fails before its body comes. */
function parseV2(bytes: Uint8Array): ProxyParse {
  if (bytes.length <= 12) return NEED_MORE;
  if (bytes[12]! >> 4 !== 2) return fail('v2_bad_version', `v2 version nibble ${bytes[12]! >> 4}, only 2 exists`);
  const command = bytes[12]! & 0x0f;
  if (command !== COMMAND_LOCAL && command !== COMMAND_PROXY) return fail('v2_bad_command', `v2 command ${command}, only LOCAL (0) and PROXY (1) exist`);
  if (bytes.length === 13) return NEED_MORE;
  const family = bytes[13]! >> 4;
  const protocol = bytes[13]! & 0x0f;
  if (family > 3 || protocol > 2) return fail('v2_bad_family', `v2 family ${family} or protocol ${protocol} does not exist`);
  if (bytes.length < V2_FIXED_BYTES) return NEED_MORE;
  const total = V2_FIXED_BYTES + ((bytes[14]! << 8) | bytes[15]!);
  if (total > MAX_V2_BYTES) return fail('v2_too_long', `a v2 header of ${total} bytes, more than the ${MAX_V2_BYTES} accepted`);
  // LOCAL: the whole block is skipped, family included; unspecified: addresses are ignored.
  const addresses = command === COMMAND_PROXY && protocol !== 0 ? ADDRESS_BYTES[family as 0 | 1 | 2 | 3] : 0;
  if (total < V2_FIXED_BYTES + addresses) return fail('v2_short_addresses', `a v2 length too short for the family's ${addresses} address bytes`);
  if (bytes.length < total) return NEED_MORE;
  if (addresses > 0 && !tlvsFit(bytes, V2_FIXED_BYTES + addresses, total)) return fail('v2_bad_tlv', 'a v2 TLV runs past the end of the header');
  const proxied = family === FAMILY_INET || family === FAMILY_INET6;
  if (addresses === 0 || !proxied || protocol !== PROTOCOL_STREAM) return { kind: 'header', header: LOCAL, consumed: total };
  return proxiedHeader(v2Addresses(bytes, family === FAMILY_INET ? 4 : 16), total);
}

/** TLVs (type, 16-bit length, value) are skipped, but each must end within the header. */
function tlvsFit(bytes: Uint8Array, start: number, end: number): boolean {
  let at = start;
  while (at < end) {
    if (end - at < 3) return false;
    at += 3 + ((bytes[at + 1]! << 8) | bytes[at + 2]!);
  }
  return at === end;
}

/** Source address, destination address, source port, destination port, in network order. */
function v2Addresses(bytes: Uint8Array, size: 4 | 16): ProxiedHeader {
  const at = V2_FIXED_BYTES;
  const port = (offset: number): number => (bytes[offset]! << 8) | bytes[offset + 1]!;
  return {
    kind: 'proxied',
    family: size === 4 ? 'IPv4' : 'IPv6',
    source: { address: binaryAddress(bytes.subarray(at, at + size)), port: port(at + 2 * size) },
    destination: { address: binaryAddress(bytes.subarray(at + size, at + 2 * size)), port: port(at + 2 * size + 2) },
  };
}

function binaryAddress(bytes: Uint8Array): CanonicalAddress {
  if (bytes.length === 4) return canonicalAddress(bytes.join('.'))!;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return canonicalAddress(groups.join(':'))!;
}

// ---------------------------------------------------------------------------------------------
// Feeding a connection's reads

export type ProxyRead =
  | Exclude<ProxyParse, { kind: 'header' }>
  /** `rest`: the bytes of this read after the header, the first bytes of the relayed stream. */
  | { readonly kind: 'header'; readonly header: ProxyHeader; readonly consumed: number; readonly rest: Uint8Array };

/**
 * Collects a connection's first reads until the header is decided. It holds fewer than
 * MAX_V2_BYTES: the parser answers need-more only while the header can still be complete.
 */
export class ProxyHeaderReader {
  private held: Uint8Array = new Uint8Array(0);

  push(chunk: Uint8Array): ProxyRead {
    const bytes = this.held.length === 0 ? chunk : Buffer.concat([this.held, chunk]);
    const result = parseProxyHeader(bytes);
    if (result.kind === 'need-more') {
      this.held = new Uint8Array(bytes); // a copy: never pin a socket's larger buffer
      return result;
    }
    this.held = new Uint8Array(0);
    if (result.kind === 'error') return result;
    return { ...result, rest: bytes.subarray(result.consumed) };
  }
}
