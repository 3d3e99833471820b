// A raw-socket HTTP client for tests: sends exact bytes and parses exact responses, so tests
// see what is on the wire (no client library fixing things up on the way).
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';

export interface RawResponse {
  readonly status: number;
  readonly statusLine: string;
  /** Lowercased names; repeated fields joined with ", ". */
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

/**
 * Parses as many complete responses as `data` holds (Content-Length framing, or none).
 * `need` is how long `rest` must grow before another response can be complete.
 */
export function parseResponses(data: Buffer, headRequests = 0): { responses: RawResponse[]; rest: Buffer; need: number } {
  const responses: RawResponse[] = [];
  let at = 0;
  let need = 0;
  for (;;) {
    const headEnd = data.indexOf('\r\n\r\n', at);
    if (headEnd === -1) {
      need = data.length - at + 1;
      break;
    }
    const lines = data.toString('latin1', at, headEnd).split('\r\n');
    const statusLine = lines[0]!;
    const status = Number(statusLine.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    const interim = status >= 100 && status < 200;
    const isHead = !interim && responses.filter((r) => r.status >= 200).length < headRequests;
    const length = interim || isHead ? 0 : Number(headers['content-length'] ?? 0);
    const bodyStart = headEnd + 4;
    if (data.length < bodyStart + length) {
      need = bodyStart + length - at;
      break;
    }
    responses.push({ status, statusLine, headers, body: data.subarray(bodyStart, bodyStart + length) });
    at = bodyStart + length;
  }
  return { responses, rest: data.subarray(at), need };
}

export class RawClient {
  /** Every byte received, joined only when asked for. */
  private chunks: Buffer[] = [];
  /** Bytes not yet parsed into responses, and how many there must be before parsing again. */
  private unparsed: Buffer[] = [];
  private unparsedSize = 0;
  private need = 1;
  private readonly parsed: RawResponse[] = [];
  private closedFlag = false;
  private readonly waiters = new Set<() => void>();
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      // Chunks are joined only when read, so a long pipeline costs linear time, not quadratic.
      this.chunks.push(chunk);
      this.unparsed.push(chunk);
      this.unparsedSize += chunk.length;
      this.notify();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.closedFlag = true;
        this.notify();
        resolve();
      });
    });
  }

  /** `localAddress`: the source address, e.g. one of 127.0.0.0/8 to act as another client. */
  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host, localAddress }, () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  /** Everything received so far. */
  get received(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  write(bytes: string | Buffer): void {
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  /**
   * Waits until `count` complete responses have arrived (interim 1xx included); the first
   * `headRequests` final responses answer HEAD requests and so carry no body.
   */
  async responses(count: number, timeoutMs = 5000, headRequests = 0): Promise<RawResponse[]> {
    const enough = (): boolean => {
      this.parseNew(headRequests);
      return this.parsed.length >= count || this.closedFlag;
    };
    await this.until(enough, timeoutMs);
    this.parseNew(headRequests);
    if (this.parsed.length < count) throw new Error(`expected ${count} responses, got ${this.parsed.length}: ${this.received.toString('latin1').slice(0, 500)}`);
    return this.parsed.slice(0, count);
  }

  /** Parses the bytes that arrived since the last call, once a response can be complete. */
  private parseNew(headRequests: number): void {
    if (this.unparsedSize < this.need) return;
    const finals = this.parsed.filter((response) => response.status >= 200).length;
    const { responses, rest, need } = parseResponses(Buffer.concat(this.unparsed), Math.max(0, headRequests - finals));
    this.parsed.push(...responses);
    this.unparsed = [rest];
    this.unparsedSize = rest.length;
    this.need = need;
  }

  /** Waits until the server closes the connection; rejects after the timeout. */
  async waitClosed(timeoutMs = 5000): Promise<void> {
    await this.until(() => this.closedFlag, timeoutMs);
    if (!this.closedFlag) throw new Error('connection still open');
  }

  close(): void {
    this.socket.destroy();
  }

  private until(done: () => boolean, timeoutMs: number): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (done()) finish();
      };
      const finish = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(finish, timeoutMs);
      this.waiters.add(check);
    });
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

/** The lowest port the kernel gives connections as their own (ip_local_port_range). */
function lowestEphemeralPort(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ port, host }, () => probe.close(() => resolve(true)));
  });
}

/**
 * A port nothing listens on right now on `host`, for a server that is told its port before it
 * starts. Picked below the ports the kernel gives connections as their own: a port of that
 * range, free a moment ago, may be taken by any connection made before the server binds it.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const below = lowestEphemeralPort();
  for (let tries = 0; tries < 100; tries++) {
    const port = 10_000 + Math.floor(Math.random() * (below - 10_000));
    if (await canListen(port, host)) return port;
  }
  throw new Error(`no free port found below ${below}`);
}

/** One request on a fresh connection; resolves with the first response. */
export async function request(port: number, bytes: string | Buffer, timeoutMs = 5000): Promise<RawResponse> {
  const client = await RawClient.connect(port);
  try {
    client.write(bytes);
    const [response] = await client.responses(1, timeoutMs);
    return response!;
  } finally {
    client.close();
  }
}

/** A minimal GET with the Host header tests use. */
export function get(path: string, port: number, extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${extra}\r\n`;
}

/**
 * A connection the server has finished with but that is not closed yet: its one request asks
 * to close, the server answers and ends its side, and the client keeps its own side open (the
 * server then waits up to 2 s for it). `localAddress`: the source address, as for RawClient.connect.
 */
export async function finishedButOpen(port: number, localAddress?: string): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1', localAddress, allowHalfOpen: true });
  socket.resume();
  socket.write(get('/', port, 'Connection: close\r\n'));
  await once(socket, 'end');
  return socket;
}

/** Whether something accepts connections on the port yet (a proxy the test started, say). */
export async function accepting(port: number): Promise<boolean> {
  try {
    (await RawClient.connect(port)).close();
    return true;
  } catch {
    return false;
  }
}
