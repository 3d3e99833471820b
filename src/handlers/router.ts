// Routing, pure: decides from the request head alone what happens to a request, so that a
// refusal (and the answer to `Expect: 100-continue`) never costs a worker or a body read.
import type { RequestHead } from '../http/parser.js';
import type { HeaderList } from '../http/response.js';
import { checkHost } from '../security/host.js';
import { checkRequestPath, type SecurityRule } from '../security/path.js';

export const UPLOAD_PATH = '/upload';
export const STATIC_ALLOW = 'GET, HEAD';
export const SERVER_ALLOW = 'GET, HEAD, POST';

export type StaticMethod = 'GET' | 'HEAD' | 'POST';

export type Route =
  /** A file under the document root; POST only learns whether it exists (405 or 404). */
  | { readonly kind: 'static'; readonly method: StaticMethod; readonly path: string }
  | { readonly kind: 'upload' }
  | {
      readonly kind: 'reject';
      readonly status: number;
      readonly reason: string;
      readonly rule?: SecurityRule;
      readonly headers?: HeaderList;
    };

/** `application/json`, any case, parameters such as charset allowed. */
export function isJsonMediaType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const semicolon = contentType.indexOf(';');
  const mediaType = (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
  return mediaType === 'application/json';
}

export function route(head: RequestHead, allowedHosts: ReadonlySet<string>): Route {
  const host = checkHost(head.headers.host, allowedHosts);
  if (!host.ok) return { kind: 'reject', status: host.status, reason: host.reason, rule: host.rule };

  const method = head.method;
  if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') {
    return { kind: 'reject', status: 405, reason: `method ${method} not allowed`, headers: [['Allow', SERVER_ALLOW]] };
  }
  const path = checkRequestPath(head.target);
  if (!path.ok) return { kind: 'reject', status: path.status, reason: path.reason, rule: path.rule };

  if (method === 'POST' && path.path === UPLOAD_PATH) {
    if (!isJsonMediaType(head.headers['content-type'])) {
      return { kind: 'reject', status: 415, reason: 'upload must be application/json' };
    }
    return { kind: 'upload' };
  }
  return { kind: 'static', method, path: path.path };
}
