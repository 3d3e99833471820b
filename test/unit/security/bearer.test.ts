import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import { test } from 'node:test';
import { pino } from 'pino';
import { refusalStatus } from '../../../src/core/refusals.js';
import { bearerCredentials, checkBearer, tokenProblem, TokenSet } from '../../../src/security/bearer.js';

const TOKEN = 'mF_9.B5f-4.1JqM';
const tokens = new TokenSet([TOKEN, 'second+token/with=', 'third~']);

test('Authorization: Bearer <b64token>, the scheme in any case, one or more spaces', () => {
  for (const header of [`Bearer ${TOKEN}`, `bearer ${TOKEN}`, `BEARER   ${TOKEN}`, `bEaReR ${TOKEN}`]) {
    assert.deepEqual(bearerCredentials(header), { kind: 'token', token: TOKEN }, header);
  }
  assert.deepEqual(bearerCredentials('Bearer abc=='), { kind: 'token', token: 'abc==' });
});

test('no header, or another scheme, carries no bearer credentials', () => {
  for (const header of [undefined, '', 'Basic dXNlcjpwYXNz', 'Bearerx abc', 'Token abc']) {
    assert.deepEqual(bearerCredentials(header), { kind: 'none' }, String(header));
  }
});

test('Bearer with a token outside the b64token syntax is malformed', () => {
  for (const header of ['Bearer', 'Bearer ', 'Bearer a b', 'Bearer a=b', 'Bearer =abc', 'Bearer a,b', `Bearer ${TOKEN}, Bearer ${TOKEN}`, 'Bearer "abc"', 'Bearer\tabc', 'Bearer ab\u00e9']) {
    assert.deepEqual(bearerCredentials(header), { kind: 'malformed' }, header);
  }
});

test('the token set holds exactly its tokens', () => {
  assert.equal(tokens.size, 3);
  assert.ok(tokens.has(TOKEN) && tokens.has('second+token/with=') && tokens.has('third~'));
  for (const guess of ['', 'mF_9.B5f-4.1Jq', `${TOKEN}x`, TOKEN.toLowerCase(), 'third']) assert.ok(!tokens.has(guess), guess);
  assert.ok(!new TokenSet([]).has(''));
  assert.equal(new TokenSet(['a', 'a']).size, 1);
});

test('checkBearer: 401 with a bare challenge, 400 invalid_request, 401 invalid_token, or ok', () => {
  assert.deepEqual(checkBearer(`Bearer ${TOKEN}`, tokens), { ok: true });
  assert.deepEqual(checkBearer(undefined, tokens), { ok: false, refusal: 'missing_token', detail: 'no bearer token', headers: [['WWW-Authenticate', 'Bearer realm="rawhttp"']] });
  assert.deepEqual(checkBearer('Basic dXNlcjpwYXNz', tokens), { ok: false, refusal: 'missing_token', detail: 'no bearer token', headers: [['WWW-Authenticate', 'Bearer realm="rawhttp"']] });
  assert.deepEqual(checkBearer('Bearer a b', tokens), { ok: false, refusal: 'malformed_token', detail: 'malformed bearer token', headers: [['WWW-Authenticate', 'Bearer realm="rawhttp", error="invalid_request"']] });
  assert.deepEqual(checkBearer('Bearer wrong', tokens), { ok: false, refusal: 'invalid_token', detail: 'bearer token not accepted', headers: [['WWW-Authenticate', 'Bearer realm="rawhttp", error="invalid_token"']] });
  // The statuses RFC 6750 §3.1 gives each, from the refusal catalogue.
  assert.deepEqual((['missing_token', 'malformed_token', 'invalid_token'] as const).map(refusalStatus), [401, 400, 401]);
});

test('tokenProblem: what a configured token may look like', () => {
  for (const good of [`${TOKEN}x`, 'abcdefghijklmn==', 'A-Z_a.z~0+9/A-Z_']) assert.equal(tokenProblem(good), null, good);
  for (const bad of ['', 'a b', 'a=b', 'é', 'tab\t', '"q"', 'long enough but spaced']) assert.match(tokenProblem(bad) ?? '', /^not a bearer token/, bad);
  // b64token syntax, but too short to be random (the '=' padding counts).
  for (const short of ['changeme', 'x'.repeat(15), 'abcdefghijklm==']) assert.match(tokenProblem(short) ?? '', /^shorter than 16 characters/, short);
});

test('a token set never shows its tokens: not in JSON, inspect or a pino log line', () => {
  assert.equal(JSON.stringify({ tokens }), '{"tokens":"[3 tokens]"}');
  assert.equal(inspect(tokens), 'TokenSet [3 tokens]');
  assert.ok(!inspect({ nested: { tokens } }, { depth: 5, showHidden: true }).includes(TOKEN));
  let written = '';
  const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => ((written += chunk.toString()), done()) });
  pino(sink).info({ tokens }, 'configured');
  assert.match(written, /\[3 tokens\]/);
  assert.ok(!written.includes(TOKEN) && !written.includes('third~'));
});
