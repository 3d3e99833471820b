// Upload authorization end to end: UPLOAD_TOKENS and a real UPLOAD_TOKENS_FILE that changes
// while the server runs. Every refusal comes at the head, before the body is read, with the
// RFC 6750 challenge; no token ever reaches a log line.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { metric } from '../fixtures/probes.js';
import { RawClient, request } from '../helpers/raw.js';
import { runServer, startServer, type StartedServer } from '../helpers/server.js';

const TOKENS = ['alpha-7Qm2x9-Lk4Pw', 'beta.Zr4+/k-Ty6Jd=='];
const WRONG = 'gamma-wrong-4f1';

function upload(port: number, authorization: string | null, body = '{"auth":true}'): string {
  const field = authorization === null ? '' : `Authorization: ${authorization}\r\n`;
  return `POST /upload HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n${field}\r\n${body}`;
}

describe('UPLOAD_TOKENS', () => {
  let server: StartedServer;

  before(async () => {
    server = await startServer({ env: { UPLOAD_TOKENS: TOKENS.join(','), UPLOAD_BURST: '3', UPLOAD_RATE_PER_MINUTE: '1' } });
  });

  after(async () => {
    await server?.stop();
  });

  test('missing, foreign, wrong and malformed credentials are refused with the RFC 6750 answer; a listed token stores', async () => {
    const before = await metric(server.adminPort, 'http_server_security_rejections_total', 'reason="unauthorized"');
    const cases: ReadonlyArray<readonly [string | null, number, string]> = [
      [null, 401, 'Bearer realm="rawhttp"'],
      ['Basic YWxhZGRpbjpvcGVuc2VzYW1l', 401, 'Bearer realm="rawhttp"'],
      [`Bearer ${WRONG}`, 401, 'Bearer realm="rawhttp", error="invalid_token"'],
      [`Bearer ${TOKENS[0]} extra`, 400, 'Bearer realm="rawhttp", error="invalid_request"'],
      ['Bearer', 400, 'Bearer realm="rawhttp", error="invalid_request"'],
    ];
    for (const [authorization, status, challenge] of cases) {
      const response = await request(server.port, upload(server.port, authorization));
      assert.equal(response.status, status, String(authorization));
      assert.equal(response.headers['www-authenticate'], challenge, String(authorization));
    }
    assert.equal(await metric(server.adminPort, 'http_server_security_rejections_total', 'reason="unauthorized"'), before + cases.length);
    assert.equal(await metric(server.adminPort, 'http_server_uploads_total'), 0);

    // Either token, the scheme in any case.
    assert.equal((await request(server.port, upload(server.port, `Bearer ${TOKENS[0]}`))).status, 201);
    assert.equal((await request(server.port, upload(server.port, `bEaReR ${TOKENS[1]}`))).status, 201);
  });

  test('refused at the head: no 100 Continue, the body never asked for, the connection closed', async () => {
    const client = await RawClient.connect(server.port);
    client.write(`POST /upload HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Type: application/json\r\nContent-Length: 100\r\nExpect: 100-continue\r\nAuthorization: Bearer ${WRONG}\r\n\r\n`);
    const [response] = await client.responses(1);
    assert.equal(response!.status, 401);
    assert.equal(response!.headers.connection, 'close');
    await client.waitClosed();
    assert.doesNotMatch(client.received.toString('latin1'), /100 Continue/);
  });

  test('the token comes before the rate: refusals spend nothing of the bucket, and still say 401 once it is empty', async () => {
    // Two of the three uploads of the burst were spent above; the refused ones spent none.
    for (let i = 0; i < 5; i++) assert.equal((await request(server.port, upload(server.port, null))).status, 401);
    assert.equal((await request(server.port, upload(server.port, `Bearer ${TOKENS[0]}`))).status, 201);
    assert.equal((await request(server.port, upload(server.port, `Bearer ${TOKENS[0]}`))).status, 429);
    assert.equal((await request(server.port, upload(server.port, `Bearer ${WRONG}`))).status, 401);
  });

  test('no log line holds a token, right or wrong; the refusal is logged with its reason', async () => {
    const logged = await server.waitForLog((line) => line.msg === 'security refusal' && line.reason === 'invalid_token');
    assert.equal(logged.rule, 'unauthorized');
    assert.equal(logged.client, '127.0.0.1');
    const start = server.logs.find((line) => typeof line.msg === 'string' && line.msg.startsWith('listening on'))!;
    assert.equal(start.uploadAuthorization, 'bearer token');
    assert.equal(start.uploadTokenCount, 2);
    const everything = JSON.stringify(server.logs);
    for (const secret of [...TOKENS, WRONG, 'YWxhZGRpbjpvcGVuc2VzYW1l']) assert.ok(!everything.includes(secret), `a log line holds ${secret}`);
    assert.ok(!server.logs.some((line) => line.msg?.startsWith('uploads are open')), 'no warning: uploads are not open');
  });
});

