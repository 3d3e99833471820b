// For tests that build a Connection in-process (to reach what a child process hides).
import type { ConnectionSettings } from '../../src/http/connection.js';

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
