// Response values and their bytes: status line, headers, error pages. Pure apart from the clock.
import type { PreparedHead } from './prepared-head.js';

export const SERVER_NAME = 'rawhttp';

export const STATUS_TEXT: Readonly<Record<number, string>> = {
  100: 'Continue',
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  206: 'Partial Content',
  301: 'Moved Permanently',
  304: 'Not Modified',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  417: 'Expectation Failed',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  505: 'HTTP Version Not Supported',
  507: 'Insufficient Storage',
};

const EXPLANATION: Readonly<Record<number, string>> = {
  400: 'The request could not be understood by the server.',
  403: 'You are not allowed to access this resource.',
  404: 'The requested resource was not found on this server.',
  405: 'This method is not allowed for the requested resource.',
  408: 'The request was not received in time.',
  412: 'A precondition given in the request does not hold for this resource.',
  413: 'The request body is larger than the server accepts.',
  414: 'The request target is longer than the server accepts.',
  415: 'The media type is not supported for this resource.',
  416: 'The requested range cannot be served for this resource.',
  417: 'The expectation given in the request cannot be met.',
  431: 'The request header fields are larger than the server accepts.',
  500: 'The server met an unexpected condition.',
  501: 'The server does not support the functionality required.',
  503: 'The server is too busy to handle the request; please retry later.',
  505: 'The HTTP version used in the request is not supported.',
  507: 'The server has no room left to store the request.',
};

export type HeaderList = ReadonlyArray<readonly [name: string, value: string]>;

/** Where the body bytes come from. A file body is an open descriptor the writer streams and closes. */
export type ResponseBody =
  | { readonly kind: 'none' }
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array }
  | { readonly kind: 'file'; readonly fd: number; readonly start: number; readonly length: number };

/** A response as handlers build it; the connection adds Date, Server, Connection and framing. */
export interface HandlerResponse {
  readonly status: number;
  readonly headers: HeaderList;
  /**
   * Content-Length to announce: the body length, the length GET would send (HEAD), or null
   * where the header must not appear (204, and 304 which describes another response).
   */
  readonly contentLength: number | null;
  readonly body: ResponseBody;
  /** The same head, serialized ahead, on responses that go out many times (a cached file's 200). */
  readonly prepared?: PreparedHead;
}

export const NO_BODY: ResponseBody = { kind: 'none' };

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

export interface ConnectionHeaders {
  readonly keepAlive: boolean;
  readonly keepAliveTimeoutSeconds: number;
  readonly remainingRequests: number;
}

/** The status line and header section, ending with the empty line. */
export function serializeHead(response: HeadFields, connection: ConnectionHeaders): string {
  return headStart(response, httpDate()) + connectionFields(connection);
}

/** What a head is made of besides the connection fields. */
export type HeadFields = Pick<HandlerResponse, 'status' | 'headers' | 'contentLength'>;

/** The head up to the connection fields: status line, Date, Server and the response's own fields. */
export function headStart(response: HeadFields, date: string): string {
  let head = `HTTP/1.1 ${response.status} ${STATUS_TEXT[response.status] ?? 'Unknown'}\r\nDate: ${date}\r\nServer: ${SERVER_NAME}\r\n`;
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

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** An HTML error page: code, reason phrase, one-line explanation and the server's name. */
export function errorResponse(status: number, method: string, extraHeaders: HeaderList = []): HandlerResponse {
  const reason = STATUS_TEXT[status] ?? 'Error';
  const title = `${status} ${escapeHtml(reason)}`;
  const page =
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>\n` +
    `<body><h1>${title}</h1><p>${escapeHtml(EXPLANATION[status] ?? reason)}</p><hr><address>${SERVER_NAME}</address></body></html>\n`;
  const bytes = new TextEncoder().encode(page); // owns its memory, so it can be transferred
  return {
    status,
    headers: [['Content-Type', 'text/html; charset=utf-8'], ['Cache-Control', 'no-store'], ...extraHeaders],
    contentLength: bytes.length,
    body: method === 'HEAD' ? NO_BODY : { kind: 'bytes', bytes },
  };
}

/** 204 to OPTIONS: what the target allows, and no body (so no Content-Length either). */
export function optionsResponse(allow: string): HandlerResponse {
  return { status: 204, headers: [['Allow', allow], ['Cache-Control', 'no-store']], contentLength: null, body: NO_BODY };
}

/** 301 to `location` (already percent-encoded), with a one-line page for clients that show it. */
export function redirectResponse(location: string, method: string): HandlerResponse {
  const bytes = new TextEncoder().encode(`<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>301 Moved Permanently</title></head><body><a href="${escapeHtml(location)}">${escapeHtml(location)}</a></body></html>\n`);
  return {
    status: 301,
    headers: [['Location', location], ['Content-Type', 'text/html; charset=utf-8'], ['Cache-Control', 'no-store']],
    contentLength: bytes.length,
    body: method === 'HEAD' ? NO_BODY : { kind: 'bytes', bytes },
  };
}
