// METRICS_TOKEN on the real server: /metrics needs `Authorization: Bearer <token>` (RFC 6750
// answers otherwise), the probes stay open, the token is never logged, and a real Prometheus
// with the documented `authorization` block scrapes it (skipped without Prometheus).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startServer, type StartedServer } from '../helpers/server.js';
import { freePort, request } from '../helpers/raw.js';

const TOKEN = 'metrics-Zm9vYmFy.token~1';
const PROMETHEUS = '/usr/bin/prometheus';
const PROMTOOL = '/usr/bin/promtool';

describe('METRICS_TOKEN', () => {
  let server: StartedServer;
  let metricsUrl: string;
  before(async () => {
    server = await startServer({ env: { METRICS_TOKEN: TOKEN, MAX_THREADS: '1' } });
    metricsUrl = `http://127.0.0.1:${server.adminPort}/metrics`;
  });
  after(async () => {
    await server.stop();
  });

  test('without credentials: 401 with a bare Bearer challenge, and no metrics', async () => {
    for (const method of ['GET', 'HEAD']) {
      const response = await fetch(metricsUrl, { method });
      assert.equal(response.status, 401, method);
      assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="rawhttp"');
      const body = await response.text();
      assert.ok(!body.includes('http_server_'), method);
    }
    const basic = await fetch(metricsUrl, { headers: { Authorization: 'Basic dXNlcjpwYXNz' } });
    assert.equal(basic.status, 401);
    assert.equal(basic.headers.get('www-authenticate'), 'Bearer realm="rawhttp"');
  });

  test('a wrong token: 401 invalid_token; a malformed header: 400 invalid_request', async () => {
    for (const wrong of [`${TOKEN}x`, TOKEN.slice(0, -1), 'metrics']) {
      const response = await fetch(metricsUrl, { headers: { Authorization: `Bearer ${wrong}` } });
      assert.equal(response.status, 401, wrong);
      assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="rawhttp", error="invalid_token"');
      assert.deepEqual(await response.json(), { status: 'error', message: 'a valid bearer token is required' });
    }
    const malformed = await fetch(metricsUrl, { headers: { Authorization: 'Bearer two words' } });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.headers.get('www-authenticate'), 'Bearer realm="rawhttp", error="invalid_request"');
  });

  test('two Authorization fields are malformed (400) whichever holds the token, as on the public port', async () => {
    for (const [first, second] of [[TOKEN, 'bad'], ['bad', TOKEN], [TOKEN, TOKEN]]) {
      const head = `GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${first}\r\nAuthorization: Bearer ${second}\r\nConnection: close\r\n\r\n`;
      const response = await request(server.adminPort, Buffer.from(head, 'latin1'));
      assert.equal(response.status, 400, `${first}, ${second}`);
      assert.ok(!response.body.toString().includes('http_server_'));
    }
  });

  test('the token, with the scheme in any case, gets the metrics', async () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      const response = await fetch(metricsUrl, { headers: { Authorization: `${scheme} ${TOKEN}` } });
      assert.equal(response.status, 200, scheme);
      assert.match(await response.text(), /^http_server_workers 1$/m);
    }
  });

  test('the probes stay open', async () => {
    for (const probe of ['/livez', '/healthz', '/readyz']) {
      const response = await fetch(`http://127.0.0.1:${server.adminPort}${probe}`);
      assert.equal(response.status, 200, probe);
      await response.arrayBuffer();
    }
  });

  test('the start log says /metrics needs a token, and no log line holds the token', () => {
    const started = server.logs.find((line) => typeof line.msg === 'string' && line.msg.startsWith('listening on'));
    assert.equal(started?.metricsAuthorization, 'bearer token');
    assert.ok(server.logs.length > 0);
    for (const line of server.logs) assert.ok(!JSON.stringify(line).includes(TOKEN), JSON.stringify(line));
  });
});

test('without METRICS_TOKEN, /metrics stays open', async () => {
  const server = await startServer({ env: { MAX_THREADS: '1' } });
  try {
    const response = await fetch(`http://127.0.0.1:${server.adminPort}/metrics`);
    assert.equal(response.status, 200);
    await response.arrayBuffer();
    const started = server.logs.find((line) => typeof line.msg === 'string' && line.msg.startsWith('listening on'));
    assert.equal(started?.metricsAuthorization, 'none');
  } finally {
    await server.stop();
  }
});

interface Target {
  readonly labels: Record<string, string>;
  readonly health: string;
  readonly lastError: string;
}

test('Prometheus with the documented authorization block scrapes /metrics; with a wrong token the target is down on 401', async (t) => {
  if (!existsSync(PROMETHEUS) || !existsSync(PROMTOOL)) {
    t.skip('needs Prometheus: apt-get install prometheus (.ci/run installs it)');
    return;
  }
  const server = await startServer({ env: { METRICS_TOKEN: TOKEN, MAX_THREADS: '1' } });
  const dir = mkdtempSync(join(tmpdir(), 'rawhttp-prometheus-auth-'));
  const prometheusPort = await freePort();
  writeFileSync(join(dir, 'metrics_token'), `${TOKEN}\n`);
  writeFileSync(join(dir, 'wrong_token'), 'wrong\n');
  const job = (name: string, tokenFile: string): string[] => [
    `  - job_name: ${name}`,
    '    authorization:',
    '      type: Bearer',
    `      credentials_file: ${join(dir, tokenFile)}`,
    '    static_configs:',
    `      - targets: ['127.0.0.1:${server.adminPort}']`,
  ];
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, ['global:', '  scrape_interval: 1s', '  scrape_timeout: 1s', 'scrape_configs:', ...job('rawhttp', 'metrics_token'), ...job('wrong', 'wrong_token'), ''].join('\n'));
  const prometheus = spawn(PROMETHEUS, [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${prometheusPort}`, '--log.level=warn'], { stdio: 'ignore' });
  try {
    const checked = spawnSync(PROMTOOL, ['check', 'config', config], { encoding: 'utf8' });
    assert.equal(checked.status, 0, checked.stdout + checked.stderr);
    const deadline = Date.now() + 45_000;
    let targets: Target[] = [];
    const settled = (): boolean => targets.length === 2 && targets.every((target) => target.health !== 'unknown');
    while (!settled() && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      try {
        const answer = (await (await fetch(`http://127.0.0.1:${prometheusPort}/api/v1/targets`)).json()) as { data: { activeTargets: Target[] } };
        targets = answer.data.activeTargets;
      } catch {
        // not listening yet
      }
    }
    const byJob = Object.fromEntries(targets.map((target) => [target.labels.job, target]));
    assert.equal(byJob.rawhttp?.health, 'up', byJob.rawhttp?.lastError);
    assert.equal(byJob.wrong?.health, 'down');
    assert.match(byJob.wrong?.lastError ?? '', /401/);
  } finally {
    prometheus.kill('SIGTERM');
    await new Promise((resolve) => prometheus.once('exit', resolve));
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
