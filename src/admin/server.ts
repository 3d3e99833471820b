// The admin listener ("sidecar"): Prometheus metrics and health probes on their own port.
// It runs on the main event loop but never behind the worker pool, so it answers while the
// public side is saturated. It reads requests with the public port's parser, one at a time
// per connection (admin-connection.ts), so that what a client sends cannot grow what it holds.
// With METRICS_TOKEN, /metrics needs it as a bearer token; the probes stay open, since an
// orchestrator's probes send no credentials.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import { refusalStatus } from '../core/refusals.js';
import type { ParsedRequest } from '../core/request.js';
import { peerAddress } from '../security/address.js';
import { checkBearer, type TokenSet } from '../security/bearer.js';
import { ClientLimits } from '../security/client-limits.js';
import { AdminConnection, errorAnswer, jsonAnswer, type AdminAnswer } from './admin-connection.js';

export interface AdminOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  /** The token /metrics requires, or null when it is open. */
  readonly metricsTokens: TokenSet | null;
  /** Why the server should not get traffic now, or null when it is ready. */
  readonly notReadyReason: () => string | null;
  /** IPv6 peers sharing this many leading bits count as one address (CLIENT_IPV6_PREFIX). */
  readonly ipv6PrefixBits: number;
  /** An answer that could not be made (a metric's collect threw): told here, answered 500. */
  readonly answerFailed: (error: unknown) => void;
  /** A connection closed unanswered over a cap: told here, from `peer` (the client's address). */
  readonly connectionRefused: (reason: AdminRefusal, peer: string) => void;
}

/**
 * Why the port closed a connection at once: `admin_client_limit`, its address already holds
 * MAX_ADMIN_CONNECTIONS_PER_PEER; `admin_connection_limit`, the port holds MAX_ADMIN_CONNECTIONS.
 */
export type AdminRefusal = 'admin_client_limit' | 'admin_connection_limit';

const ALLOW = 'GET, HEAD';

/**
 * Probes and scrapes need a connection or two from one address each (the kubelet's, the
 * scraper's). The cap on the whole port bounds the descriptors and memory of clients from many
 * addresses (docs/memory.md's bound); the cap per address, an eighth of it, keeps a few clients
 * from filling it and locking out the probes.
 */
const MAX_ADMIN_CONNECTIONS = 64;
const MAX_ADMIN_CONNECTIONS_PER_PEER = 8;

/** What the log says of each refusal. */
export const ADMIN_REFUSAL_MESSAGES: Readonly<Record<AdminRefusal, string>> = {
  admin_client_limit: `admin port: connection closed unanswered, its address holds ${MAX_ADMIN_CONNECTIONS_PER_PEER} already`,
  admin_connection_limit: `admin port: connection closed unanswered, the port holds ${MAX_ADMIN_CONNECTIONS} already`,
};

/** The path a request asks for, from the origin form (`/readyz?x`) or the absolute form (`http://pod:9090/readyz`). */
function pathOf(target: string): string {
  try {
    return new URL(target, 'http://admin').pathname;
  } catch {
    return '';
  }
}

export class AdminServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 20 });
  /** Connections per address; the upload limits go unused here. */
  private readonly peers: ClientLimits;
  /**
   * The latest scrape's text, while it is rendered and for the rest of that turn of the event
   * loop: scrapes that come together (pipelined, or from many connections, each answered once a
   * turn) share one rendering, whose cost grows with the open descriptors.
   */
  private rendered: Promise<string> | null = null;

  constructor(private readonly options: AdminOptions) {
    this.peers = new ClientLimits({ maxConnectionsPerClient: MAX_ADMIN_CONNECTIONS_PER_PEER, uploadRatePerMinute: 0, uploadBurst: 1, ipv6PrefixBits: options.ipv6PrefixBits });
    // No Host check: orchestrators probe by address, and some send HTTP/1.1 without a Host.
    // Half-open: a client may send its last request and FIN at once, and still get the answer.
    this.server = createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
  }

  /** Serves a connection, unless the port or its address already holds as many as it may. */
  private accept(socket: Socket): void {
    const remote = socket.remoteAddress ?? '';
    const peer = peerAddress(remote) ?? remote;
    if (this.sockets.size >= MAX_ADMIN_CONNECTIONS) return this.refuse(socket, 'admin_connection_limit', peer);
    const counted = this.peers.acquireConnection(peer);
    if (counted === null) return this.refuse(socket, 'admin_client_limit', peer);
    this.sockets.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      counted.release();
    });
    new AdminConnection(socket, (request) => this.answer(request), this.options.answerFailed);
  }

  /** Closes a connection over a cap at once, unanswered: an answer would hold the descriptor the cap is there to bound. */
  private refuse(socket: Socket, reason: AdminRefusal, peer: string): void {
    socket.destroy();
    this.options.connectionRefused(reason, peer);
  }

  listen(): Promise<AddressInfo> {
    this.loopDelay.enable();
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host: this.options.host, port: this.options.port }, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  close(): Promise<void> {
    this.loopDelay.disable();
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private answer(request: ParsedRequest): AdminAnswer | Promise<AdminAnswer> {
    const path = pathOf(request.target);
    const known = path === '/metrics' || path === '/livez' || path === '/healthz' || path === '/readyz';
    if (!known) return errorAnswer(404, 'not found');
    if (request.method !== 'GET' && request.method !== 'HEAD') return errorAnswer(405, 'method not allowed', [['Allow', ALLOW]]);
    if (path === '/metrics') return this.metrics(request);
    if (path === '/readyz') {
      const reason = this.options.notReadyReason();
      return reason === null ? jsonAnswer(200, { status: 'ready' }) : jsonAnswer(503, { status: 'not ready', reason });
    }
    // Liveness: answering at all proves the main event loop turns; the delay says how well.
    const p99Ms = Math.round(this.loopDelay.percentile(99) / 1e4) / 100;
    return jsonAnswer(200, { status: 'ok', uptimeSeconds: Math.round(process.uptime()), eventLoopDelayP99Ms: p99Ms });
  }

  private async metrics(request: ParsedRequest): Promise<AdminAnswer> {
    const tokens = this.options.metricsTokens;
    // Repeated Authorization fields arrive joined, as on the public port: two are malformed (400).
    const check = tokens === null ? null : checkBearer(request.headers.authorization, tokens);
    if (check !== null && !check.ok) {
      return errorAnswer(refusalStatus(check.refusal), check.refusal === 'malformed_token' ? 'malformed Authorization header' : 'a valid bearer token is required', check.headers);
    }
    this.rendered ??= this.options.registry.metrics().finally(() => setImmediate(() => (this.rendered = null)));
    return { status: 200, contentType: this.options.registry.contentType, body: await this.rendered };
  }
}
