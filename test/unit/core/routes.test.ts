// What the server serves, as clients see it: the Allow values of its 405s and OPTIONS answers,
// and which methods are standard (405 where a target does not allow one, 501 for the rest; the
// metrics label every other method OTHER).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SERVER_ALLOW, STANDARD_METHODS, STATIC_ALLOW, UPLOAD_ALLOW } from '../../../src/core/routes.js';

test('the Allow value of files, of /upload and of the whole server', () => {
  assert.equal(STATIC_ALLOW, 'GET, HEAD, OPTIONS');
  assert.equal(UPLOAD_ALLOW, 'POST, OPTIONS');
  assert.equal(SERVER_ALLOW, 'GET, HEAD, POST, OPTIONS');
});

test('the standard methods are those of RFC 9110 §9 and PATCH (RFC 5789), case-sensitive', () => {
  assert.deepEqual([...STANDARD_METHODS].sort(), ['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE']);
  for (const method of ['get', 'Post', 'PROPFIND', 'M-SEARCH']) assert.equal(STANDARD_METHODS.has(method), false, method);
});
