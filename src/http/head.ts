// Response heads as bytes: the one way a head is written. A head is its start (status line,
// Date, Server, the response's own fields) and its connection fields (keep-alive or close).
// A response sent many times keeps its start as bytes, encoded again only when the Date
// changes; the connection fields come from a table. So writing a cached page's head
// encodes nothing again.
import type { HeadFields, PreparedStart, Response } from '../core/response.js';
import { reasonPhrase, SERVER_NAME } from '../core/status.js';

export interface ConnectionHeaders {
  readonly keepAlive: boolean;
  readonly keepAliveTimeoutSeconds: number;
  readonly remainingRequests: number;
}

let cachedDate = '';
let cachedSecond = -1;

/** IMF-fixdate, formatted at most once a second. */
export function httpDate(now: number = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedDate = new Date(second * 1000).toUTCString();
  }
  return cachedDate;
}

/** The head up to the connection fields. */
export function headStart(response: HeadFields, date: string): string {
  let head = `HTTP/1.1 ${response.status} ${reasonPhrase(response.status)}\r\nDate: ${date}\r\nServer: ${SERVER_NAME}\r\n`;
  for (const [name, value] of response.headers) head += `${name}: ${value}\r\n`;
  if (response.contentLength !== null) head += `Content-Length: ${response.contentLength}\r\n`;
  return head + 'X-Content-Type-Options: nosniff\r\n';
}

/** The head's last fields, which depend on the connection, and the empty line. */
export function connectionFields(connection: ConnectionHeaders): string {
  return connection.keepAlive
    ? `Connection: keep-alive\r\nKeep-Alive: timeout=${connection.keepAliveTimeoutSeconds}, max=${connection.remainingRequests}\r\n\r\n`
    : 'Connection: close\r\n\r\n';
}

/** The start of a head that goes out many times, re-encoded once a second for its Date. */
export class PreparedHead implements PreparedStart {
  private date = '';
  private start = Buffer.alloc(0);

  constructor(private readonly fields: HeadFields) {}

  startBytes(now: number = Date.now()): Buffer {
    const date = httpDate(now);
    if (date !== this.date) {
      this.date = date;
      this.start = Buffer.from(headStart(this.fields, date), 'latin1');
    }
    return this.start;
  }
}

/** Keep-alive fields are tabled up to this many remaining requests, and built per response above. */
const MAX_TABLED_REMAINING = 1000;
const CLOSE_FIELDS = Buffer.from(connectionFields({ keepAlive: false, keepAliveTimeoutSeconds: 0, remainingRequests: 0 }), 'latin1');
/** Keep-alive timeout in seconds -> the fields by remaining requests. */
const keepAliveFields = new Map<number, Array<Buffer | undefined>>();

/** The connection fields as bytes; every connection repeats the same few. */
export function connectionFieldBytes(connection: ConnectionHeaders): Buffer {
  if (!connection.keepAlive) return CLOSE_FIELDS;
  const remaining = connection.remainingRequests;
  if (remaining > MAX_TABLED_REMAINING) return Buffer.from(connectionFields(connection), 'latin1');
  let table = keepAliveFields.get(connection.keepAliveTimeoutSeconds);
  if (table === undefined) {
    table = new Array<Buffer | undefined>(MAX_TABLED_REMAINING + 1);
    keepAliveFields.set(connection.keepAliveTimeoutSeconds, table);
  }
  return (table[remaining] ??= Buffer.from(connectionFields(connection), 'latin1'));
}

/** A response's head as two buffers: its start (prepared, or encoded now) and its connection fields. */
export function headBytes(response: Response, connection: ConnectionHeaders): [start: Uint8Array, ending: Buffer] {
  const start = response.prepared?.startBytes() ?? Buffer.from(headStart(response, httpDate()), 'latin1');
  return [start, connectionFieldBytes(connection)];
}

/**
 * The interim answer to `Expect: 100-continue` (RFC 9110 §10.1.1), around the request's
 * `X-Trace-Id` field: its status line, and the empty line that ends it.
 */
export const CONTINUE_START = Buffer.from(`HTTP/1.1 100 ${reasonPhrase(100)}\r\n`, 'latin1');
export const CONTINUE_END = Buffer.from('\r\n', 'latin1');
