import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RequestHead } from '../../../src/core/request.js';
import { corsFieldLines } from '../../../src/http/cors-fields.js';
import { CorsPolicy } from '../../../src/security/cors.js';

const APP = 'https://app.example.com';
const policy = CorsPolicy.parse([APP], false)!;

function head(method: string, target: string): RequestHead {
  return { method, target, version: '1.1', headers: { host: 'a', origin: APP }, framing: { kind: 'none' }, keepAlive: true, expectContinue: false };
}

test('/upload, with or without a query, gets the CORS lines of a listed origin', () => {
  for (const target of ['/upload', '/upload?x', '/upload?']) {
    assert.match(corsFieldLines(policy, head('POST', target)), new RegExp(`^Access-Control-Allow-Origin: ${APP}\\r\\n`), target);
  }
  assert.match(corsFieldLines(policy, head('OPTIONS', '/upload')), /Access-Control-Allow-Methods: POST, OPTIONS\r\n/);
});

test('a target that only starts with /upload gets no CORS lines', () => {
  for (const target of ['/uploads/a.json', '/uploads', '/upload/', '/uploadx', '/upload#x']) {
    assert.equal(corsFieldLines(policy, head('POST', target)), '', target);
    assert.equal(corsFieldLines(policy, head('OPTIONS', target)), '', target);
  }
});

test('other paths and other spellings of /upload get no CORS lines', () => {
  for (const target of ['/', '/index.html', '/%75pload', 'http://a/upload', '/x/upload']) {
    assert.equal(corsFieldLines(policy, head('POST', target)), '', target);
  }
});
