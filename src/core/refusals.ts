// Why a request was refused: a stable code for the access log (`reason`) and one fixed sentence
// for the client, which the error page shows instead of its status's general explanation.
// Fixed sentences only: a refusal never repeats the bytes the client sent, so no page can
// carry markup a client chose. The detail (which header, which byte) goes to the server's log.
// A cause that is also a label of the rejection metrics (events.ts) has the same name here.

const SENTENCES = {
  // The request line and the header section (the parser).
  missing_request_line: 'The request line is missing.',
  malformed_request_line: 'The request line is not a method, a target and a version separated by single spaces.',
  invalid_method: 'The method is not a valid token.',
  invalid_target: 'The request target is malformed.',
  malformed_version: 'The HTTP version is malformed.',
  version_not_supported: 'Only HTTP/1.0 and HTTP/1.1 are supported.',
  request_line_too_long: 'The request line is longer than the server accepts.',
  header_section_too_large: 'The header section is larger than the server accepts.',
  bare_lf: 'A line ends with LF alone; lines end with CRLF.',
  bare_cr: 'A line holds a CR that does not end it.',
  obsolete_line_folding: 'Obsolete line folding (a header line that starts with whitespace) is refused.',
  header_without_colon: 'A header line has no name and colon.',
  whitespace_before_colon: 'Whitespace between a header name and its colon is refused.',
  invalid_header_name: 'A header name holds a character that is not allowed.',
  invalid_header_value: 'A header value holds a byte that is not allowed.',
  duplicate_host: 'More than one Host header is refused.',
  expectation_unsupported: 'Only the 100-continue expectation is supported.',
  // Body framing (the parser).
  duplicate_content_length: 'More than one Content-Length is refused.',
  invalid_content_length: 'The Content-Length is not a decimal number.',
  length_and_chunked: 'Content-Length and Transfer-Encoding together are refused.',
  transfer_encoding_in_http10: 'Transfer-Encoding is refused in an HTTP/1.0 request.',
  empty_transfer_encoding: 'An empty Transfer-Encoding is refused.',
  tab_after_transfer_encoding: 'A tab after the Transfer-Encoding value is refused.',
  chunked_not_last: 'The chunked coding must be the only and final transfer coding.',
  transfer_coding_not_implemented: 'Only the chunked transfer coding is supported.',
  invalid_chunk_size: 'A chunk size is not a hexadecimal number.',
  invalid_chunk_extension: 'A chunk extension is malformed.',
  chunk_size_line_too_long: 'A chunk size line is longer than the server accepts.',
  chunk_without_crlf: 'Chunk data is not followed by CRLF.',
  trailer_not_allowed: 'A trailer holds a field that is not allowed in trailers.',
  body_too_large: 'The request body is larger than the server accepts.',
  // Time limits.
  head_timeout: 'The request head was not received in time.',
  body_timeout: 'The request body was not received in time.',
  // Host and target (the router).
  missing_host: 'The Host header is missing.',
  invalid_host: 'The Host header is not a host name with an optional port.',
  host_not_allowed: 'This server does not answer for the host the request names.',
  // Who sent it (the X-Forwarded-For of a trusted proxy).
  bad_forwarded_source: 'X-Forwarded-For names a source address that no client can have.',
  scheme_not_served: 'Only http targets are served.',
  method_not_implemented: 'This server does not implement the request method.',
  method_not_allowed: 'The request method is not allowed for this resource; the Allow header lists those that are.',
  path_not_absolute: 'The request target is not an absolute path.',
  bad_percent_encoding: 'The path holds an invalid percent-encoding.',
  nul_in_path: 'The path holds a NUL byte.',
  control_in_path: 'The path holds a control character.',
  double_slash: 'A path that starts with // is refused.',
  backslash_in_path: 'A path that holds a backslash is refused.',
  dot_segment: 'A path with a . or .. segment is refused.',
  hidden_file: 'Hidden files and folders (names that start with a dot) are not served.',
  // Files (the worker).
  outside_root: 'The file lies outside the document root.',
  not_readable: 'The server is not allowed to read this file.',
  file_type_not_served: 'Files of this type are not served.',
  file_changed: 'The file changed while it was read; please retry.',
  too_many_open_files: 'The server has too many files open; please retry later.',
  // Uploads.
  upload_not_json: 'Only application/json documents can be uploaded.',
  upload_not_utf8: 'Uploaded documents must be UTF-8; the Content-Type names another charset.',
  upload_content_coded: 'An uploaded document must not be content-coded; send it as identity.',
  upload_length_required: 'An upload needs a Content-Length or Transfer-Encoding: chunked.',
  upload_if_match: 'If-Match cannot hold on /upload, which has no current document.',
  missing_token: 'Uploads need a bearer token in the Authorization header.',
  malformed_token: 'The Authorization header is not a well-formed bearer token.',
  invalid_token: 'The bearer token is not valid.',
  upload_rate: 'This client has sent too many uploads; retry after the time Retry-After gives.',
  invalid_document: 'The document is not one JSON value in UTF-8.',
  storage_full: 'The server has no room left to store the document.',
  // The server's own limits.
  body_memory_share: 'This client already holds its share of the memory for request bodies; please retry later.',
  body_memory: "The server's memory for request bodies is full; please retry later.",
  queue_full: 'Every worker is busy and the queue is full; please retry later.',
  queue_timeout: 'The request waited too long for a worker; please retry later.',
  worker_lost: 'The request could not be run by a worker; please retry later.',
} as const satisfies Record<string, string>;

/** Why a request was refused; any other string does not compile. */
export type Refusal = keyof typeof SENTENCES;

/** What the client is told of `refusal`. */
export function refusalSentence(refusal: Refusal): string {
  return SENTENCES[refusal];
}

/** Every refusal, for tests that check the catalogue. */
export const REFUSALS = Object.keys(SENTENCES) as readonly Refusal[];
