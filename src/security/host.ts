// Host header rules, pure: a request must name one of the hosts this server answers for.
import type { SecurityRefusal } from './path.js';

export type HostCheck = { readonly ok: true } | SecurityRefusal;

/** The default port of the `http` scheme, meant by a Host without a port (RFC 9110 §7.2). */
const DEFAULT_PORT = '80';

/**
 * `uri-host [":" port]` (RFC 3986 §3.2): an IPv6 literal in brackets, or a name or IPv4
 * address (reg-name characters, which exclude ":" and "[", so the match is unambiguous).
 * IPvFuture literals and zone identifiers are not accepted. The port is kept as its digits,
 * so `08080` stays distinct from `8080`.
 */
const AUTHORITY = /^(\[[0-9a-f:.]+\]|[a-z0-9\-._~!$&'()*+,;=%]+)(?::([0-9]*))?$/;

/**
 * The canonical form of a Host value: lowercased (host names compare case-insensitively) and
 * with the port explicit, the default port standing in for a missing or empty one
 * (RFC 3986 §6.2.3): `Example.com`, `example.com:` and `example.com:80` all become
 * `example.com:80`. Null when the value is not a host and optional port.
 */
export function normalizeHost(value: string): string | null {
  const match = AUTHORITY.exec(value.toLowerCase());
  if (match === null) return null;
  const [, name, port] = match as unknown as [string, string, string | undefined];
  return `${name}:${port === undefined || port === '' ? DEFAULT_PORT : port}`;
}

/** `allowed` holds values in the form normalizeHost gives. */
export function checkHost(host: string | undefined, allowed: ReadonlySet<string>): HostCheck {
  if (host === undefined || host === '') return { ok: false, status: 400, rule: 'missing_host', reason: 'missing Host header' };
  // Most clients send the canonical form already: only a value that is not in the set needs it.
  if (allowed.has(host)) return { ok: true };
  const normalized = normalizeHost(host);
  // RFC 9112 §3.2: a Host whose value is not a host and optional port is a bad request.
  if (normalized === null) return { ok: false, status: 400, rule: 'invalid_host', reason: `Host "${host}" is not a host and port` };
  if (!allowed.has(normalized)) return { ok: false, status: 403, rule: 'host_not_allowed', reason: `Host "${host}" not allowed` };
  return { ok: true };
}
