// The public listener: accepts sockets, reads the PROXY header where one is required,
// enforces the connection caps (all connections, and per client address), runs the timeout
// sweep and drains connections on shutdown. Everything per request lives in Connection.
//
// The port may be shared by several listening sockets (SO_REUSEPORT): libuv accepts one
// connection per listening socket per event-loop turn, so with one socket a burst of connects
// waits in the kernel's accept queue for as many turns as there are connections, and a turn
// under load takes milliseconds. The kernel spreads new connections over the sockets.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { setIntervalAfterPoll } from '../core/after-poll.js';
import { errorResponse, RETRY_IN_A_SECOND } from '../core/response.js';
import { RateLimitedLog } from '../log.js';
import { peerAddress, type CanonicalAddress } from '../security/address.js';
import type { CountedConnection } from '../security/client-limits.js';
import { connectionAddress } from '../security/forwarded.js';
import { Connection } from './connection.js';
import type { ConnectionDeps } from './connection-settings.js';
import type { RejectionReason } from './events.js';
import { headBytes } from './head.js';
import { assembleHead } from './head-slab.js';
import { readProxyHeader } from './proxy-accept.js';
import { SlotList } from './slot-list.js';
import { newTraceId } from './trace-context.js';

/**
 * The accept queue of each of `sockets` listening sockets that share a port sized for a burst
 * of `backlog` connects: four times an even share, since the kernel spreads connections by a
 * hash of their addresses, not evenly; never more than `backlog`. A queue far longer than any burst only
 * holds connections whose clients gave up long ago, each to be accepted and served in turn.
 */
function acceptQueueOfEach(backlog: number, sockets: number): number {
  return Math.min(backlog, Math.ceil((4 * backlog) / sockets));
}

export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  /** Listening sockets sharing the port; more than one needs `reusePort` (see config.ts). */
  readonly listenSockets: number;
  /** The accept queue of the port, spread over its listening sockets (see acceptQueueOfEach). */
  readonly backlog: number;
  readonly maxConnections: number;
  readonly connection: ConnectionDeps;
  readonly log: Logger;
}

/**
 * Sent to connections refused before any request is read; built per use for its Date and its
 * own trace id, which every response on the public port carries (it names no log line: a
 * refusal that is not a request is counted, not logged).
 */
function overloadResponse(): Buffer {
  const response = errorResponse(503, 'GET', RETRY_IN_A_SECOND);
  const body = response.body.kind === 'bytes' ? response.body.bytes : new Uint8Array(0);
  const [start, ending] = headBytes(response, { keepAlive: false, keepAliveTimeoutSeconds: 0, remainingRequests: 0 });
  return Buffer.concat([assembleHead(start, newTraceId(), '', ending), body]);
}

const REFUSED_LINGER_MS = 1000;

/** The connection caps a refused connection is counted under (http_server_rejected_total). */
type ConnectionCap = Extract<RejectionReason, 'connection_limit' | 'client_limit'>;

const OVER_CAP_MESSAGES: Readonly<Record<ConnectionCap, string>> = {
  connection_limit: 'connection refused with 503: MAX_CONNECTIONS connections are being served',
  client_limit: 'connection refused with 503: its client has MAX_CONNECTIONS_PER_CLIENT connections being served',
};

/** A trusted proxy's connections are not counted per client (see open). */
const NOT_COUNTED: CountedConnection = { ended: () => undefined, release: () => undefined };

export class HttpServer {
  private readonly listeners: Server[];
  private readonly connections = new SlotList<Connection>();
  /** Sockets whose PROXY header is being read: no Connection yet, but they count against the cap. */
  private readonly pending = new SlotList<Socket>();
  /** Open connections that have ended their side and await the client's close. */
  private finished = 0;
  /** Refused sockets still open while their 503 leaves (see refuse): at most MAX_CONNECTIONS. */
  private refusing = 0;
  private nextConnectionId = 1;
  private sweepTimer: NodeJS.Timeout | null = null;
  private draining = false;
  /** See windDown. */
  private windingDown = false;
  private readonly acceptErrorLog = new RateLimitedLog(1000);
  /** Refused PROXY connections are logged at most once a second each way: a misconfigured balancer refuses them all. */
  private readonly untrustedLog = new RateLimitedLog(1000);
  private readonly badHeaderLog = new RateLimitedLog(1000);
  /** A client over a cap connects again and again: each refusal is counted, told once a second. */
  private readonly overLimitLogs: Record<ConnectionCap, RateLimitedLog> = { connection_limit: new RateLimitedLog(1000), client_limit: new RateLimitedLog(1000) };

