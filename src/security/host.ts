// Host header rules, pure: a request must name one of the hosts this server answers for.
import { ipv6UrlText } from './address.js';
import type { Refused } from '../core/refusals.js';

export type HostCheck = { readonly ok: true } | Refused<'missing_host' | 'invalid_host' | 'host_not_allowed'>;

/** The default port of the `http` scheme, meant by a Host without a port (RFC 9110 §7.2). */
const DEFAULT_PORT = '80';

/**
 * `uri-host [":" port]` (RFC 3986 §3.2): an IP literal in brackets, or a name or IPv4
 * address (reg-name characters, which exclude ":" and "[", so the match is unambiguous).
 * What is in brackets must then be an IPv6 address (ipv6UrlText): IPvFuture literals
 * (`[v1.x]`), which no client sends to an HTTP server, and zone identifiers are not accepted.
 * The port is kept as its digits, so `08080` stays distinct from `8080`.
 */
const AUTHORITY = /^(\[[0-9a-f:.]+\]|[a-z0-9\-._~!$&'()*+,;=%]+)(?::([0-9]*))?$/;

const OPENING_BRACKET = 0x5b;

/**
 * The canonical form of a Host value: lowercased (host names compare case-insensitively) and
 * with the port explicit, the default port standing in for a missing or empty one
 * (RFC 3986 §6.2.3): `Example.com`, `example.com:` and `example.com:80` all become
 * `example.com:80`. An IPv6 address in the form URLs write it (RFC 5952), since one address
 * has many spellings: `[::FFFF:127.0.0.1]` and `[0:0:0:0:0:ffff:7f00:1]` are
 * `[::ffff:7f00:1]`, what a browser or fetch sends. Null when the value is not a host and
 * optional port.
 */
export function normalizeHost(value: string): string | null {
  const match = AUTHORITY.exec(value.toLowerCase());
  if (match === null) return null;
  const [, name, port] = match as unknown as [string, string, string | undefined];
  // Only a literal needs the work: a name's check stays one regular expression.
  const host = name.charCodeAt(0) === OPENING_BRACKET ? ipv6Literal(name) : name;
  if (host === null) return null;
  return `${host}:${port === undefined || port === '' ? DEFAULT_PORT : port}`;
}

/** `[IPv6address]` in canonical form; null for anything else in brackets (RFC 3986 §3.2.2). */
function ipv6Literal(bracketed: string): string | null {
  const address = ipv6UrlText(bracketed.slice(1, -1));
  return address === null ? null : `[${address}]`;
}

/** `allowed` holds values in the form normalizeHost gives. */
export function checkHost(host: string | undefined, allowed: ReadonlySet<string>): HostCheck {
  if (host === undefined || host === '') return { ok: false, refusal: 'missing_host', detail: 'missing Host header' };
  // Most clients send the canonical form already: only a value that is not in the set needs it.
  if (allowed.has(host)) return { ok: true };
  const normalized = normalizeHost(host);
  // RFC 9112 §3.2: a Host whose value is not a host and optional port is a bad request.
  if (normalized === null) return { ok: false, refusal: 'invalid_host', detail: `Host "${host}" is not a host and port` };
  if (!allowed.has(normalized)) return { ok: false, refusal: 'host_not_allowed', detail: `Host "${host}" not allowed` };
  return { ok: true };
}
