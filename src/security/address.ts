// IP address text, pure: one spelling per address, so that limits, logs and metrics count a
// client once however its address was written (a socket, a PROXY header, X-Forwarded-For).
import { isIP, isIPv4, isIPv6, SocketAddress } from 'node:net';

declare const canonicalBrand: unique symbol;

/**
 * An IP address in its one spelling, as canonicalAddress writes it (its only source): the
 * form the client rules (TRUSTED_PROXIES, the per-client limits) take, so none spells it again.
 */
export type CanonicalAddress = string & { readonly [canonicalBrand]: true };

/** The IPv4-mapped IPv6 prefix (RFC 4291 §2.5.5.2): a dual-stack socket's IPv4 peers. */
const V4_MAPPED = '::ffff:';

/**
 * The canonical text of an IP address: dotted IPv4 as given (Node refuses leading zeros),
 * IPv6 in RFC 5952 form, and an IPv4-mapped IPv6 address as the IPv4 address it carries.
 * Null when the text is not an IP address. Zone ids (`fe80::1%eth0`) name an interface of
 * the sender, not a client: refused.
 */
export function canonicalAddress(text: string): CanonicalAddress | null {
  const family = isIP(text);
  if (family === 4) return text as CanonicalAddress;
  if (family !== 6 || text.includes('%')) return null;
  const canonical = new SocketAddress({ address: text, family: 'ipv6' }).address;
  const mapped = canonical.slice(V4_MAPPED.length);
  return (canonical.startsWith(V4_MAPPED) && isIPv4(mapped) ? mapped : canonical) as CanonicalAddress;
}

/**
 * The canonical address of a socket's own peer, as the kernel reports it. A link-local peer
 * comes with the zone of the interface it reached us on (`fe80::1%eth0`): a fact about this
 * host, not about the client, so the address without it is the client.
 */
export function peerAddress(remoteAddress: string): CanonicalAddress | null {
  const zone = remoteAddress.indexOf('%');
  return canonicalAddress(zone === -1 ? remoteAddress : remoteAddress.slice(0, zone));
}

const IPV6_MULTICAST = /^ff[0-9a-f]{2}:/;
/** 224.0.0.0/4 multicast, then 240.0.0.0/4 reserved, whose last address is the limited broadcast. */
const FIRST_NON_UNICAST_OCTET = 224;

/**
 * Whether a canonical address can be a TCP client's: not unspecified (RFC 4291 §2.5.2) nor in
 * 0.0.0.0/8, "this network", a source only while a host learns its address (RFC 1122
 * §3.2.1.3); not multicast (224.0.0.0/4, ff00::/8), reserved (240.0.0.0/4, RFC 1112 §4) nor
 * the limited broadcast 255.255.255.255 within it. Such a source would be every client's
 * identity at once, or nobody's, and its limits shared by whatever the balancer could not name.
 * Loopback and link-local addresses are clients: those of a process on the balancer's host.
 * The one rule for what a balancer may name, in a PROXY header or in X-Forwarded-For.
 */
export function isClientAddress(address: CanonicalAddress): boolean {
  if (address.includes(':')) {
    // A NAT64 address is the IPv4 host it carries, and is counted as that host (clientNetwork).
    const host = nat64Host(address);
    if (host !== null) return isClientAddress(host as CanonicalAddress);
    return address !== '::' && !IPV6_MULTICAST.test(address);
  }
  const first = Number(address.slice(0, address.indexOf('.')));
  return first !== 0 && first < FIRST_NON_UNICAST_OCTET;
}

/** Bits of an IPv6 address. */
const IPV6_BITS = 128;

/** The eight 16-bit groups of a valid IPv6 address (a dotted IPv4 tail is two groups). */
export function ipv6Groups(text: string): number[] {
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  let hex = text;
  if (tail.includes('.')) {
    const [a, b, c, d] = tail.split('.').map(Number) as [number, number, number, number];
    hex = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = hex.split('::') as [string, string | undefined];
  const parse = (part: string | undefined): number[] => (part ? part.split(':').map((group) => parseInt(group, 16)) : []);
  const before = parse(head);
  if (rest === undefined) return before;
  const after = parse(rest);
  return [...before, ...Array<number>(8 - before.length - after.length).fill(0), ...after];
}

/**
 * An IPv6 address as URL serializers write it (the WHATWG URL standard, so browsers and
 * Node's fetch): RFC 5952 §4, lowercase hex without leading zeros, the first longest run of
 * two or more zero groups as `::`, and an IPv4 tail in hex too (`::ffff:7f00:1`). Null when
 * the text is not an IPv6 address; a zone id is refused.
 */
export function ipv6UrlText(text: string): string | null {
  if (!isIPv6(text) || text.includes('%')) return null;
  const groups = ipv6Groups(text);
  let start = -1;
  let length = 1;
  for (let i = 0; i < groups.length; i++) {
    let end = i;
    while (end < groups.length && groups[end] === 0) end++;
    if (end - i > length) [start, length] = [i, end - i];
    i = end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (start === -1) return hex.join(':');
  return `${hex.slice(0, start).join(':')}::${hex.slice(start + length).join(':')}`;
}

/** RFC 6052's well-known prefix, 64:ff9b::/96: an IPv4 host translated to IPv6 by NAT64 or SIIT. */
const NAT64_GROUPS = [0x64, 0xff9b, 0, 0, 0, 0];

/** The IPv4 host an IPv6 address of the NAT64 prefix carries (dotted), else null. */
function nat64Host(address: string): string | null {
  const all = ipv6Groups(address);
  if (!NAT64_GROUPS.every((group, index) => all[index] === group)) return null;
  return `${all[6]! >> 8}.${all[6]! & 0xff}.${all[7]! >> 8}.${all[7]! & 0xff}`;
}

/**
 * The network a client is counted as, for per-client limits: an IPv4 address itself, an IPv6
 * address its first `ipv6PrefixBits` bits (`2001:db8:1:2::/64`), since one subscriber or host
 * commonly holds a whole /64 and could otherwise pick a fresh address for every connection.
 * An address of the NAT64 prefix is the IPv4 host it carries: behind a translator every IPv4
 * client shares that one /64, and one of them would use up the limits of all.
 * Takes a canonical address (canonicalAddress); any other text is returned as it is.
 */
export function clientNetwork(address: string, ipv6PrefixBits: number): string {
  if (ipv6PrefixBits >= IPV6_BITS || isIP(address) !== 6) return address;
  const host = nat64Host(address);
  if (host !== null) return host;
  const all = ipv6Groups(address);
  const groups = all.map((group, index) => {
    const bitsKept = Math.min(16, Math.max(0, ipv6PrefixBits - index * 16));
    return group & ~(0xffff >>> bitsKept) & 0xffff;
  });
  return `${canonicalAddress(groups.map((group) => group.toString(16)).join(':'))}/${ipv6PrefixBits}`;
}