  constructor(private readonly options: HttpServerOptions) {
    // allowHalfOpen: a client that shuts down its sending side still gets its responses.
    this.listeners = Array.from({ length: options.listenSockets }, () =>
      createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket)),
    );
  }

  /** Every socket the cap counts: those still reading their PROXY header too. */
  get openConnections(): number {
    return this.connections.size + this.pending.size;
  }

  get listening(): boolean {
    return this.listeners.every((listener) => listener.listening);
  }

  address(): AddressInfo {
    return this.listeners[0]!.address() as AddressInfo;
  }

  /**
   * Binds every listening socket; the first one settles the port when PORT is 0.
   * `beforeAccepting` gets the port as soon as the first socket is bound, and what it sets up
   * is in place for the first connection: Node.js emits 'listening' on the next tick after
   * listen(2), before the event loop can poll for a connection. The other sockets bind over
   * later turns (each resolves HOST first), while the first one may already accept.
   */
  async listen(beforeAccepting: (port: number) => void = () => undefined): Promise<AddressInfo> {
    if (this.listeners.length > 1 && this.options.port !== 0) await this.checkPortFree();
    const [first, ...others] = this.listeners;
    await this.bind(first!, this.options.port, () => beforeAccepting(this.address().port));
    const { port } = this.address();
    for (const listener of others) await this.bind(listener, port);
    this.startSweep();
    return this.address();
  }

  /**
   * Sockets that share a port through SO_REUSEPORT also share it with any other process of
   * the same user that asks: a second server started on our port would take part of our
   * connections without a word. A plain bind first fails with EADDRINUSE if anyone holds it.
   */
  private async checkPortFree(): Promise<void> {
    const { host, port } = this.options;
    const probe = createServer();
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen({ host, port }, () => resolve());
    });
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  }

  private bind(listener: Server, port: number, onListening?: () => void): Promise<void> {
    const { host, listenSockets } = this.options;
    const backlog = acceptQueueOfEach(this.options.backlog, listenSockets);
    return new Promise((resolve, reject) => {
      listener.once('error', reject);
      // Only where it is used: platforms without SO_REUSEPORT refuse the option.
      const shared = listenSockets > 1 ? { reusePort: true } : {};
      listener.listen({ host, port, backlog, ...shared }, () => {
        listener.off('error', reject);
        listener.on('error', (error) => this.onServerError(error));
        onListening?.();
        resolve();
      });
    });
  }

  /**
   * Readiness has turned, and load balancers are taking this instance out: each request read
   * from now on is the last of its connection (`Connection: close`), so that clients open their
   * next connection where the balancer routes, rather than hold this one until the drain cuts
   * it. Whoever still comes is served.
   */
  windDown(): void {
    this.windingDown = true;
  }

  /**
   * Stops accepting and lets every connection finish what it has in flight; idle ones wait
   * `idleGraceMs` for a last request. Resolves once every connection has closed.
   */
  async drain(idleGraceMs: number): Promise<void> {
    this.draining = true;
    const closed = Promise.all(this.listeners.map((listener) => new Promise<void>((resolve) => listener.close(() => resolve()))));
    for (const connection of this.connections.snapshot()) connection.drain(idleGraceMs);
    // Each listener closes once its own connections have: the deadlines (the close grace, a
    // head that never ends) are checked until the last of all of them has.
    await closed;
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
  }

  /** Cuts whatever is left (after the shutdown timeout). */
  destroyAll(): number {
    const left = this.openConnections;
    for (const connection of this.connections.snapshot()) connection.destroy();
    for (const socket of this.pending.snapshot()) socket.destroy();
    return left;
  }

  /**
   * The cap counts connections being served. One the server has ended (after its last
   * response, or on a timeout; it then waits a few seconds at most for the client's close)
   * leaves room for a new one: a client that reconnects as soon as its 100th response arrives
   * must not find the slot of the old one still taken. Ended connections still hold a
   * descriptor, so all open connections together are at most twice the cap.
   */
  private atCapacity(): boolean {
    const { maxConnections } = this.options;
    const open = this.openConnections;
    return open - this.finished >= maxConnections || open >= 2 * maxConnections;
  }

  private accept(socket: Socket): void {
    const { events, access } = this.options.connection;
    if (this.draining) {
      events.rejected('draining');
      return this.refuse(socket);
    }
    // Undefined once the socket is gone (reset before it was accepted).
    const peer = socket.remoteAddress === undefined ? null : peerAddress(socket.remoteAddress);
    if (this.atCapacity()) return this.refuseOverCap(socket, 'connection_limit', peer);
    if (peer === null) {
      socket.destroy();
      return;
    }
    if (access.proxyProtocol) this.acceptProxied(socket, peer);
    else this.open(socket, peer, null, true);
  }

  /**
   * PROXY_PROTOCOL: only a trusted proxy may speak, and only after its header. Anyone else
   * is closed unread: its header would name whatever client it liked.
   */
  private acceptProxied(socket: Socket, peer: CanonicalAddress): void {
    const { access, events } = this.options.connection;
    const { log } = this.options;
    if (!access.trustedProxies.matches(peer)) {
      events.proxyRefused('untrusted_proxy');
      this.untrustedLog.maybe((suppressed) => log.warn({ peer, reason: 'untrusted_proxy', suppressed }, 'PROXY protocol: a connection from outside TRUSTED_PROXIES closed unread'));
      socket.destroy();
      return;
    }
    const slot = this.pending.add(socket);
    readProxyHeader(socket, this.options.connection.settings.headersTimeoutMs, (result) => {
      this.pending.remove(slot);
      // A header that names no client (LOCAL, UNKNOWN) leaves the balancer's address, but its
      // X-Forwarded-For is not believed: a balancer that speaks PROXY writes none, so one there
      // would be the client's own, naming whatever address (and upload budget) it liked.
      if (result.ok) return this.open(socket, connectionAddress(peer, result.header), result.rest, result.header.kind === 'proxied');
      // A health check that only connects is no fault of the balancer's.
      if (result.code === 'unused') return log.debug({ peer }, 'PROXY protocol: connection closed before its first byte');
      const reason = result.code === 'timeout' ? 'proxy_header_timeout' : 'proxy_header';
      events.proxyRefused(reason);
      this.badHeaderLog.maybe((suppressed) => log.warn({ peer, reason, code: result.code, err: result.message, suppressed }, 'PROXY protocol: no valid header, connection closed'));
    });
  }

  /**
   * Serves a socket on behalf of `client`. A trusted proxy's connections carry many clients,
   * so the per-client cap counts everyone else's only. `forwardedMayCount`: false when
   * `client` stands for one a PROXY header did not name (see acceptProxied).
   */
  private open(socket: Socket, client: CanonicalAddress, firstBytes: Uint8Array | null, forwardedMayCount: boolean): void {
    const { events, access } = this.options.connection;
    // The PROXY header may complete after shutdown began.
    if (this.draining) {
      events.rejected('draining');
      return this.refuse(socket);
    }
    const fromProxy = access.trustedProxies.matches(client);
    const counted = fromProxy ? NOT_COUNTED : access.limits.acquireConnection(client);
    if (counted === null) return this.refuseOverCap(socket, 'client_limit', client);
    let state: 'serving' | 'finished' | 'closed' = 'serving';
    const logOpenClose = this.options.log.isLevelEnabled('debug');
    const id = this.nextConnectionId++;
    // `closed` may use `slot`: a socket emits 'close' on a later tick, never inside the constructor.
    const slot = this.connections.add(new Connection(id, socket, { client, trustedProxy: fromProxy && forwardedMayCount, firstBytes }, this.options.connection, {
      ended: () => {
        if (state !== 'serving') return;
        state = 'finished';
        this.finished++;
        counted.ended();
      },
      closed: () => {
        this.connections.remove(slot);
        if (state === 'finished') this.finished--;
        state = 'closed';
        counted.release();
        if (logOpenClose) this.options.log.debug({ conn: id }, 'connection closed');
      },
      windingDown: () => this.windingDown,
    }));
    events.connectionOpened();
    if (logOpenClose) this.options.log.debug({ conn: id, client }, 'connection opened');
  }

  /** Refuses a connection over MAX_CONNECTIONS or its client's MAX_CONNECTIONS_PER_CLIENT: counted, and told once a second. */
  private refuseOverCap(socket: Socket, cap: ConnectionCap, client: string | null): void {
    this.options.connection.events.rejected(cap);
    this.overLimitLogs[cap].maybe((suppressed) => this.options.log.warn({ client, reason: cap, suppressed }, OVER_CAP_MESSAGES[cap]));
    this.refuse(socket);
  }

  /**
   * Answers 503 without reading a request, then closes. A refused socket stays open a moment,
   * so that its client reads the 503 rather than a reset; it holds a descriptor no cap counts,
   * so past MAX_CONNECTIONS of them (a connect flood) one is closed at once, its 503 best effort.
   */
  private refuse(socket: Socket): void {
    socket.on('error', () => undefined);
    socket.end(overloadResponse());
    if (this.refusing >= this.options.maxConnections) {
      socket.destroy();
      return;
    }
    this.refusing++;
    socket.once('close', () => this.refusing--);
    socket.resume(); // discard what the client sends, so closing does not turn into a reset
    setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref();
  }

  /** Accept failures (EMFILE and friends) are logged, at most once a second, and survived. */
  private onServerError(error: NodeJS.ErrnoException): void {
    this.acceptErrorLog.maybe((suppressed) => this.options.log.error({ code: error.code, err: error.message, suppressed }, 'accept failed'));
  }

  private startSweep(): void {
    const { settings } = this.options.connection;
    const shortest = Math.min(settings.keepAliveTimeoutMs, settings.headersTimeoutMs, settings.requestTimeoutMs);
    const interval = Math.max(10, Math.min(1000, Math.floor(shortest / 10)));
    // Judged after the poll phase, so that what the clients sent while the process was frozen
    // is read first (core/after-poll.ts).
    const sweep = (): void => {
      const now = performance.now();
      for (const connection of this.connections.snapshot()) connection.checkDeadline(now);
    };
    this.sweepTimer = setIntervalAfterPoll(sweep, interval);
    this.sweepTimer.unref();
  }
}
