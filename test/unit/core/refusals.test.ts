// The refusal catalogue: one sentence per cause, which the error page shows instead of its
// status's general explanation.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REFUSALS, refusalSentence } from '../../../src/core/refusals.js';
import { errorResponse } from '../../../src/core/response.js';
import { errorPage, explanation } from '../../../src/core/status.js';

test('every refusal has a stable snake_case code and one short sentence', () => {
  for (const refusal of REFUSALS) {
    assert.match(refusal, /^[a-z0-9]+(?:_[a-z0-9]+)*$/);
    assert.match(refusalSentence(refusal), /^[A-Z][^\n<>&"]{0,118}\.$/, refusal);
  }
});

test("the page of a refusal says its cause instead of the status's explanation", () => {
  const page = errorPage(400, 'missing_host');
  assert.match(page, /<title>400 Bad Request<\/title>/);
  assert.ok(page.includes('<p>The Host header is missing.</p>'), page);
  assert.equal(page.includes(explanation(400)), false);
  assert.ok(errorPage(400).includes(`<p>${explanation(400)}</p>`), 'no refusal: the explanation, as before');
});

test('a refused response carries its refusal for the access log; HEAD keeps the length without the body', () => {
  const get = errorResponse(415, 'POST', [], 'upload_not_json');
  assert.equal(get.refusal, 'upload_not_json');
  const head = errorResponse(415, 'HEAD', [], 'upload_not_json');
  assert.deepEqual([head.refusal, head.contentLength, head.body.kind], ['upload_not_json', get.contentLength, 'none']);
  assert.equal(errorResponse(404, 'GET').refusal, undefined);
});
