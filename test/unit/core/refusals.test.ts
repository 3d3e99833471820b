// The refusal catalogue: for each cause its status, one sentence, which the error page shows
// instead of its status's general explanation, and the security rule it counts under, if any.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REFUSALS, refusalSentence, refusalStatus, securityRuleOf, type Refusal, type SecurityRule } from '../../../src/core/refusals.js';
import { errorResponse, jsonRefusal, refusalResponse } from '../../../src/core/response.js';
import { errorPage, explanation, type ErrorStatus } from '../../../src/core/status.js';

test('every refusal has a stable snake_case code and one short sentence', () => {
  for (const refusal of REFUSALS) {
    assert.match(refusal, /^[a-z0-9]+(?:_[a-z0-9]+)*$/);
    assert.match(refusalSentence(refusal), /^[A-Z][^\n<>&"]{0,118}\.$/, refusal);
  }
});

// Pinned: a status moved in the catalogue is a change of what clients are answered, and shows here.
const BY_STATUS: Readonly<Partial<Record<ErrorStatus, readonly Refusal[]>>> = {
  400: [
    'missing_request_line', 'malformed_request_line', 'invalid_method', 'invalid_target', 'malformed_version', 'bare_lf', 'bare_cr',
    'obsolete_line_folding', 'header_without_colon', 'whitespace_before_colon', 'invalid_header_name', 'invalid_header_value',
    'duplicate_host', 'duplicate_content_length', 'invalid_content_length', 'length_and_chunked', 'transfer_encoding_in_http10',
    'empty_transfer_encoding', 'tab_after_transfer_encoding', 'chunked_not_last', 'invalid_chunk_size', 'invalid_chunk_extension',
    'chunk_size_line_too_long', 'chunk_without_crlf', 'trailer_not_allowed', 'missing_host', 'invalid_host', 'bad_forwarded_source',
    'scheme_not_served', 'path_not_absolute', 'bad_percent_encoding', 'nul_in_path', 'control_in_path', 'malformed_token', 'invalid_document',
  ],
  401: ['missing_token', 'invalid_token'],
  403: ['host_not_allowed', 'double_slash', 'backslash_in_path', 'dot_segment', 'hidden_file', 'outside_root', 'not_readable'],
  405: ['method_not_allowed'],
  408: ['head_timeout', 'body_timeout'],
  411: ['upload_length_required'],
  412: ['upload_if_match'],
  413: ['body_too_large'],
  414: ['request_line_too_long'],
  415: ['file_type_not_served', 'upload_not_json', 'upload_not_utf8', 'upload_content_coded'],
  417: ['expectation_unsupported'],
  429: ['upload_rate', 'body_memory_share'],
  431: ['header_section_too_large'],
  501: ['transfer_coding_not_implemented', 'method_not_implemented'],
  503: ['file_changed', 'too_many_open_files', 'body_memory', 'queue_full', 'queue_timeout', 'worker_lost'],
  505: ['version_not_supported'],
  507: ['storage_full'],
};

test('each refusal is answered with its one status', () => {
  const pinned = Object.entries(BY_STATUS).flatMap(([status, refusals]) => refusals.map((refusal) => [refusal, Number(status)] as const));
  assert.deepEqual(new Map(pinned), new Map(REFUSALS.map((refusal) => [refusal, refusalStatus(refusal)])));
});

// The label each security refusal counts under in http_server_security_rejections_total; every
// other refusal counts under none (a malformed request is no rule's refusal: docs/security.md).
const SECURITY_RULES: Readonly<Partial<Record<Refusal, SecurityRule>>> = {
  missing_host: 'missing_host',
  invalid_host: 'invalid_host',
  host_not_allowed: 'host_not_allowed',
  bad_forwarded_source: 'bad_forwarded_source',
  nul_in_path: 'bad_path',
  control_in_path: 'bad_path',
  double_slash: 'traversal',
  backslash_in_path: 'traversal',
  dot_segment: 'traversal',
  hidden_file: 'hidden_file',
  outside_root: 'outside_root',
  missing_token: 'unauthorized',
  malformed_token: 'unauthorized',
  invalid_token: 'unauthorized',
  upload_rate: 'upload_rate',
  body_memory_share: 'body_memory_share',
};

test('each security refusal counts under its rule, and no other refusal under any', () => {
  for (const refusal of REFUSALS) assert.equal(securityRuleOf(refusal), SECURITY_RULES[refusal], refusal);
  for (const refusal of ['bad_percent_encoding', 'path_not_absolute', 'invalid_target', 'duplicate_host'] as const) assert.equal(securityRuleOf(refusal), undefined, refusal);
});

test("the page of a refusal says its cause instead of the status's explanation", () => {
  const page = errorPage(400, refusalSentence('missing_host'));
  assert.match(page, /<title>400 Bad Request<\/title>/);
  assert.ok(page.includes('<p>The Host header is missing.</p>'), page);
  assert.equal(page.includes(explanation(400)), false);
  assert.ok(errorPage(400).includes(`<p>${explanation(400)}</p>`), 'no refusal: the explanation, as before');
});

test('a refused response has its status from the catalogue and carries its refusal for the access log; HEAD keeps the length without the body', () => {
  const get = refusalResponse('upload_not_json', 'POST');
  assert.deepEqual([get.status, get.refusal], [415, 'upload_not_json']);
  const head = refusalResponse('upload_not_json', 'HEAD');
  assert.deepEqual([head.status, head.refusal, head.contentLength, head.body.kind], [415, 'upload_not_json', get.contentLength, 'none']);
  assert.deepEqual(refusalResponse('method_not_allowed', 'GET', [['Allow', 'GET']]).headers.at(-1), ['Allow', 'GET']);
  assert.equal(errorResponse(404, 'GET').refusal, undefined);
  const document = jsonRefusal('invalid_document', 'invalid JSON at byte 3');
  assert.deepEqual([document.status, document.refusal, document.headers[0]], [400, 'invalid_document', ['Content-Type', 'application/json']]);
});
