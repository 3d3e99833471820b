// Per-client limits with bounded memory, pure (the clock is injected): how many connections
// one client holds (MAX_CONNECTIONS_PER_CLIENT), and a token bucket for its uploads
// (UPLOAD_RATE_PER_MINUTE, UPLOAD_BURST). A client is an IPv4 address or an IPv6 network of
// CLIENT_IPV6_PREFIX bits (clientNetwork). It is tracked only while it holds a connection or
// its bucket is refilling; the table has a hard cap, so a flood of distinct source addresses
// cannot grow it without bound.
import { clientNetwork } from './address.js';

export interface ClientLimitSettings {
  readonly maxConnectionsPerClient: number;
  /** Uploads per minute a client earns back; 0 turns the upload limit off. */
  readonly uploadRatePerMinute: number;
  /** Uploads a client may make at once: the bucket's size. */
  readonly uploadBurst: number;
  /** IPv6 addresses sharing this many leading bits are one client (default 64; 128: each address). */
  readonly ipv6PrefixBits?: number;
  /** Clients tracked at most (default MAX_CLIENTS). */
  readonly maxClients?: number;
  /** Milliseconds on a clock that never goes back (default performance.now). */
  readonly now?: () => number;
}

/** A /64 is what one subscriber or host is usually given (RFC 6177), so it is one client. */
const DEFAULT_IPV6_PREFIX_BITS = 64;

/** A connection counted against its client's cap: told when the server ends it and when it closes. */
export interface CountedConnection {
  /**
   * The server has ended its side and awaits the client's close (a few seconds at most). The
   * connection leaves the cap, so that a client that reconnects as soon as its last response
   * arrives finds its slot free; its socket still counts toward twice the cap, so that a
   * client that never closes holds at most that many. MAX_CONNECTIONS counts the same way.
   */
  ended(): void;
  /** The socket has closed (more calls do nothing). */
  release(): void;
}

export type UploadAdmission = { readonly ok: true } | { readonly ok: false; readonly retryAfterSeconds: number };

/**
 * Enough for every client a busy server sees while their buckets refill (at the default rate,
 * a bucket is full again within 20 s); what one costs is in docs/memory.md. Past it, new clients share
 * one entry (see overflow).
 */
export const MAX_CLIENTS = 65_536;
/** How often entries that have become idle are looked for (a pass over the table). */
const SWEEP_INTERVAL_MS = 1000;

interface ClientState {
  /** Connections being served. */
  connections: number;
  /** Connections the server has ended whose socket is still open (see CountedConnection.ended). */
  ending: number;
  /** Uploads left in the bucket at `refilledAt`. */
  tokens: number;
  refilledAt: number;
}

export class ClientLimits {
  private readonly clients = new Map<string, ClientState>();
  /**
   * The one entry every client past the cap shares. Refusing them outright would shut out
   * every newcomer for as long as the flood lasts; sharing gives them, together, what one
   * client may have, while the clients already tracked keep their own limits.
   */
  private readonly overflow: ClientState;
  private readonly refillPerMs: number;
  private readonly maxClients: number;
  private readonly ipv6PrefixBits: number;
  private readonly now: () => number;
  private lastSweep: number;

  constructor(private readonly settings: ClientLimitSettings) {
    this.now = settings.now ?? (() => performance.now());
    this.maxClients = settings.maxClients ?? MAX_CLIENTS;
    this.ipv6PrefixBits = settings.ipv6PrefixBits ?? DEFAULT_IPV6_PREFIX_BITS;
    this.refillPerMs = settings.uploadRatePerMinute / 60_000;
    this.lastSweep = this.now();
    this.overflow = this.fresh(this.lastSweep);
  }

  /**
   * Clients tracked now (the overflow entry not counted). Those the server may forget are
   * swept first when a sweep is due: otherwise, with no new traffic, the table (and the
   * gauge that reads it) would keep every client of the last burst.
   */
  get size(): number {
    const now = this.now();
    if (now - this.lastSweep >= SWEEP_INTERVAL_MS) this.sweep(now);
    return this.clients.size;
  }

  /** The client an address counts as: itself, or for IPv6 its network. */
  clientOf(address: string): string {
    return clientNetwork(address, this.ipv6PrefixBits);
  }

  /**
   * Counts a new connection of the client. Null when it holds its maximum already, being
   * served or, ended ones included, twice that (answer 503 and close).
   */
  acquireConnection(address: string): CountedConnection | null {
    const now = this.now();
    const client = this.clientOf(address);
    const state = this.stateOf(client, now);
    const max = this.settings.maxConnectionsPerClient;
    if (state.connections >= max || state.connections + state.ending >= 2 * max) return null;
    state.connections++;
    let phase: 'serving' | 'ended' | 'closed' = 'serving';
    return {
      ended: () => {
        if (phase !== 'serving') return;
        phase = 'ended';
        state.connections--;
        state.ending++;
      },
      release: () => {
        if (phase === 'closed') return;
        if (phase === 'serving') state.connections--;
        else state.ending--;
        phase = 'closed';
        if (state !== this.overflow && this.idle(state, this.now())) this.clients.delete(client);
      },
    };
  }

  /** Takes one upload from the client's bucket, or says when the next one is earned (429). */
  takeUpload(address: string): UploadAdmission {
    if (this.refillPerMs === 0) return { ok: true };
    const now = this.now();
    const state = this.stateOf(this.clientOf(address), now);
    this.refill(state, now);
    if (state.tokens >= 1) {
      state.tokens--;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - state.tokens) / this.refillPerMs / 1000)) };
  }

  /**
   * Gives back the upload takeUpload just took, when the upload was refused for the server's
   * reasons before its body was read (no memory for it): a client that retries as told must
   * not find its bucket spent by the refusals.
   */
  returnUpload(address: string): void {
    if (this.refillPerMs === 0) return;
    const now = this.now();
    const state = this.stateOf(this.clientOf(address), now);
    this.refill(state, now);
    state.tokens = Math.min(this.settings.uploadBurst, state.tokens + 1);
  }

  private stateOf(client: string, now: number): ClientState {
    if (now - this.lastSweep >= SWEEP_INTERVAL_MS) this.sweep(now);
    let state = this.clients.get(client);
    if (state === undefined) {
      if (this.clients.size >= this.maxClients) return this.overflow;
      state = this.fresh(now);
      this.clients.set(client, state);
    }
    return state;
  }

  private fresh(now: number): ClientState {
    return { connections: 0, ending: 0, tokens: this.settings.uploadBurst, refilledAt: now };
  }

  private refill(state: ClientState, now: number): void {
    state.tokens = Math.min(this.settings.uploadBurst, state.tokens + (now - state.refilledAt) * this.refillPerMs);
    state.refilledAt = now;
  }

  /** No open socket and a full bucket: forgetting the client changes nothing. */
  private idle(state: ClientState, now: number): boolean {
    if (state.connections > 0 || state.ending > 0) return false;
    if (this.refillPerMs === 0) return true;
    return state.tokens + (now - state.refilledAt) * this.refillPerMs >= this.settings.uploadBurst;
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [client, state] of this.clients) if (this.idle(state, now)) this.clients.delete(client);
  }
}
