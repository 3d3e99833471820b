import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isJsonMediaType, route, SERVER_ALLOW } from '../../src/handlers/router.js';
import type { RequestHead } from '../../src/http/parser.js';

const ALLOWED: ReadonlySet<string> = new Set(['localhost:8080']);

function head(method: string, target: string, headers: Record<string, string> = {}): RequestHead {
  return {
    method,
    target,
    version: '1.1',
    headers: { host: 'localhost:8080', ...headers },
    framing: { kind: 'none' },
    keepAlive: true,
    expectContinue: false,
  };
}

describe('routing', () => {
  test('GET and HEAD route to static files with the decoded path', () => {
    assert.deepEqual(route(head('GET', '/'), ALLOWED), { kind: 'static', method: 'GET', path: '/' });
    assert.deepEqual(route(head('HEAD', '/about.html?x=1'), ALLOWED), { kind: 'static', method: 'HEAD', path: '/about.html' });
    assert.deepEqual(route(head('GET', '/my%20file.txt'), ALLOWED), { kind: 'static', method: 'GET', path: '/my file.txt' });
    assert.deepEqual(route(head('GET', '/upload'), ALLOWED), { kind: 'static', method: 'GET', path: '/upload' });
  });

  test('other methods get 405 with Allow listing GET, HEAD and POST', () => {
    for (const method of ['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT', 'get', 'PROPFIND']) {
      const decision = route(head(method, '/index.html'), ALLOWED);
      assert.ok(decision.kind === 'reject', method);
      assert.equal(decision.status, 405, method);
      assert.deepEqual(decision.headers, [['Allow', SERVER_ALLOW]]);
    }
    assert.equal(SERVER_ALLOW, 'GET, HEAD, POST');
  });

  test('POST /upload with a JSON media type routes to the upload handler', () => {
    for (const contentType of ['application/json', 'application/JSON; charset=utf-8', 'Application/Json;charset=UTF-8', ' application/json ']) {
      assert.deepEqual(route(head('POST', '/upload', { 'content-type': contentType }), ALLOWED), { kind: 'upload' }, contentType);
    }
    assert.deepEqual(route(head('POST', '/upload?source=form', { 'content-type': 'application/json' }), ALLOWED), { kind: 'upload' });
  });

  test('POST /upload with any other or no content type gets 415', () => {
    for (const contentType of [undefined, '', 'text/plain', 'text/json', 'application/jsonx', 'application/json-patch+json', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const headers: Record<string, string> = contentType === undefined ? {} : { 'content-type': contentType };
      const decision = route(head('POST', '/upload', headers), ALLOWED);
      assert.equal(decision.kind === 'reject' && decision.status, 415, String(contentType));
    }
  });

  test('POST elsewhere is a static route (answered 405 or 404 by the worker)', () => {
    assert.deepEqual(route(head('POST', '/index.html', { 'content-type': 'application/json' }), ALLOWED), { kind: 'static', method: 'POST', path: '/index.html' });
    assert.deepEqual(route(head('POST', '/upload/', { 'content-type': 'application/json' }), ALLOWED), { kind: 'static', method: 'POST', path: '/upload/' });
  });

  test('the Host header is checked first, for every method', () => {
    const missing = route({ ...head('GET', '/'), headers: {} }, ALLOWED);
    assert.deepEqual(missing.kind === 'reject' && [missing.status, missing.rule], [400, 'missing_host']);
    for (const method of ['GET', 'PUT', 'POST']) {
      const evil = route(head(method, '/', { host: 'evil.com' }), ALLOWED);
      assert.deepEqual(evil.kind === 'reject' && [evil.status, evil.rule], [403, 'host_not_allowed'], method);
    }
    assert.equal(route(head('GET', '/', { host: 'LOCALHOST:8080' }), ALLOWED).kind, 'static');
  });

  test('path refusals come back with their status and rule', () => {
    const traversal = route(head('GET', '/../etc/passwd'), ALLOWED);
    assert.deepEqual(traversal.kind === 'reject' && [traversal.status, traversal.rule], [403, 'traversal']);
    const hidden = route(head('HEAD', '/.env'), ALLOWED);
    assert.deepEqual(hidden.kind === 'reject' && [hidden.status, hidden.rule], [403, 'hidden_file']);
    const bad = route(head('GET', '/%00'), ALLOWED);
    assert.deepEqual(bad.kind === 'reject' && [bad.status, bad.rule], [400, 'bad_path']);
    const absolute = route(head('GET', 'http://localhost:8080/'), ALLOWED);
    assert.deepEqual(absolute.kind === 'reject' && absolute.status, 400);
    const upload = route(head('POST', '/%2e%2e/upload', { 'content-type': 'application/json' }), ALLOWED);
    assert.deepEqual(upload.kind === 'reject' && upload.status, 403);
  });
});

describe('isJsonMediaType', () => {
  test('accepts application/json in any case with parameters', () => {
    for (const value of ['application/json', 'APPLICATION/JSON', 'application/JSON; charset=utf-8', 'application/json;charset=utf-8;x=y']) {
      assert.equal(isJsonMediaType(value), true, value);
    }
  });

  test('refuses everything else', () => {
    for (const value of [undefined, '', ';', 'application/json5', 'text/json', 'application/ json', 'application/*', '*/*']) {
      assert.equal(isJsonMediaType(value), false, String(value));
    }
  });
});
