// What the server serves: the upload path and the methods each kind of target allows.

export const UPLOAD_PATH = '/upload';
/** Files of the document root and of the uploads folder. */
export const STATIC_ALLOW = 'GET, HEAD, OPTIONS';
export const UPLOAD_ALLOW = 'POST, OPTIONS';
/** The whole server (`OPTIONS *`, and the 405 for CONNECT, which names no target of ours). */
export const SERVER_ALLOW = 'GET, HEAD, POST, OPTIONS';
/**
 * The methods of RFC 9110 §9 and PATCH (RFC 5789): one a target does not allow gets 405,
 * any other method 501 (§9.1). Methods are case-sensitive: `get` is not GET.
 */
export const STANDARD_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT']);
/** Where uploaded documents are served from. */
export const UPLOADS_PREFIX = '/uploads';

/**
 * Bounded labels for the security rejection metric: why a request was refused for what it
 * asked or who sent it (4xx answers, unlike the 503s of http/events.ts RejectionReason).
 * `unauthorized`: an upload without a valid bearer token (401, or 400 for a malformed one);
 * `upload_rate`: an upload past its client's rate (429); `body_memory_share`: a request whose
 * body would take its client past its part of MAX_BODY_MEMORY_BYTES (429);
 * `bad_forwarded_source`: a trusted proxy's X-Forwarded-For names a source no TCP client has
 * (400), as a PROXY header's `bad_source` does (counted as `proxy_header`).
 */
export type SecurityRule =
  | 'bad_path'
  | 'traversal'
  | 'hidden_file'
  | 'outside_root'
  | 'missing_host'
  | 'invalid_host'
  | 'host_not_allowed'
  | 'unauthorized'
  | 'upload_rate'
  | 'body_memory_share'
  | 'bad_forwarded_source';
