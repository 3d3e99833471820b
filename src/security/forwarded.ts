// Who the client is, pure. Behind a load balancer the socket's peer is the balancer; the
// client is named by the PROXY header the balancer sent first, or by the X-Forwarded-For
// list each proxy appends the address it was reached from to. Both are believed only from
// TRUSTED_PROXIES: anyone else could write any address there.
import { canonicalAddress, isClientAddress, type CanonicalAddress } from './address.js';
import type { AddressRanges } from './cidr.js';
import type { ProxyHeader } from './proxy-protocol.js';

/**
 * The address a connection speaks for: the source its PROXY header names, else the socket's
 * peer. The engine reads a PROXY header only from a trusted peer and refuses the others.
 */
export function connectionAddress(peer: CanonicalAddress, header: ProxyHeader | null): CanonicalAddress {
  return header?.kind === 'proxied' ? header.source.address : peer;
}

/**
 * Who sent one request: its client, or the source a trusted proxy named for it that no TCP
 * client has (isClientAddress). Such a request has no client to count it against: believing
 * the source would give every client its proxy names so one identity, and the proxy's own
 * address would merge them with all its other clients. It is refused, as a PROXY header
 * naming such a source is.
 */
export type RequestClient =
  | { readonly ok: true; readonly client: CanonicalAddress }
  | { readonly ok: false; readonly impossibleSource: CanonicalAddress };

const known = (client: CanonicalAddress): RequestClient => ({ ok: true, client });

/**
 * The client of one request. `peer` is the connection's address (see connectionAddress).
 * X-Forwarded-For is read from the right, the entry the nearest proxy appended: the first
 * address that is not a trusted proxy is the client. When every entry is a trusted proxy,
 * the leftmost is. An entry that is not an address stops the walk: the peer is all we know.
 * Every entry the walk reads was written by a trusted proxy, so each must be a possible
 * client; those left of the client were written by the client and are never read.
 */
export function requestClient(peer: CanonicalAddress, forwardedFor: string | undefined, trusted: AddressRanges): RequestClient {
  if (forwardedFor === undefined || !trusted.matches(peer)) return known(peer);
  const entries = forwardedFor.split(',');
  let client = peer;
  for (let i = entries.length - 1; i >= 0; i--) {
    const entry = entries[i]!.trim();
    if (entry === '') continue; // an empty list element (RFC 9110 §5.6.1)
    const address = forwardedAddress(entry);
    if (address === null) return known(peer);
    if (!isClientAddress(address)) return { ok: false, impossibleSource: address };
    client = address;
    if (!trusted.matches(address)) return known(address);
  }
  return known(client);
}

const V4_WITH_PORT = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/;
const BRACKETED_V6 = /^\[([0-9A-Fa-f]*:[0-9A-Fa-f:.]*)\](?::(\d{1,5}))?$/;

/** An entry's address; some proxies (Azure's, for one) add the client's port to it. */
function forwardedAddress(entry: string): CanonicalAddress | null {
  const match = V4_WITH_PORT.exec(entry) ?? BRACKETED_V6.exec(entry);
  if (match === null) return canonicalAddress(entry);
  // Past 65535 it is no port, and the entry no address.
  if (match[2] !== undefined && Number(match[2]) > 65535) return null;
  return canonicalAddress(match[1]!);
}
