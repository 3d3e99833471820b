// IP address text, pure: one spelling per address, so that limits, logs and metrics count a
// client once however its address was written (a socket, a PROXY header, X-Forwarded-For).
import { isIP, isIPv4, SocketAddress } from 'node:net';

/** The IPv4-mapped IPv6 prefix (RFC 4291 §2.5.5.2): a dual-stack socket's IPv4 peers. */
const V4_MAPPED = '::ffff:';

/**
 * The canonical text of an IP address: dotted IPv4 as given (Node refuses leading zeros),
 * IPv6 in RFC 5952 form, and an IPv4-mapped IPv6 address as the IPv4 address it carries.
 * Null when the text is not an IP address. Zone ids (`fe80::1%eth0`) name an interface of
 * the sender, not a client: refused.
 */
export function canonicalAddress(text: string): string | null {
  const family = isIP(text);
  if (family === 4) return text;
  if (family !== 6 || text.includes('%')) return null;
  const canonical = new SocketAddress({ address: text, family: 'ipv6' }).address;
  const mapped = canonical.slice(V4_MAPPED.length);
  return canonical.startsWith(V4_MAPPED) && isIPv4(mapped) ? mapped : canonical;
}
