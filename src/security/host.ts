// Host header rules, pure: a request must name one of the hosts this server answers for.
import type { SecurityRefusal } from './path.js';

export type HostCheck = { readonly ok: true } | SecurityRefusal;

/** `allowed` holds lowercased values; Host names compare case-insensitively. */
export function checkHost(host: string | undefined, allowed: ReadonlySet<string>): HostCheck {
  if (host === undefined || host === '') return { ok: false, status: 400, rule: 'missing_host', reason: 'missing Host header' };
  if (!allowed.has(host.toLowerCase())) return { ok: false, status: 403, rule: 'host_not_allowed', reason: `Host "${host}" not allowed` };
  return { ok: true };
}