describe('UPLOAD_TOKENS_FILE', () => {
  let dir: string;
  let file: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'rawhttp-tokens-'));
    file = join(dir, 'upload_tokens');
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('a token added or revoked in the file takes effect while the server runs', async () => {
    writeFileSync(file, '# upload tokens, one a line\nfirst-token-1-Zr4Q9x\n');
    const server = await startServer({ env: { UPLOAD_TOKENS_FILE: file } });
    try {
      assert.equal((await request(server.port, upload(server.port, 'Bearer first-token-1-Zr4Q9x'))).status, 201);
      assert.equal((await request(server.port, upload(server.port, 'Bearer second-token-2-Hq7Vw3'))).status, 401);

      // Rewritten in place, as a compose secret is: the first token revoked, a second one added.
      writeFileSync(file, 'second-token-2-Hq7Vw3\n');
      await server.waitForLog((line) => line.msg === 'upload tokens reloaded', 15_000);
      assert.equal((await request(server.port, upload(server.port, 'Bearer first-token-1-Zr4Q9x'))).status, 401);
      assert.equal((await request(server.port, upload(server.port, 'Bearer second-token-2-Hq7Vw3'))).status, 201);

      // A broken file keeps the tokens loaded before, and says so without its content.
      writeFileSync(file, 'second-token-2-Hq7Vw3\nnot a token!\n');
      const kept = await server.waitForLog((line) => line.msg === 'UPLOAD_TOKENS_FILE not reloaded, keeping the tokens loaded before', 15_000);
      assert.match(String(kept.problem), /line 2/);
      assert.equal((await request(server.port, upload(server.port, 'Bearer second-token-2-Hq7Vw3'))).status, 201);
      const everything = JSON.stringify(server.logs);
      for (const secret of ['first-token-1-Zr4Q9x', 'second-token-2-Hq7Vw3', 'not a token']) assert.ok(!everything.includes(secret), `a log line holds ${secret}`);
    } finally {
      await server.stop();
    }
  });

  test('a file with no token closes uploads to everyone, and the start log warns so', async () => {
    writeFileSync(file, '# no token yet\n\n');
    const server = await startServer({ env: { UPLOAD_TOKENS_FILE: file } });
    try {
      const warning = await server.waitForLog((line) => line.msg?.startsWith('UPLOAD_TOKENS_FILE holds no token') === true);
      assert.equal(warning.level, 'warn');
      assert.equal((await request(server.port, upload(server.port, 'Bearer anything-1'))).status, 401);
    } finally {
      await server.stop();
    }
  });

  test('a file that cannot be used stops the start with one line and exit code 2', async () => {
    writeFileSync(file, 'good-token-Ty6Jd1Rf\nsecret with spaces\n');
    const bad = await runServer([], { UPLOAD_TOKENS_FILE: file });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^invalid configuration: UPLOAD_TOKENS_FILE .*line 2 is not a bearer token/);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    assert.doesNotMatch(bad.stderr + bad.stdout, /secret with spaces|good-token-Ty6Jd1Rf/);

    const missing = await runServer([], { UPLOAD_TOKENS_FILE: join(dir, 'missing') });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^invalid configuration: UPLOAD_TOKENS_FILE .*missing cannot be read/);
  });
});

test('without tokens uploads are open, and the start log warns once', async () => {
  const server = await startServer();
  try {
    await server.waitForLog((line) => line.msg?.startsWith('uploads are open') === true);
    assert.equal((await request(server.port, upload(server.port, null))).status, 201);
    const warnings = server.logs.filter((line) => line.msg?.startsWith('uploads are open'));
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.level, 'warn');
    const start = server.logs.find((line) => typeof line.msg === 'string' && line.msg.startsWith('listening on'))!;
    assert.equal(start.uploadAuthorization, 'none');
    assert.equal(start.uploadTokenCount, 0);
  } finally {
    await server.stop();
  }
});
