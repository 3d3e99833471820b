// For tests that build a Connection in-process (to reach what a child process hides).
import type { AccessPolicy } from '../../src/http/access-policy.js';
import type { Accepted, ConnectionOwner, ConnectionSettings } from '../../src/http/connection-settings.js';
import { peerAddress } from '../../src/security/address.js';
import { AddressRanges } from '../../src/security/cidr.js';
import { ClientLimits } from '../../src/security/client-limits.js';

/** The server's default connection settings, answering for the given hosts. */
export function defaultConnectionSettings(allowedHosts: ReadonlySet<string>): ConnectionSettings {
  return {
    keepAliveTimeoutMs: 30_000,
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
    maxRequestsPerConnection: 100,
    limits: { maxRequestLineBytes: 8192, maxHeaderBytes: 8192, maxBodyBytes: 1 << 20 },
    allowedHosts,
  };
}

/** The default access rules: no proxies, no tokens, no CORS, the default per-client limits. */
export function defaultAccessPolicy(): AccessPolicy {
  return {
    proxyProtocol: false,
    trustedProxies: AddressRanges.parse([]),
    limits: new ClientLimits({ maxConnectionsPerClient: 128, uploadRatePerMinute: 60, uploadBurst: 20 }),
    uploadTokens: null,
    cors: null,
  };
}

/** A socket accepted straight from `client`, with no proxy in between. */
export function direct(client: string): Accepted {
  return { client: peerAddress(client)!, trustedProxy: false, firstBytes: null };
}

/** An owner that keeps no account of the connection (no caps, no registry). */
export const NO_OWNER: ConnectionOwner = { ended: () => undefined, closed: () => undefined, windingDown: () => false };
