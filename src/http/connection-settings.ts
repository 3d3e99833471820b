// What a connection is given, and the limits that bound what one connection may hold. A leaf
// of the engine: the listener, the descriptor monitor and the wiring read it without loading
// the Connection class.
import type { CanonicalAddress } from '../security/address.js';
import type { BodyBudget } from './body-budget.js';
import type { DispatchDeps } from './dispatch.js';
import type { ParserLimits } from './parser.js';

export interface ConnectionSettings {
  readonly keepAliveTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly maxRequestsPerConnection: number;
  readonly limits: ParserLimits;
  readonly allowedHosts: ReadonlySet<string>;
}

export interface ConnectionDeps extends DispatchDeps {
  readonly settings: ConnectionSettings;
  /** Memory for request bodies, shared by all connections. */
  readonly bodies: BodyBudget;
}

/** What the server learnt of a socket before it handed it over. */
export interface Accepted {
  /** The address the connection speaks for: its PROXY header's source, else the socket's peer. */
  readonly client: CanonicalAddress;
  /** The address is one of TRUSTED_PROXIES: X-Forwarded-For names each request's client. */
  readonly trustedProxy: boolean;
  /** Bytes read before the connection began (what followed a PROXY header), or null. */
  readonly firstBytes: Uint8Array | null;
}

/** What the connection tells whoever serves it (the server's caps and list of connections). */
export interface ConnectionOwner {
  /** Once, when the connection ends its side (after its last response, or on a timeout). */
  ended(): void;
  /** Once, when the socket has closed. */
  closed(): void;
  /** Whether the server is winding down: each request read from now on is its connection's last. */
  windingDown(): boolean;
}

/** Pipelined requests in flight per connection before we stop reading from it. */
export const MAX_IN_FLIGHT = 16;
/**
 * Of those, how many may hold something until their turn (ExchangeQueue.holding): a
 * descriptor, or a body in memory (one a worker read, or the cache's). A client pipelining
 * downloads it never reads must not hold sixteen of either. At least 2: a request whose body
 * is being read counts too, and the one before it must still be able to finish without more
 * input.
 */
export const MAX_HOLDING = 2;
/** Descriptors one connection may hold: its socket, the file it streams and MAX_HOLDING. */
export const DESCRIPTORS_PER_CONNECTION = 2 + MAX_HOLDING;
