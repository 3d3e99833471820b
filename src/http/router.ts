// Routing, pure: decides from the request head alone what happens to a request, so that a
// refusal (and the answer to `Expect: 100-continue`) never costs a worker or a body read.
import type { RequestHead } from '../core/request.js';
import type { HeaderList } from '../core/response.js';
import { SERVER_ALLOW, STANDARD_METHODS, STATIC_ALLOW, UPLOAD_ALLOW, UPLOAD_PATH } from '../core/routes.js';
import type { Refusal } from '../core/refusals.js';
import type { ConditionalHeaders, StaticJob } from '../core/job.js';
import { checkHost } from '../security/host.js';
import { checkRequestPath } from '../security/path.js';
import { parameterValues } from './media-type.js';
import { isToken } from './request-grammar.js';

export type Route =
  /** A file under the document root or the uploads folder. */
  | StaticJob
  /** A JSON document to store; its body is still to be read. */
  | { readonly kind: 'upload' }
  /** OPTIONS: answered at once with what the target allows. */
  | { readonly kind: 'options'; readonly allow: string }
  | {
      readonly kind: 'reject';
      /** Why: the status, what the client is told and the security rule, if any, follow (refusals.ts). */
      readonly refusal: Refusal;
      /** What a security refusal's log line adds, with the detail the client is not shown. */
      readonly detail: string;
      readonly headers?: HeaderList;
    };

/** The routes answered at once, without a job: a refusal, or OPTIONS. */
export type ImmediateRoute = Extract<Route, { kind: 'reject' | 'options' }>;

/** `application/json`, any case, with any parameters (a charset is checked apart: declaredCharset). */
export function isJsonMediaType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const semicolon = contentType.indexOf(';');
  const mediaType = (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
  return mediaType === 'application/json';
}

/** The names of UTF-8 a client may give: its registered name, and the `utf8` label of the WHATWG Encoding Standard. */
const UTF8_CHARSETS = new Set(['utf-8', 'utf8']);

/**
 * What the `charset` parameters say: UTF-8 (or nothing, so JSON's own UTF-8), another charset,
 * or none at all. RFC 8259 §11 defines no charset for application/json and says one has no
 * effect, but a client that declares utf-16 sends bytes that are not UTF-8, which the body check
 * could only call invalid JSON at byte 1. A charset is a token (RFC 9110 §8.3.2), and a quoted
 * value stands for the same value unquoted (§5.6.6): `charset=` is malformed (a token has at
 * least one character), and `charset=""` or `charset="utf 8"` name no charset either.
 */
export function declaredCharset(contentType: string): 'utf-8' | 'other' | 'malformed' {
  const charsets = parameterValues(contentType, 'charset');
  if (!charsets.every(isToken)) return 'malformed';
  return charsets.every((charset) => UTF8_CHARSETS.has(charset.toLowerCase())) ? 'utf-8' : 'other';
}

const ABSOLUTE_FORM = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)(.*)$/;

type Target = { readonly ok: true; readonly target: string } | Extract<Route, { kind: 'reject' }>;

/**
 * The Host rules, and the absolute form (`GET http://host:port/path`): there the target's
 * authority names the host instead of the Host header (RFC 9112 §3.2.2), and must be allowed.
 */
function checkAuthority(head: RequestHead, allowedHosts: ReadonlySet<string>): Target {
  const host = checkHost(head.headers.host, allowedHosts);
  // The usual origin form ("/path") cannot match the pattern, so it is not even tried.
  const absolute = head.target.startsWith('/') ? null : ABSOLUTE_FORM.exec(head.target);
  if (absolute === null) {
    return host.ok ? { ok: true, target: head.target } : { kind: 'reject', refusal: host.refusal, detail: host.detail };
  }
  const [, scheme, authority, rest] = absolute as unknown as [string, string, string, string];
  // The authority stands in for an allowed Host, not for a missing or malformed one (RFC 9112 §3.2).
  if (host.ok === false && host.refusal !== 'host_not_allowed') return { kind: 'reject', refusal: host.refusal, detail: host.detail };
  if (scheme.toLowerCase() !== 'http') return { kind: 'reject', refusal: 'scheme_not_served', detail: `scheme ${scheme} not served` };
  const byAuthority = checkHost(authority, allowedHosts);
  if (!byAuthority.ok) return { kind: 'reject', refusal: byAuthority.refusal, detail: byAuthority.detail };
  // An empty path is "/" (RFC 9110 §4.2.3), also before a query: `http://host?x` asks for `/?x`.
  return { ok: true, target: rest.startsWith('/') ? rest : `/${rest}` };
}

