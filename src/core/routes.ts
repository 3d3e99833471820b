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

