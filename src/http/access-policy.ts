// Who may do what on the public port, resolved once at start (app.ts) from the settings;
// null where a feature is off, so the request path only checks for it.
import type { AddressRanges } from '../security/cidr.js';
import type { ClientLimits } from '../security/client-limits.js';
import type { CorsPolicy } from '../security/cors.js';
import type { TokenSet } from '../security/bearer.js';

export interface AccessPolicy {
  /** PROXY_PROTOCOL: every connection starts with a PROXY header, from a trusted proxy. */
  readonly proxyProtocol: boolean;
  /** TRUSTED_PROXIES: whose PROXY header and X-Forwarded-For are believed. */
  readonly trustedProxies: AddressRanges;
  /** Connections per client address, and each client's upload bucket. */
  readonly limits: ClientLimits;
  /** The tokens POST /upload needs now (the file may change them), or null when uploads are open. */
  readonly uploadTokens: { readonly tokens: TokenSet } | null;
  /** CORS for /upload, or null when CORS_ORIGINS is unset. */
  readonly cors: CorsPolicy | null;
}
