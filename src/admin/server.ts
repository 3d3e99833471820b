// The admin listener ("sidecar"): Prometheus metrics and health probes on their own port.
// It runs on the main event loop but never behind the worker pool, so it answers while the
// public side is saturated. node:http is fine here: this port is for operators, not the public.
// With METRICS_TOKEN, /metrics needs it as a bearer token; the probes stay open, since an
// orchestrator's probes send no credentials.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import { peerAddress } from '../security/address.js';
import { checkBearer, type TokenSet } from '../security/bearer.js';
import { ClientLimits } from '../security/client-limits.js';

// From Node's module table, not an ESM import: that would build node:http's whole namespace,
// whose lazy getters load undici, http2, tls and zlib (docs/memory.md).
const { createServer } = process.getBuiltinModule('node:http');

export interface AdminOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  /** The token /metrics requires, or null when it is open. */
  readonly metricsTokens: TokenSet | null;
  /** Why the server should not get traffic now, or null when it is ready. */
  readonly notReadyReason: () => string | null;
}

const ALLOW = 'GET, HEAD';

/**
 * Probes and scrapes need a handful of connections from one address each (the kubelet's, the
 * scraper's). A cap per address keeps anyone else who reaches the port from holding many
 * descriptors without locking out the probes, as one cap for everyone would; and heads must
 * come quickly: node:http's own defaults wait 60 s for one and look only every 30 s.
 */
const MAX_ADMIN_CONNECTIONS_PER_PEER = 32;
const ADMIN_HEADERS_TIMEOUT_MS = 5000;
const ADMIN_REQUEST_TIMEOUT_MS = 10_000;

/** The path a request asks for, from the origin form (`/readyz?x`) or the absolute form (`http://pod:9090/readyz`). */
function pathOf(url: string): string {
  try {
    return new URL(url, 'http://admin').pathname;
  } catch {
    return '';
  }
}

export class AdminServer {
  private readonly server: Server;
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 20 });
  /** Connections per address (each IPv6 address its own); the upload limits go unused here. */
  private readonly peers = new ClientLimits({ maxConnectionsPerClient: MAX_ADMIN_CONNECTIONS_PER_PEER, uploadRatePerMinute: 0, uploadBurst: 1, ipv6PrefixBits: 128 });

  constructor(private readonly options: AdminOptions) {
    // No Host check: orchestrators probe by address, and some send HTTP/1.1 without a Host.
    const settings = { requireHostHeader: false, headersTimeout: ADMIN_HEADERS_TIMEOUT_MS, requestTimeout: ADMIN_REQUEST_TIMEOUT_MS, connectionsCheckingInterval: 1000 };
    this.server = createServer(settings, (request, response) => {
      this.handle(request, response).catch((error: Error) => {
        if (!response.headersSent) this.send(response, request, 500, { status: 'error', message: error.message });
        else response.destroy();
      });
    });
    this.server.on('connection', (socket: Socket) => this.countPeer(socket));
  }

  /** Closes a connection past MAX_ADMIN_CONNECTIONS_PER_PEER from its address. */
  private countPeer(socket: Socket): void {
    const remote = socket.remoteAddress ?? '';
    const release = this.peers.acquireConnection(peerAddress(remote) ?? remote);
    if (release === null) {
      socket.destroy();
      return;
    }
    socket.once('close', release);
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
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = pathOf(request.url ?? '/');
    const known = path === '/metrics' || path === '/livez' || path === '/healthz' || path === '/readyz';
    if (!known) return this.send(response, request, 404, { status: 'error', message: 'not found' });
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('Allow', ALLOW);
      return this.send(response, request, 405, { status: 'error', message: 'method not allowed' });
    }
    if (path === '/metrics') return this.metrics(request, response);
    if (path === '/readyz') {
      const reason = this.options.notReadyReason();
      return reason === null
        ? this.send(response, request, 200, { status: 'ready' })
        : this.send(response, request, 503, { status: 'not ready', reason });
    }
    // Liveness: answering at all proves the main event loop turns; the delay says how well.
    const p99Ms = Math.round(this.loopDelay.percentile(99) / 1e4) / 100;
    this.send(response, request, 200, { status: 'ok', uptimeSeconds: Math.round(process.uptime()), eventLoopDelayP99Ms: p99Ms });
  }

  private async metrics(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const tokens = this.options.metricsTokens;
    // node:http keeps only the first of repeated Authorization fields; joined, as the public
    // port joins them, two are malformed (400) whichever comes first.
    const check = tokens === null ? null : checkBearer(request.headersDistinct.authorization?.join(', '), tokens);
    if (check !== null && !check.ok) {
      for (const [name, value] of check.headers) response.setHeader(name, value);
      return this.send(response, request, check.status, { status: 'error', message: check.status === 401 ? 'a valid bearer token is required' : 'malformed Authorization header' });
    }
    const body = await this.options.registry.metrics();
    response.writeHead(200, { 'Content-Type': this.options.registry.contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
    response.end(request.method === 'HEAD' ? undefined : body);
  }

  private send(response: ServerResponse, request: IncomingMessage, status: number, document: unknown): void {
    const body = JSON.stringify(document);
    response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
    response.end(request.method === 'HEAD' ? undefined : body);
  }
}
