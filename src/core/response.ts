// A response as handlers and the engine build it, and the builders every part shares. The
// engine adds Date, Server, Connection and framing when it writes one (see http/head.ts).
import { refusalSentence, refusalStatus, type Refusal } from './refusals.js';
import { errorDocument, errorPage, redirectPage, type ErrorStatus, type Status } from './status.js';

export type HeaderList = ReadonlyArray<readonly [name: string, value: string]>;

/** Where the body bytes come from. A file body is an open descriptor the writer streams and closes. */
export type ResponseBody =
  | { readonly kind: 'none' }
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array }
  | { readonly kind: 'file'; readonly fd: number; readonly start: number; readonly length: number };

/** The head up to the connection fields, serialized ahead for a response sent many times. */
export interface PreparedStart {
  startBytes(now?: number): Uint8Array;
}

export interface Response {
  readonly status: Status;
  readonly headers: HeaderList;
  /**
   * Content-Length to announce: the body length, the length GET would send (HEAD), or null
   * where the header must not appear (204, and 304 which describes another response).
   */
  readonly contentLength: number | null;
  readonly body: ResponseBody;
  /** The same head as bytes, on responses that go out many times (a cached file's 200). */
  readonly prepared?: PreparedStart;
  /** Why the request was refused, for its access log line; absent on every other response. */
  readonly refusal?: Refusal;
}

/** What a head is made of besides the connection fields. */
export type HeadFields = Pick<Response, 'status' | 'headers' | 'contentLength'>;

export const NO_BODY: ResponseBody = { kind: 'none' };

function withBytes(status: Status, headers: HeaderList, bytes: Uint8Array, method: string, refusal?: Refusal): Response {
  return { status, headers, contentLength: bytes.length, body: method === 'HEAD' ? NO_BODY : { kind: 'bytes', bytes }, refusal };
}

// TextEncoder's output owns its memory, so a body made here can be transferred between threads.
const encoder = new TextEncoder();

/** The field of a 503 (or 429) the client may retry in a second. */
export const RETRY_IN_A_SECOND: HeaderList = [['Retry-After', '1']];

function htmlError(status: ErrorStatus, method: string, extraHeaders: HeaderList, text: string | undefined, refusal: Refusal | undefined): Response {
  const headers: HeaderList = [['Content-Type', 'text/html; charset=utf-8'], ['Cache-Control', 'no-store'], ...extraHeaders];
  return withBytes(status, headers, encoder.encode(errorPage(status, text)), method, refusal);
}

/**
 * An error as an HTML page (see status.ts) that says what the status means, for an answer
 * with no cause to name (404, 500, a file's 412 or 416); HEAD gets the same head without the body.
 */
export function errorResponse(status: ErrorStatus, method: string, extraHeaders: HeaderList = []): Response {
  return htmlError(status, method, extraHeaders, undefined, undefined);
}

/** A refusal as an HTML page: its status, and its sentence instead of the status's explanation. */
export function refusalResponse(refusal: Refusal, method: string, extraHeaders: HeaderList = []): Response {
  return htmlError(refusalStatus(refusal), method, extraHeaders, refusalSentence(refusal), refusal);
}

/** A JSON document, never cached. */
export function jsonResponse(status: Status, document: unknown, extraHeaders: HeaderList = []): Response {
  return jsonWithRefusal(status, document, extraHeaders, undefined);
}

/** A refusal as a JSON error document whose `message` says what was wrong with this request's body. */
export function jsonRefusal(refusal: Refusal, message: string): Response {
  return jsonWithRefusal(refusalStatus(refusal), errorDocument(message), [], refusal);
}

function jsonWithRefusal(status: Status, document: unknown, extraHeaders: HeaderList, refusal: Refusal | undefined): Response {
  const headers: HeaderList = [['Content-Type', 'application/json'], ['Cache-Control', 'no-store'], ...extraHeaders];
  return withBytes(status, headers, encoder.encode(JSON.stringify(document)), 'POST', refusal);
}

/**
 * 500 for an upload that exists under `filepath` but whose durability is not confirmed (the
 * folder fsync failed, or the worker stopped after the link): the client should fetch it
 * rather than send it again (docs/uploads.md).
 */
export function storedUnconfirmedResponse(filepath: string): Response {
  return jsonResponse(500, { ...errorDocument('stored but not confirmed durable'), filepath });
}

/** 204 to OPTIONS: what the target allows, and no body (so no Content-Length either). */
export function optionsResponse(allow: string): Response {
  return { status: 204, headers: [['Allow', allow], ['Cache-Control', 'no-store']], contentLength: null, body: NO_BODY };
}

/** 301 to `location` (already percent-encoded), with a one-line page for clients that show it. */
export function redirectResponse(location: string, method: string): Response {
  const headers: HeaderList = [['Location', location], ['Content-Type', 'text/html; charset=utf-8'], ['Cache-Control', 'no-store']];
  return withBytes(301, headers, encoder.encode(redirectPage(location)), method);
}
