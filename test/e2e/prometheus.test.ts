// A real Prometheus against the admin port: `promtool check metrics` accepts the exposition,
// and a Prometheus server scrapes the target and answers a query with the pool size.
// Needs Debian's `prometheus` package: without it these tests skip (.ci/run installs it and fails on skips).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort, get, request } from '../helpers/raw.js';
import { startServer } from '../helpers/server.js';

const PROMTOOL = '/usr/bin/promtool';
const PROMETHEUS = '/usr/bin/prometheus';

const SKIP = existsSync(PROMTOOL) && existsSync(PROMETHEUS) ? false : "prometheus or promtool not found: apt-get install prometheus";

/** Runs a command to completion with `input` on stdin. */
function run(command: string, args: readonly string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `read` until it returns a value, or fails with the last problem after the timeout. */
async function waitFor<T>(read: () => Promise<T | null>, what: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let problem = 'no answer yet';
  while (Date.now() < deadline) {
    try {
      const value = await read();
      if (value !== null) return value;
    } catch (error) {
      problem = (error as Error).message;
    }
    await sleep(250);
  }
  throw new Error(`${what} not within ${timeoutMs} ms (${problem})`);
}

test('promtool check metrics accepts the exposition without a lint warning', { skip: SKIP }, async () => {
  const server = await startServer({ env: { MAX_THREADS: '2', QUEUE_SIZE: '0' } });
  try {
    // Traffic first, so the labelled families (requests, histogram buckets) have series.
    assert.equal((await request(server.port, get('/', server.port))).status, 200);
    assert.equal((await request(server.port, get('/nope.txt', server.port))).status, 404);
    assert.equal((await request(server.port, get('/../x', server.port))).status, 403);
    const document = '{"promtool":true}';
    const upload = `POST /upload HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Type: application/json\r\nContent-Length: ${document.length}\r\n\r\n${document}`;
    assert.equal((await request(server.port, upload)).status, 201);

    const exposition = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
    assert.match(exposition, /^http_server_request_duration_seconds_bucket\{/m);
    const result = await run(PROMTOOL, ['check', 'metrics'], exposition);
    assert.equal(result.stdout + result.stderr, '', 'no problems reported');
    assert.equal(result.code, 0);
  } finally {
    await server.stop();
  }
});

test('a real Prometheus scrapes the admin port: the target is up and http_server_workers is the pool size', { skip: SKIP }, async (t) => {
  const THREADS = 3;
  const server = await startServer({ env: { MAX_THREADS: String(THREADS) } });
  const dir = mkdtempSync(join(tmpdir(), 'rawhttp-prometheus-'));
  let prometheus: ChildProcess | null = null;
  let prometheusLog = '';
  try {
    const target = `127.0.0.1:${server.adminPort}`;
    const config = join(dir, 'prometheus.yml');
    writeFileSync(
      config,
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        'scrape_configs:',
        '  - job_name: rawhttp',
        '    static_configs:',
        `      - targets: ['${target}']`,
        '',
      ].join('\n'),
    );
    const checked = await run(PROMTOOL, ['check', 'config', config]);
    assert.equal(checked.code, 0, `the generated config is valid: ${checked.stdout}${checked.stderr}`);

    const api = `http://127.0.0.1:${await freePort()}/api/v1`;
    prometheus = spawn(
      PROMETHEUS,
      [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=${new URL(api).host}`, '--log.level=warn'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stdout!.on('data', (chunk: Buffer) => (prometheusLog += chunk.toString()));
    prometheus.stderr!.on('data', (chunk: Buffer) => (prometheusLog += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => prometheus!.once('exit', (code) => resolve(code)));
    const died = exited.then((code) => {
      throw new Error(`prometheus exited with ${code}: ${prometheusLog}`);
    });

    interface Targets {
      data: { activeTargets: { scrapeUrl: string; health: string; lastError: string; labels: Record<string, string> }[] };
    }
    const up = await Promise.race([
      died,
      waitFor(
        async () => {
          const targets = (await (await fetch(`${api}/targets`)).json()) as Targets;
          const ours = targets.data.activeTargets.find((active) => active.scrapeUrl === `http://${target}/metrics`);
          if (ours === undefined) throw new Error('target not listed');
          if (ours.health !== 'up') throw new Error(`target ${ours.health}: ${ours.lastError}`);
          return ours;
        },
        'the admin target up in Prometheus',
        45_000,
      ),
    ]);
    assert.equal(up.labels.job, 'rawhttp');

    interface Query {
      status: string;
      data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
    }
    const query = async (promql: string): Promise<Query['data']['result']> => {
      const answer = (await (await fetch(`${api}/query?query=${encodeURIComponent(promql)}`)).json()) as Query;
      assert.equal(answer.status, 'success');
      assert.equal(answer.data.resultType, 'vector');
      return answer.data.result;
    };
    const workers = await waitFor(async () => {
      const result = await query('http_server_workers');
      return result.length > 0 ? result : null;
    }, 'a sample of http_server_workers', 15_000);
    assert.equal(workers.length, 1);
    assert.equal(workers[0]!.metric.job, 'rawhttp');
    assert.equal(workers[0]!.metric.instance, target);
    assert.equal(Number(workers[0]!.value[1]), THREADS);
    const rejected = await query('http_server_rejected_total{reason="queue_full"}');
    assert.equal(Number(rejected[0]?.value[1]), 0);
    t.diagnostic(`Prometheus read http_server_workers = ${workers[0]!.value[1]} from ${target}`);

    prometheus.kill('SIGTERM');
    assert.equal(await exited, 0, `prometheus stops cleanly: ${prometheusLog}`);
    prometheus = null;
  } finally {
    prometheus?.kill('SIGKILL');
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
