// The status catalogue: every status this server sends, with its reason phrase and, for
// errors, a one-line explanation; and the two renderings of an error (an HTML page for the
// public port, a JSON document for uploads and the admin port). Nothing else spells them.

interface StatusEntry {
  readonly reason: string;
  /** Shown on the error page; statuses that are not errors have none. */
  readonly explanation?: string;
}

const CATALOGUE = {
  100: { reason: 'Continue' },
  200: { reason: 'OK' },
  201: { reason: 'Created' },
  204: { reason: 'No Content' },
  206: { reason: 'Partial Content' },
  301: { reason: 'Moved Permanently' },
  304: { reason: 'Not Modified' },
  400: { reason: 'Bad Request', explanation: 'The request could not be understood by the server.' },
  401: { reason: 'Unauthorized', explanation: 'The request needs valid credentials.' },
  403: { reason: 'Forbidden', explanation: 'You are not allowed to access this resource.' },
  404: { reason: 'Not Found', explanation: 'The requested resource was not found on this server.' },
  405: { reason: 'Method Not Allowed', explanation: 'This method is not allowed for the requested resource.' },
  408: { reason: 'Request Timeout', explanation: 'The request was not received in time.' },
  411: { reason: 'Length Required', explanation: 'The request body needs its length: a Content-Length, or chunked transfer coding.' },
  412: { reason: 'Precondition Failed', explanation: 'A precondition given in the request does not hold for this resource.' },
  413: { reason: 'Content Too Large', explanation: 'The request body is larger than the server accepts.' },
  414: { reason: 'URI Too Long', explanation: 'The request target is longer than the server accepts.' },
  415: { reason: 'Unsupported Media Type', explanation: 'The media type is not supported for this resource.' },
  416: { reason: 'Range Not Satisfiable', explanation: 'The requested range cannot be served for this resource.' },
  417: { reason: 'Expectation Failed', explanation: 'The expectation given in the request cannot be met.' },
  429: { reason: 'Too Many Requests', explanation: 'Too many requests from this client; please retry later.' },
  431: { reason: 'Request Header Fields Too Large', explanation: 'The request header fields are larger than the server accepts.' },
  500: { reason: 'Internal Server Error', explanation: 'The server met an unexpected condition.' },
  501: { reason: 'Not Implemented', explanation: 'The server does not support the functionality required.' },
  503: { reason: 'Service Unavailable', explanation: 'The server is too busy to handle the request; please retry later.' },
  505: { reason: 'HTTP Version Not Supported', explanation: 'The HTTP version used in the request is not supported.' },
  507: { reason: 'Insufficient Storage', explanation: 'The server has no room left to store the request.' },
} as const satisfies Record<number, StatusEntry>;

/** A status code this server sends; any other number does not compile. */
export type Status = keyof typeof CATALOGUE;

/** The statuses that carry an explanation: the ones an error page or document is made for. */
export type ErrorStatus = { [S in Status]: (typeof CATALOGUE)[S] extends { explanation: string } ? S : never }[Status];

export function reasonPhrase(status: Status): string {
  return CATALOGUE[status].reason;
}

export function explanation(status: ErrorStatus): string {
  return CATALOGUE[status].explanation;
}

export const SERVER_NAME = 'rawhttp';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The HTML rendering: code, reason phrase, what was wrong (a refusal's fixed sentence, see
 * refusals.ts, else the status's explanation) and the server's name.
 */
export function errorPage(status: ErrorStatus, text: string = explanation(status)): string {
  const title = `${status} ${escapeHtml(reasonPhrase(status))}`;
  return (
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>\n` +
    `<body><h1>${title}</h1><p>${escapeHtml(text)}</p><hr><address>${SERVER_NAME}</address></body></html>\n`
  );
}

/** The JSON rendering: `message` says what was wrong with this request. */
export function errorDocument(message: string): { readonly status: 'error'; readonly message: string } {
  return { status: 'error', message };
}

/** A one-line HTML page that links to `location` (already percent-encoded), for 301. */
export function redirectPage(location: string): string {
  const escaped = escapeHtml(location);
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>301 ${reasonPhrase(301)}</title></head><body><a href="${escaped}">${escaped}</a></body></html>\n`;
}
