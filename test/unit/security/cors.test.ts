import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CorsPolicy, normaliseOrigin } from '../../../src/security/cors.js';

const APP = 'https://app.example.com';
const headersOf = (list: ReadonlyArray<readonly [string, string]>): Record<string, string> => Object.fromEntries(list);
const hasCors = (list: ReadonlyArray<readonly [string, string]>): boolean => list.some(([name]) => name.startsWith('Access-Control-'));

test('no CORS_ORIGINS: no policy, no CORS headers', () => {
  assert.equal(CorsPolicy.parse([], true), null);
});

test('preflight for a listed origin: 204 headers naming that origin', () => {
  const policy = CorsPolicy.parse([APP, 'http://localhost:3000'], false)!;
  assert.deepEqual(headersOf(policy.preflight(APP)), {
    'Access-Control-Allow-Origin': APP,
    'Access-Control-Allow-Methods': 'POST, OPTIONS',
    'Access-Control-Allow-Headers': 'Content-Type, traceparent, tracestate',
    'Access-Control-Max-Age': '600',
    Vary: 'Origin',
  });
  assert.equal(headersOf(policy.preflight('http://localhost:3000'))['Access-Control-Allow-Origin'], 'http://localhost:3000');
});

test('Authorization is an allowed request header when upload tokens are on', () => {
  const policy = CorsPolicy.parse([APP], true)!;
  assert.equal(headersOf(policy.preflight(APP))['Access-Control-Allow-Headers'], 'Content-Type, Authorization, traceparent, tracestate');
});

test('an origin not listed, or none, gets no CORS headers (only Vary: Origin)', () => {
  const policy = CorsPolicy.parse([APP], true)!;
  for (const origin of [undefined, 'https://evil.example', 'http://app.example.com', 'https://app.example.com:8443', 'https://APP.example.com', 'null', `${APP}/`]) {
    assert.deepEqual(policy.preflight(origin), [['Vary', 'Origin']], String(origin));
    assert.deepEqual(policy.response(origin), [['Vary', 'Origin']], String(origin));
    assert.ok(!hasCors(policy.response(origin)));
  }
});

test('the actual response: the origin, the headers a script may read, Vary', () => {
  const policy = CorsPolicy.parse([APP], true)!;
  assert.deepEqual(headersOf(policy.response(APP)), {
    'Access-Control-Allow-Origin': APP,
    'Access-Control-Expose-Headers': 'Location, Retry-After, WWW-Authenticate, X-Trace-Id',
    Vary: 'Origin',
  });
});

test('"*": any origin, answered with *, and never with credentials', () => {
  const policy = CorsPolicy.parse(['*'], true)!;
  for (const origin of [APP, 'null', 'http://localhost:1']) {
    assert.equal(headersOf(policy.preflight(origin))['Access-Control-Allow-Origin'], '*');
    assert.equal(headersOf(policy.response(origin))['Access-Control-Allow-Origin'], '*');
    assert.ok(![...policy.preflight(origin), ...policy.response(origin)].some(([name]) => name === 'Access-Control-Allow-Credentials'));
  }
  assert.ok(!hasCors(policy.preflight(undefined)), 'without Origin it is no CORS request');
});

test('configured origins are normalised as browsers serialise them', () => {
  const policy = CorsPolicy.parse(['HTTPS://App.Example.COM:443/', 'http://[::1]:8080', 'https://bücher.example'], false)!;
  assert.equal(headersOf(policy.response(APP))['Access-Control-Allow-Origin'], APP);
  assert.equal(headersOf(policy.response('http://[::1]:8080'))['Access-Control-Allow-Origin'], 'http://[::1]:8080');
  assert.equal(headersOf(policy.response('https://xn--bcher-kva.example'))['Access-Control-Allow-Origin'], 'https://xn--bcher-kva.example');
});

test('entries that are not origins are refused, naming the entry', () => {
  for (const entry of ['app.example.com', 'https://app.example.com/upload', 'https://*.example.com', 'ftp://a.test', 'https://user@a.test', 'https://a.test?x', 'https://a.test#x', 'null', 'http://a.test:65536', 'https://', '']) {
    const parsed = normaliseOrigin(entry);
    assert.ok(!parsed.ok, entry);
    assert.throws(() => CorsPolicy.parse([APP, entry], false), new RegExp(`"${entry.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}" is not an origin`), entry);
  }
  assert.throws(() => CorsPolicy.parse(['*', APP], false), /cannot be combined/);
});
