// Why a request was refused: for each cause a stable code, the status it is answered with, one
// fixed sentence for the client, which the error page shows instead of its status's general
// explanation, and, for a cause that is a security rule, the label it is counted under in
// http_server_security_rejections_total. Callers name the code alone: a cause cannot be sent
// with a status, or counted under a label, other than its own.
// The code is the log's `reason`, on the access line and on the refusal's own lines; the
// detail (which header, which byte) goes only to those lines, as `detail`. Fixed sentences
// only: a refusal never repeats the bytes the client sent, so no page can carry markup a
// client chose. A cause that is also a label of the rejection metrics (http/events.ts) has
// the same name here.
import type { ErrorStatus } from './status.js';

/**
 * Bounded labels for the security rejection metric: why a request was refused for what it
 * asked or who sent it, unlike the 503s of http/events.ts RejectionReason. A request that
 * cannot be understood at all is malformed, not refused by a rule: the parser's causes, an
 * invalid percent-encoding, a target that is no path (docs/security.md).
 * `bad_path`: a path that decodes to a NUL or control character; `traversal`: a dot segment,
 * a backslash or a leading //; `unauthorized`: an upload without a valid bearer token (401,
 * or 400 for a malformed one); `upload_rate`: an upload past its client's rate (429);
 * `body_memory_share`: a request whose body would take its client past its part of
 * MAX_BODY_MEMORY_BYTES (429); `bad_forwarded_source`: a trusted proxy's X-Forwarded-For names
 * a source no TCP client has (400), as a PROXY header's `bad_source` does (counted as
 * `proxy_header`).
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

interface RefusalEntry {
  readonly status: ErrorStatus;
  readonly sentence: string;
  readonly rule?: SecurityRule;
}

const CATALOGUE = {
  // The request line and the header section (the parser).
  missing_request_line: { status: 400, sentence: 'The request line is missing.' },
  malformed_request_line: { status: 400, sentence: 'The request line is not a method, a target and a version separated by single spaces.' },
  invalid_method: { status: 400, sentence: 'The method is not a valid token.' },
  invalid_target: { status: 400, sentence: 'The request target is malformed.' },
  malformed_version: { status: 400, sentence: 'The HTTP version is malformed.' },
  version_not_supported: { status: 505, sentence: 'Only HTTP/1.0 and HTTP/1.1 are supported.' },
  request_line_too_long: { status: 414, sentence: 'The request line is longer than the server accepts.' },
  header_section_too_large: { status: 431, sentence: 'The header section is larger than the server accepts.' },
  bare_lf: { status: 400, sentence: 'A line ends with LF alone; lines end with CRLF.' },
  bare_cr: { status: 400, sentence: 'A line holds a CR that does not end it.' },
  obsolete_line_folding: { status: 400, sentence: 'Obsolete line folding (a header line that starts with whitespace) is refused.' },
  header_without_colon: { status: 400, sentence: 'A header line has no name and colon.' },
  whitespace_before_colon: { status: 400, sentence: 'Whitespace between a header name and its colon is refused.' },
  invalid_header_name: { status: 400, sentence: 'A header name holds a character that is not allowed.' },
  invalid_header_value: { status: 400, sentence: 'A header value holds a byte that is not allowed.' },
  duplicate_host: { status: 400, sentence: 'More than one Host header is refused.' },
  expectation_unsupported: { status: 417, sentence: 'Only the 100-continue expectation is supported.' },
  // Body framing (the parser).
  duplicate_content_length: { status: 400, sentence: 'More than one Content-Length is refused.' },
  invalid_content_length: { status: 400, sentence: 'The Content-Length is not a decimal number.' },
  length_and_chunked: { status: 400, sentence: 'Content-Length and Transfer-Encoding together are refused.' },
  transfer_encoding_in_http10: { status: 400, sentence: 'Transfer-Encoding is refused in an HTTP/1.0 request.' },
  empty_transfer_encoding: { status: 400, sentence: 'An empty Transfer-Encoding is refused.' },
  tab_after_transfer_encoding: { status: 400, sentence: 'A tab after the Transfer-Encoding value is refused.' },
  chunked_not_last: { status: 400, sentence: 'The chunked coding must be the only and final transfer coding.' },
  transfer_coding_not_implemented: { status: 501, sentence: 'Only the chunked transfer coding is supported.' },
  invalid_chunk_size: { status: 400, sentence: 'A chunk size is not a hexadecimal number.' },
  invalid_chunk_extension: { status: 400, sentence: 'A chunk extension is malformed.' },
  chunk_size_line_too_long: { status: 400, sentence: 'A chunk size line is longer than the server accepts.' },
  chunk_without_crlf: { status: 400, sentence: 'Chunk data is not followed by CRLF.' },
  trailer_not_allowed: { status: 400, sentence: 'A trailer holds a field that is not allowed in trailers.' },
  body_too_large: { status: 413, sentence: 'The request body is larger than the server accepts.' },
  // Time limits.
  head_timeout: { status: 408, sentence: 'The request head was not received in time.' },
  body_timeout: { status: 408, sentence: 'The request body was not received in time.' },
  // Host and target (the router).
  missing_host: { status: 400, sentence: 'The Host header is missing.', rule: 'missing_host' },
  invalid_host: { status: 400, sentence: 'The Host header is not a host name with an optional port.', rule: 'invalid_host' },
  host_not_allowed: { status: 403, sentence: 'This server does not answer for the host the request names.', rule: 'host_not_allowed' },
  // Who sent it (the X-Forwarded-For of a trusted proxy).
  bad_forwarded_source: { status: 400, sentence: 'X-Forwarded-For names a source address that no client can have.', rule: 'bad_forwarded_source' },
  scheme_not_served: { status: 400, sentence: 'Only http targets are served.' },
  method_not_implemented: { status: 501, sentence: 'This server does not implement the request method.' },
  method_not_allowed: { status: 405, sentence: 'The request method is not allowed for this resource; the Allow header lists those that are.' },
  path_not_absolute: { status: 400, sentence: 'The request target is not an absolute path.' },
  bad_percent_encoding: { status: 400, sentence: 'The path holds an invalid percent-encoding.' },
  nul_in_path: { status: 400, sentence: 'The path holds a NUL byte.', rule: 'bad_path' },
  control_in_path: { status: 400, sentence: 'The path holds a control character.', rule: 'bad_path' },
  double_slash: { status: 403, sentence: 'A path that starts with // is refused.', rule: 'traversal' },
  backslash_in_path: { status: 403, sentence: 'A path that holds a backslash is refused.', rule: 'traversal' },
  dot_segment: { status: 403, sentence: 'A path with a . or .. segment is refused.', rule: 'traversal' },
  hidden_file: { status: 403, sentence: 'Hidden files and folders (names that start with a dot) are not served.', rule: 'hidden_file' },
  // Files (the worker).
  outside_root: { status: 403, sentence: 'The file lies outside the document root.', rule: 'outside_root' },
  not_readable: { status: 403, sentence: 'The server is not allowed to read this file.' },
  file_type_not_served: { status: 415, sentence: 'Files of this type are not served.' },
  file_changed: { status: 503, sentence: 'The file changed while it was read; please retry.' },
  too_many_open_files: { status: 503, sentence: 'The server has too many files open; please retry later.' },
  // Uploads.
  upload_not_json: { status: 415, sentence: 'Only application/json documents can be uploaded.' },
  upload_not_utf8: { status: 415, sentence: 'Uploaded documents must be UTF-8; the Content-Type names another charset.' },
  upload_content_coded: { status: 415, sentence: 'An uploaded document must not be content-coded; send it as identity.' },
  upload_length_required: { status: 411, sentence: 'An upload needs a Content-Length or Transfer-Encoding: chunked.' },
  upload_if_match: { status: 412, sentence: 'If-Match cannot hold on /upload, which has no current document.' },
  missing_token: { status: 401, sentence: 'Uploads need a bearer token in the Authorization header.', rule: 'unauthorized' },
  malformed_token: { status: 400, sentence: 'The Authorization header is not a well-formed bearer token.', rule: 'unauthorized' },
  invalid_token: { status: 401, sentence: 'The bearer token is not valid.', rule: 'unauthorized' },
  upload_rate: { status: 429, sentence: 'This client has sent too many uploads; retry after the time Retry-After gives.', rule: 'upload_rate' },
  invalid_document: { status: 400, sentence: 'The document is not one JSON value in UTF-8.' },
  storage_full: { status: 507, sentence: 'The server has no room left to store the document.' },
  // The server's own limits.
  body_memory_share: { status: 429, sentence: 'This client already holds its share of the memory for request bodies; please retry later.', rule: 'body_memory_share' },
  body_memory: { status: 503, sentence: "The server's memory for request bodies is full; please retry later." },
  queue_full: { status: 503, sentence: 'Every worker is busy and the queue is full; please retry later.' },
  queue_timeout: { status: 503, sentence: 'The request waited too long for a worker; please retry later.' },
  worker_lost: { status: 503, sentence: 'The request could not be run by a worker; please retry later.' },
} as const satisfies Record<string, RefusalEntry>;

/** Why a request was refused; any other string does not compile. */
export type Refusal = keyof typeof CATALOGUE;

/** A check that refused: the cause, and the detail for the log that the client is not shown. */
export interface Refused<R extends Refusal = Refusal> {
  readonly ok: false;
  readonly refusal: R;
  readonly detail: string;
}

/** The status `refusal` is answered with. */
export function refusalStatus<R extends Refusal>(refusal: R): (typeof CATALOGUE)[R]['status'] {
  return CATALOGUE[refusal].status;
}

/** What the client is told of `refusal`. */
export function refusalSentence(refusal: Refusal): string {
  return CATALOGUE[refusal].sentence;
}

/** The security rule `refusal` is counted under, if it is one. */
export function securityRuleOf(refusal: Refusal): SecurityRule | undefined {
  const entry: RefusalEntry = CATALOGUE[refusal];
  return entry.rule;
}

/** Every refusal, for tests that check the catalogue. */
export const REFUSALS = Object.keys(CATALOGUE) as readonly Refusal[];