function conditionsOf(headers: RequestHead['headers']): ConditionalHeaders {
  return {
    ifMatch: headers['if-match'],
    ifNoneMatch: headers['if-none-match'],
    ifModifiedSince: headers['if-modified-since'],
    ifUnmodifiedSince: headers['if-unmodified-since'],
    range: headers.range,
    ifRange: headers['if-range'],
  };
}

/** 405, with the methods the target does allow (RFC 9110 §15.5.6). */
function notAllowed(method: string, allow: string): Route {
  return { kind: 'reject', refusal: 'method_not_allowed', detail: `method ${method} not allowed`, headers: [['Allow', allow]] };
}

/** A body in no content coding: an absent or empty `Content-Encoding`, or `identity`. */
function isIdentityCoded(contentEncoding: string | undefined): boolean {
  const coding = contentEncoding?.trim().toLowerCase();
  return coding === undefined || coding === '' || coding === 'identity';
}

/** `/upload` takes documents and nothing else: no file is served at that path, whatever the folder holds. */
function uploadRoute(head: RequestHead): Route {
  const { method, headers } = head;
  if (method === 'OPTIONS') return { kind: 'options', allow: UPLOAD_ALLOW };
  if (method !== 'POST') return notAllowed(method, UPLOAD_ALLOW);
  const contentType = headers['content-type'];
  if (contentType === undefined || !isJsonMediaType(contentType)) return { kind: 'reject', refusal: 'upload_not_json', detail: 'upload must be application/json' };
  const charset = declaredCharset(contentType);
  // A charset parameter that names no charset leaves no well-formed application/json: answered as any other Content-Type that is not one.
  if (charset === 'malformed') return { kind: 'reject', refusal: 'upload_not_json', detail: 'upload Content-Type malformed: a charset that is not a token' };
  if (charset === 'other') return { kind: 'reject', refusal: 'upload_not_utf8', detail: 'upload charset must be UTF-8' };
  // A coded body would be stored as its coded bytes. The answer says what is taken (RFC 9110 §15.5.16).
  if (!isIdentityCoded(headers['content-encoding'])) return { kind: 'reject', refusal: 'upload_content_coded', detail: 'upload must not be content-coded', headers: [['Accept-Encoding', 'identity']] };
  // Without either framing there is no body (RFC 9112 §6.3); a client that meant one forgot to say how long it is.
  if (head.framing.kind === 'none') return { kind: 'reject', refusal: 'upload_length_required', detail: 'upload needs Content-Length or Transfer-Encoding: chunked' };
  return { kind: 'upload' };
}

export function route(head: RequestHead, allowedHosts: ReadonlySet<string>): Route {
  const authority = checkAuthority(head, allowedHosts);
  if (!('ok' in authority)) return authority;

  const method = head.method;
  if (method === 'OPTIONS' && authority.target === '*') return { kind: 'options', allow: SERVER_ALLOW };
  const served = method === 'GET' || method === 'HEAD' || method === 'POST' || method === 'OPTIONS';
  if (!served && !STANDARD_METHODS.has(method)) return { kind: 'reject', refusal: 'method_not_implemented', detail: `method ${method} not implemented` };
  if (method === 'CONNECT') return notAllowed(method, SERVER_ALLOW);
  const path = checkRequestPath(authority.target);
  if (!path.ok) return { kind: 'reject', refusal: path.refusal, detail: path.detail };
  if (path.path === UPLOAD_PATH) return uploadRoute(head);
  if (!served) return notAllowed(method, STATIC_ALLOW);
  if (method === 'OPTIONS') return { kind: 'options', allow: STATIC_ALLOW };
  const queryAt = authority.target.indexOf('?');
  const query = queryAt === -1 ? '' : authority.target.slice(queryAt);
  // HTTP/1.0 caches know no Vary, and would hand a precompressed page to clients that cannot
  // decode it: an HTTP/1.0 request gets the page as stored (as nginx's gzip_http_version 1.1).
  const acceptEncoding = head.version === '1.0' ? undefined : head.headers['accept-encoding'];
  return { kind: 'static', method, path: path.path, conditions: conditionsOf(head.headers), acceptEncoding, query };
}
