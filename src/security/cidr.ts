// Address ranges such as TRUSTED_PROXIES, pure: a list of addresses and CIDR blocks, and
// whether an address falls in one of them. Each family is matched against its own entries
// only. node:net's BlockList alone would check an IPv4 address against IPv6 rules through its
// IPv4-mapped form (`::ffff:10.0.0.1`), so that `::/0`, `::/64`, or `::ffff:10.0.0.0/8`
// (which is `::/8`) would cover every IPv4 client. An IPv4-mapped entry (`::ffff:10.0.0.0/104`)
// is refused, naming the IPv4 block to write instead (`10.0.0.0/8`): so no IPv6 entry, however
// written, trusts an IPv4 peer, and every IPv4 range has one spelling.
import { BlockList, isIP, isIPv4 } from 'node:net';
import { canonicalAddress, ipv6Groups, type CanonicalAddress } from './address.js';

/** One entry, read: the network address (host bits zero, canonical text) and prefix length. */
export interface AddressRange {
  readonly family: 4 | 6;
  readonly network: string;
  readonly prefix: number;
}

const PREFIX = /^(?:0|[1-9]\d{0,2})$/;
/** Bits in front of an IPv4 address in its IPv4-mapped IPv6 form (RFC 4291 §2.5.5.2). */
const MAPPED_BITS = 96;
const EXAMPLE = '(e.g. 10.0.0.0/8, 2001:db8::/32)';

/** The canonical text of a range: an address alone when the range is one address. */
export function rangeText(range: AddressRange): string {
  return range.prefix === (range.family === 4 ? 32 : 128) ? range.network : `${range.network}/${range.prefix}`;
}

/**
 * The range an entry names, or a sentence naming the entry and saying why it names none.
 * Host bits under the prefix (`10.0.0.5/8`) are refused rather than dropped: the entry names
 * one address and a network at once, and which was meant only its author knows.
 */
export function parseRange(entry: string): AddressRange | string {
  // A zone names an interface of this host, which no peer address carries.
  if (entry.includes('%')) return `"${entry}": zone ids ("%eth0") are not allowed: write the address or block alone ${EXAMPLE}`;
  const slash = entry.indexOf('/');
  const address = slash === -1 ? entry : entry.slice(0, slash);
  const version = isIP(address);
  if (version === 0) return `"${entry}" is not an IP address or CIDR block ${EXAMPLE}`;
  const family = version === 4 ? 4 : 6;
  const bits = family === 4 ? 32 : 128;
  const prefixText = slash === -1 ? String(bits) : entry.slice(slash + 1);
  if (!PREFIX.test(prefixText) || Number(prefixText) > bits) return `"${entry}": the prefix length must be a number from 0 to ${bits} for an IPv${family} address`;
  const prefix = Number(prefixText);
  const mapped = family === 6 ? canonicalAddress(address)! : null;
  if (mapped !== null && isIPv4(mapped)) return mappedProblem(entry, address, mapped, prefix);
  const network = networkOf(address, family, prefix);
  if (network !== canonicalAddress(address)) return `"${entry}" has host bits set: write ${network}/${prefix}`;
  return { family, network, prefix };
}

/**
 * Why an IPv4-mapped entry is refused, naming what to write. With a prefix of 96 bits or more
 * it names an IPv4 range, whose own spelling an IPv4 entry already is (and which matches the
 * `::ffff:a.b.c.d` form a dual-stack listener reports); `::ffff:0:0/96` would otherwise be
 * every IPv4 client while reading as an IPv6 entry.
 */
function mappedProblem(entry: string, address: string, ipv4: string, prefix: number): string {
  if (prefix < MAPPED_BITS) {
    // `::ffff:10.0.0.0/80` is `::/80` with host bits set: an IPv6 block, if that was meant.
    if (prefix > 32) return `"${entry}" has host bits set: write ${networkOf(address, 6, prefix)}/${prefix}`;
    // `::ffff:10.0.0.0/8` is `::/8` with host bits set: surely the IPv4 block was meant.
    return `"${entry}" has host bits set (the prefix of an IPv4-mapped address counts all 128 bits): write the IPv4 block ${networkOf(ipv4, 4, prefix)}/${prefix}`;
  }
  const range: AddressRange = { family: 4, network: networkOf(ipv4, 4, prefix - MAPPED_BITS), prefix: prefix - MAPPED_BITS };
  const what = range.prefix === 32 ? 'address' : 'block';
  const hostBits = range.network === ipv4 ? '' : ' with host bits set';
  return `"${entry}" is an IPv4-mapped ${what}${hostBits}: write the IPv4 ${what} ${rangeText(range)} (it also matches IPv4 peers reported as ::ffff:a.b.c.d)`;
}

/** The address with every bit past `prefix` cleared, as canonical text. */
function networkOf(address: string, family: 4 | 6, prefix: number): string {
  const width = family === 4 ? 32 : 128;
  const parts = family === 4 ? address.split('.').map(Number) : ipv6Groups(address);
  const partBits = BigInt(family === 4 ? 8 : 16);
  const value = parts.reduce((bits, part) => (bits << partBits) | BigInt(part), 0n);
  const network = (value >> BigInt(width - prefix)) << BigInt(width - prefix);
  const mask = (1n << partBits) - 1n;
  const out = parts.map((_, index) => Number((network >> (partBits * BigInt(parts.length - 1 - index))) & mask));
  return family === 4 ? out.join('.') : canonicalAddress(out.map((group) => group.toString(16)).join(':'))!;
}

/** Why `entry` is not an address or CIDR block, or null when it is one. */
export function cidrProblem(entry: string): string | null {
  const range = parseRange(entry);
  return typeof range === 'string' ? range : null;
}

/** The canonical text of an entry (`2001:DB8:0::/32` is `2001:db8::/32`), or null when it is none. */
export function canonicalCidr(entry: string): string | null {
  const range = parseRange(entry);
  return typeof range === 'string' ? null : rangeText(range);
}

export class AddressRanges {
  private constructor(
    private readonly ipv4: BlockList,
    private readonly ipv6: BlockList,
    /** The ranges in canonical text, once each: with none, nothing is even looked at. */
    readonly entries: readonly string[],
  ) {}

  /** Throws an Error naming the first entry that is not an address or CIDR block. */
  static parse(entries: readonly string[]): AddressRanges {
    const ipv4 = new BlockList();
    const ipv6 = new BlockList();
    const texts = new Set<string>();
    for (const entry of entries) {
      const range = parseRange(entry);
      if (typeof range === 'string') throw new Error(range);
      // Two lists, so that neither family's rules are ever asked about the other's addresses.
      if (range.family === 4) ipv4.addSubnet(range.network, range.prefix, 'ipv4');
      else ipv6.addSubnet(range.network, range.prefix, 'ipv6');
      texts.add(rangeText(range));
    }
    return new AddressRanges(ipv4, ipv6, [...texts]);
  }

  /**
   * Whether the address is in a range. Canonical text (security/address.ts) writes an
   * IPv4-mapped address, a dual-stack socket's IPv4 peer, as the IPv4 address it carries.
   */
  matches(address: CanonicalAddress): boolean {
    // Without TRUSTED_PROXIES, as most servers run, no address is even looked at.
    if (this.entries.length === 0) return false;
    return isIPv4(address) ? this.ipv4.check(address, 'ipv4') : this.ipv6.check(address, 'ipv6');
  }
}
