import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RequestHead } from '../../../src/core/request.js';
import { refusalStatus, securityRuleOf } from '../../../src/core/refusals.js';
import { declaredCharset, isJsonMediaType, route, type Route } from '../../../src/http/router.js';

const ALLOWED: ReadonlySet<string> = new Set(['localhost:8080']);

/** A POST comes with a body of two bytes, other methods without one. */
function head(method: string, target: string, headers: Record<string, string> = {}): RequestHead {
  return {
    method,
    target,
    version: '1.1',
    headers: { host: 'localhost:8080', ...headers },
    framing: method === 'POST' ? { kind: 'length', length: 2 } : { kind: 'none' },
    keepAlive: true,
    expectContinue: false,
  };
}

/** A static route with no conditional or encoding headers. */
function plain(method: 'GET' | 'HEAD' | 'POST', path: string, query = ''): Route {
  return {
    kind: 'static',
    method,
    path,
    conditions: { ifMatch: undefined, ifNoneMatch: undefined, ifModifiedSince: undefined, ifUnmodifiedSince: undefined, range: undefined, ifRange: undefined },
    acceptEncoding: undefined,
    query,
  };
}

describe('routing', () => {
  test('GET and HEAD route to static files with the decoded path', () => {
    assert.deepEqual(route(head('GET', '/'), ALLOWED), plain('GET', '/'));
    assert.deepEqual(route(head('HEAD', '/about.html?x=1'), ALLOWED), plain('HEAD', '/about.html', '?x=1'));
    assert.deepEqual(route(head('GET', '/my%20file.txt'), ALLOWED), plain('GET', '/my file.txt'));
  });

  test('other standard methods get 405 with Allow listing what the target allows (RFC 9110 §15.5.6)', () => {
    for (const method of ['PUT', 'DELETE', 'PATCH', 'TRACE']) {
      const file = route(head(method, '/index.html'), ALLOWED);
      assert.deepEqual(file.kind === 'reject' && [refusalStatus(file.refusal), file.headers], [405, [['Allow', 'GET, HEAD, OPTIONS']]], method);
    }
    // No file is served at the upload path: GET and HEAD there are not allowed either.
    for (const method of ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'TRACE']) {
      const upload = route(head(method, '/upload'), ALLOWED);
      assert.deepEqual(upload.kind === 'reject' && [refusalStatus(upload.refusal), upload.headers], [405, [['Allow', 'POST, OPTIONS']]], method);
    }
    // CONNECT names a host, not one of our targets: what the server allows.
    const connect = route(head('CONNECT', 'localhost:8080'), ALLOWED);
    assert.deepEqual(connect.kind === 'reject' && [refusalStatus(connect.refusal), connect.headers], [405, [['Allow', 'GET, HEAD, POST, OPTIONS']]]);
  });

  test('a method that is not a standard one is not implemented: 501 (RFC 9110 §9.1)', () => {
    for (const method of ['get', 'PROPFIND', 'M-SEARCH', 'BREW']) {
      const decision = route(head(method, '/index.html'), ALLOWED);
      assert.deepEqual(decision.kind === 'reject' && [refusalStatus(decision.refusal), decision.headers], [501, undefined], method);
    }
  });

  test('a bad target is refused as such before any 405', () => {
    const traversal = route(head('DELETE', '/../etc/passwd'), ALLOWED);
    assert.deepEqual(traversal.kind === 'reject' && refusalStatus(traversal.refusal), 403);
  });

  test('an upload in a content coding is 415 with Accept-Encoding: identity (RFC 9110 §15.5.16)', () => {
    const json = { 'content-type': 'application/json' };
    for (const coding of ['gzip', 'br', 'gzip, identity', 'x-custom']) {
      const refused = route(head('POST', '/upload', { ...json, 'content-encoding': coding }), ALLOWED);
      assert.deepEqual(refused.kind === 'reject' && [refusalStatus(refused.refusal), refused.headers], [415, [['Accept-Encoding', 'identity']]], coding);
    }
    for (const coding of ['identity', 'IDENTITY', ' ', '']) assert.deepEqual(route(head('POST', '/upload', { ...json, 'content-encoding': coding }), ALLOWED), { kind: 'upload' }, coding);
  });

  test('an upload without Content-Length or chunked framing is 411: it has no body to store', () => {
    const unframed = { ...head('POST', '/upload', { 'content-type': 'application/json' }), framing: { kind: 'none' } } as const;
    const refused = route(unframed, ALLOWED);
    assert.deepEqual(refused.kind === 'reject' && refusalStatus(refused.refusal), 411);
    const chunked = { ...unframed, framing: { kind: 'chunked' } } as const;
    assert.deepEqual(route(chunked, ALLOWED), { kind: 'upload' });
  });

  test('OPTIONS answers with what the target allows', () => {
    assert.deepEqual(route(head('OPTIONS', '*'), ALLOWED), { kind: 'options', allow: 'GET, HEAD, POST, OPTIONS' });
    assert.deepEqual(route(head('OPTIONS', '/index.html'), ALLOWED), { kind: 'options', allow: 'GET, HEAD, OPTIONS' });
    assert.deepEqual(route(head('OPTIONS', '/upload'), ALLOWED), { kind: 'options', allow: 'POST, OPTIONS' });
    const star = route(head('GET', '*'), ALLOWED);
    assert.equal(star.kind === 'reject' && refusalStatus(star.refusal), 400);
  });

  test('the absolute form is served when its authority is an allowed host', () => {
    assert.deepEqual(route(head('GET', 'http://localhost:8080/about.html?x=1'), ALLOWED), plain('GET', '/about.html', '?x=1'));
    assert.deepEqual(route(head('GET', 'HTTP://LOCALHOST:8080'), ALLOWED), plain('GET', '/'));
    // An empty path before a query is "/" too.
    assert.deepEqual(route(head('GET', 'http://localhost:8080?x=1'), ALLOWED), plain('GET', '/', '?x=1'));
    // The authority replaces the Host header, which may then name anything.
    assert.deepEqual(route(head('GET', 'http://localhost:8080/', { host: 'other' }), ALLOWED), plain('GET', '/'));
    const evil = route(head('GET', 'http://evil.com/about.html'), ALLOWED);
    assert.deepEqual(evil.kind === 'reject' && [refusalStatus(evil.refusal), securityRuleOf(evil.refusal)], [403, 'host_not_allowed']);
    const https = route(head('GET', 'https://localhost:8080/'), ALLOWED);
    assert.equal(https.kind === 'reject' && refusalStatus(https.refusal), 400);
    const noHost = route({ ...head('GET', 'http://localhost:8080/'), headers: {} }, ALLOWED);
    assert.equal(noHost.kind === 'reject' && refusalStatus(noHost.refusal), 400);
    // A malformed Host is a bad request even here, as is an authority with userinfo.
    const badHost = route(head('GET', 'http://localhost:8080/', { host: 'a b' }), ALLOWED);
    assert.deepEqual(badHost.kind === 'reject' && [refusalStatus(badHost.refusal), securityRuleOf(badHost.refusal)], [400, 'invalid_host']);
    const userinfo = route(head('GET', 'http://user@localhost:8080/'), ALLOWED);
    assert.deepEqual(userinfo.kind === 'reject' && [refusalStatus(userinfo.refusal), securityRuleOf(userinfo.refusal)], [400, 'invalid_host']);
  });

  test('conditional, range and encoding headers travel with a static route', () => {
    const decision = route(head('GET', '/a.html', { 'if-none-match': '"x"', range: 'bytes=0-1', 'accept-encoding': 'gzip' }), ALLOWED);
    assert.ok(decision.kind === 'static');
    assert.equal(decision.conditions.ifNoneMatch, '"x"');
    assert.equal(decision.conditions.range, 'bytes=0-1');
    assert.equal(decision.acceptEncoding, 'gzip');
  });

  test('an HTTP/1.0 request carries no Accept-Encoding: its caches ignore Vary, so it gets pages as stored', () => {
    const decision = route({ ...head('GET', '/a.html', { 'accept-encoding': 'gzip, br' }), version: '1.0' }, ALLOWED);
    assert.ok(decision.kind === 'static');
    assert.equal(decision.acceptEncoding, undefined);
  });

  test('POST /upload with a JSON media type routes to the upload handler', () => {
    for (const contentType of ['application/json', 'application/JSON; charset=utf-8', 'Application/Json;charset=UTF-8', ' application/json ', 'application/json; charset="UTF-8"', 'application/json;charset=utf8', 'application/json; v=1']) {
      assert.deepEqual(route(head('POST', '/upload', { 'content-type': contentType }), ALLOWED), { kind: 'upload' }, contentType);
    }
    assert.deepEqual(route(head('POST', '/upload?source=form', { 'content-type': 'application/json' }), ALLOWED), { kind: 'upload' });
  });

  test('POST /upload with any other or no content type gets 415', () => {
    for (const contentType of [undefined, '', 'text/plain', 'text/json', 'application/jsonx', 'application/json-patch+json', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const headers: Record<string, string> = contentType === undefined ? {} : { 'content-type': contentType };
      const decision = route(head('POST', '/upload', headers), ALLOWED);
      assert.equal(decision.kind === 'reject' && refusalStatus(decision.refusal), 415, String(contentType));
    }
  });

  test('POST /upload declaring a charset other than UTF-8 gets 415 upload_not_utf8, before its body is read', () => {
    for (const contentType of ['application/json; charset=utf-16', 'application/json;charset=UTF-16LE', 'application/json; charset="iso-8859-1"', 'application/json; charset=utf-8; charset=utf-16']) {
      const decision = route(head('POST', '/upload', { 'content-type': contentType }), ALLOWED);
      assert.deepEqual(decision.kind === 'reject' && [refusalStatus(decision.refusal), decision.refusal], [415, 'upload_not_utf8'], contentType);
    }
    const notJson = route(head('POST', '/upload', { 'content-type': 'text/plain; charset=utf-16' }), ALLOWED);
    assert.equal(notJson.kind === 'reject' && notJson.refusal, 'upload_not_json');
  });

  test('POST /upload whose charset names no charset (empty, quoted or not) gets 415 upload_not_json, as a malformed media type', () => {
    for (const contentType of ['application/json; charset=', 'application/json;charset=""', 'application/json; charset= ; v=1', 'application/json; charset="utf 8"', 'application/json; charset=utf-8; charset=']) {
      const decision = route(head('POST', '/upload', { 'content-type': contentType }), ALLOWED);
      assert.deepEqual(decision.kind === 'reject' && [refusalStatus(decision.refusal), decision.refusal], [415, 'upload_not_json'], contentType);
    }
  });

  test('POST elsewhere is a static route (answered 405 or 404 by the worker)', () => {
    assert.deepEqual(route(head('POST', '/index.html', { 'content-type': 'application/json' }), ALLOWED), plain('POST', '/index.html'));
    assert.deepEqual(route(head('POST', '/upload/', { 'content-type': 'application/json' }), ALLOWED), plain('POST', '/upload/'));
  });

  test('the Host header is checked first, for every method', () => {
    const missing = route({ ...head('GET', '/'), headers: {} }, ALLOWED);
    assert.deepEqual(missing.kind === 'reject' && [refusalStatus(missing.refusal), securityRuleOf(missing.refusal)], [400, 'missing_host']);
    for (const method of ['GET', 'PUT', 'POST']) {
      const evil = route(head(method, '/', { host: 'evil.com' }), ALLOWED);
      assert.deepEqual(evil.kind === 'reject' && [refusalStatus(evil.refusal), securityRuleOf(evil.refusal)], [403, 'host_not_allowed'], method);
    }
    assert.equal(route(head('GET', '/', { host: 'LOCALHOST:8080' }), ALLOWED).kind, 'static');
  });

  test('a refusal names its cause alone: a status or rule beside it does not compile', () => {
    const reject: Extract<Route, { kind: 'reject' }> = { kind: 'reject', refusal: 'host_not_allowed', detail: 'Host "evil" not allowed' };
    // @ts-expect-error the status is the catalogue's
    const withStatus: Extract<Route, { kind: 'reject' }> = { ...reject, status: 400 };
    // @ts-expect-error and so is the security rule
    const withRule: Extract<Route, { kind: 'reject' }> = { ...reject, rule: 'bad_path' };
    assert.deepEqual([withStatus.refusal, withRule.refusal].map(refusalStatus), [403, 403]);
  });

  test('path refusals come back with their status and rule', () => {
    const traversal = route(head('GET', '/../etc/passwd'), ALLOWED);
    assert.deepEqual(traversal.kind === 'reject' && [refusalStatus(traversal.refusal), securityRuleOf(traversal.refusal)], [403, 'traversal']);
    const hidden = route(head('HEAD', '/.env'), ALLOWED);
    assert.deepEqual(hidden.kind === 'reject' && [refusalStatus(hidden.refusal), securityRuleOf(hidden.refusal)], [403, 'hidden_file']);
    const bad = route(head('GET', '/%00'), ALLOWED);
    assert.deepEqual(bad.kind === 'reject' && [refusalStatus(bad.refusal), securityRuleOf(bad.refusal)], [400, 'bad_path']);
    // Malformed rather than refused by a rule, as the parser's invalid target is: not a security rejection.
    const relative = route(head('GET', 'about.html'), ALLOWED);
    assert.deepEqual(relative.kind === 'reject' && [refusalStatus(relative.refusal), relative.refusal, securityRuleOf(relative.refusal)], [400, 'path_not_absolute', undefined]);
    const undecodable = route(head('GET', '/100%.txt'), ALLOWED);
    assert.deepEqual(undecodable.kind === 'reject' && [refusalStatus(undecodable.refusal), undecodable.refusal, securityRuleOf(undecodable.refusal)], [400, 'bad_percent_encoding', undefined]);
    const upload = route(head('POST', '/%2e%2e/upload', { 'content-type': 'application/json' }), ALLOWED);
    assert.deepEqual(upload.kind === 'reject' && refusalStatus(upload.refusal), 403);
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

describe('declaredCharset', () => {
  test('no charset, or one that names UTF-8 in any case, quoted or not', () => {
    for (const value of ['application/json', 'application/json;', 'application/json; charset=utf-8', 'application/json; CHARSET=Utf-8', 'application/json;charset="utf-8"', 'application/json; charset=UTF8', 'application/json; x="charset=utf-16"', 'application/json; charset', 'application/json; x=""']) {
      assert.equal(declaredCharset(value), 'utf-8', value);
    }
  });

  test('a charset that names anything else', () => {
    for (const value of ['application/json; charset=utf-16', 'application/json; charset="UTF-16BE"', 'application/json; charset=latin1', 'application/json; charset=us-ascii', 'application/json; charset=utf-8; charset=utf-32']) {
      assert.equal(declaredCharset(value), 'other', value);
    }
  });

  test('a charset value that is not a token names no charset: empty (RFC 9110: a token has a character at least), quoted or not, or holding a space', () => {
    for (const value of ['application/json; charset=', 'application/json; charset= ', 'application/json; charset=""', 'application/json; charset=";"', 'application/json; charset="utf 8"', 'application/json; charset=utf 8', 'application/json; charset=utf-16; charset=']) {
      assert.equal(declaredCharset(value), 'malformed', value);
    }
  });
});
