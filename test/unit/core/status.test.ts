// The status catalogue: the reason phrases of RFC 9110 §15 (and RFC 6585 for 429, RFC 4918 for
// 507), an explanation for every error, and the two renderings built from them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorDocument, errorPage, explanation, reasonPhrase, redirectPage, type ErrorStatus, type Status } from '../../../src/core/status.js';

// Keyed by Status, so a status added to the catalogue or taken out of it does not compile until listed here.
const RFC_REASONS: Readonly<Record<Status, string>> = {
  100: 'Continue', 200: 'OK', 201: 'Created', 204: 'No Content', 206: 'Partial Content', 301: 'Moved Permanently',
  304: 'Not Modified', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 408: 'Request Timeout', 411: 'Length Required', 412: 'Precondition Failed', 413: 'Content Too Large',
  414: 'URI Too Long', 415: 'Unsupported Media Type', 416: 'Range Not Satisfiable', 417: 'Expectation Failed',
  429: 'Too Many Requests', 431: 'Request Header Fields Too Large', 500: 'Internal Server Error',
  501: 'Not Implemented', 503: 'Service Unavailable', 505: 'HTTP Version Not Supported', 507: 'Insufficient Storage',
};

const STATUSES = Object.keys(RFC_REASONS).map(Number) as Status[];

test('every status the server sends has the reason phrase its RFC gives', () => {
  for (const status of STATUSES) assert.equal(reasonPhrase(status), RFC_REASONS[status], `${status}`);
});

test('every error status has a one-line explanation', () => {
  for (const status of STATUSES) {
    if (status < 400) continue;
    const text = explanation(status as ErrorStatus);
    assert.match(text, /^[A-Z][^\n]+\.$/, `${status}: one sentence`);
  }
});

test('the HTML page names the status and explains it', () => {
  const page = errorPage(404);
  assert.match(page, /<title>404 Not Found<\/title>/);
  assert.ok(page.includes(explanation(404)));
});

test("the JSON document says error, with the request's own message", () => {
  assert.deepEqual(errorDocument('invalid JSON at byte 3'), { status: 'error', message: 'invalid JSON at byte 3' });
});

test('the redirect page names its status from the catalogue', () => {
  assert.match(redirectPage('/dir/'), /<title>301 Moved Permanently<\/title>.*href="\/dir\/"/);
});
