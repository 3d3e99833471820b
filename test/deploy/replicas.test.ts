// Three replicas of the real server (dist/src/main.js) on loopback ports behind Debian's
// haproxy, with one document root and one uploads folder shared by all: balancing, the
// small-file cache across replicas, a rolling restart under load that loses nothing, and
// what a kill -9 under load costs. Every loop is bounded in count and time.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { TEMP_RANDOM_BYTES, temporaryName } from '../../src/handlers/upload-temporaries.js';
import { checkConfig, haproxyConfig, haproxyVersion, startBalancer, type Backend, type Balancer, type BalancerSettings } from '../helpers/haproxy.js';
import { auditUploads, send, startTraffic, TrafficLog, type Expected, type UploadAudit } from '../helpers/load.js';
import { ONE_CLIENT_LOAD, REPO_ROOT, RESOURCES_DIR, startServer, type StartedServer } from '../helpers/server.js';
import { freePort } from '../helpers/raw.js';

const haproxy = haproxyVersion();
const SKIP = haproxy === null ? 'no haproxy for the load-balancer tests: apt-get install haproxy' : false;

/** Fast checks for the test; docs/deploy.md shows production values. */
const CHECK_INTERVAL_MS = 100;
const FALL = 2;
const RISE = 2;
/** Longer than haproxy's detection (interval x fall = 200 ms), with room for a slow machine. */
const SHUTDOWN_DELAY_MS = 1000;
const FILE_CACHE_TTL_MS = 500;
const MAX_PER_LOOP = 3000;

interface Replica {
  readonly backend: Backend;
  server: StartedServer;
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `done` holds; fails after `timeoutMs`. Returns the milliseconds it took. */
async function waitUntil(what: string, done: () => Promise<boolean>, timeoutMs = 10_000): Promise<number> {
  const start = Date.now();
  while (!(await done())) {
    if (Date.now() - start > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await delay(20);
  }
  return Date.now() - start;
}

function describeAudit(audit: UploadAudit): string {
  return `files on disk ${audit.filesOnDisk}, lost ${audit.lost.length}, duplicated ${audit.duplicated.length}, partial ${audit.partial.length}, stored without a 201 ${audit.storedUnanswered.length}, temporaries ${audit.temporaries.length}`;
}

describe('three replicas behind haproxy, sharing one uploads folder', { skip: SKIP }, () => {
  const work = mkdtempSync(join(tmpdir(), 'rawhttp-replicas-'));
  const documentRoot = join(work, 'resources');
  const uploadsDir = join(work, 'uploads');
  const replicas: Replica[] = [];
  const logs: TrafficLog[] = [];
  let balancer: Balancer;
  let settings: BalancerSettings;
  let expected: Expected;

  const startReplica = (backend: Backend): Promise<StartedServer> =>
    startServer({
      uploadsDir,
      env: {
        PORT: String(backend.port),
        ADMIN_PORT: String(backend.adminPort),
        RESOURCES_DIR: documentRoot,
        ALLOWED_HOSTS: settings.bind,
        MAX_THREADS: '2',
        SHUTDOWN_DELAY_MS: String(SHUTDOWN_DELAY_MS),
        SHUTDOWN_TIMEOUT_MS: '5000',
        FILE_CACHE_TTL_MS: String(FILE_CACHE_TTL_MS),
        // Every request comes from haproxy's one address here (see docs/deploy.md).
        ...ONE_CLIENT_LOAD,
      },
    });
  const state = async (name: string): Promise<string> => (await balancer.states()).get(name) ?? 'missing';
  const lbPort = (): number => Number(settings.bind.split(':')[1]);

  before(async () => {
    mkdirSync(documentRoot);
    mkdirSync(uploadsDir);
    copyFileSync(join(RESOURCES_DIR, 'index.html'), join(documentRoot, 'index.html'));
    // Over 64 KiB, so it is streamed rather than sent from the small-file cache.
    writeFileSync(join(documentRoot, 'large.txt'), randomBytes(384 * 1024).toString('hex'));
    expected = {
      smallPath: '/index.html',
      small: readFileSync(join(documentRoot, 'index.html')),
      largePath: '/large.txt',
      large: readFileSync(join(documentRoot, 'large.txt')),
    };
    const backends: Backend[] = [];
    for (const name of ['r1', 'r2', 'r3']) backends.push({ name, address: '127.0.0.1', port: await freePort(), adminPort: await freePort() });
    settings = { bind: `127.0.0.1:${await freePort()}`, backends, checkIntervalMs: CHECK_INTERVAL_MS, fall: FALL, rise: RISE, statsSocket: join(work, 'haproxy.sock') };
    balancer = await startBalancer(work, settings);
    for (const backend of backends) replicas.push({ backend, server: await startReplica(backend) });
    await waitUntil('all replicas up in haproxy', async () => [...(await balancer.states()).values()].every((status) => status === 'UP'));
  });

  after(async () => {
    await Promise.all(replicas.map((replica) => replica.server.stop()));
    await balancer?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test('haproxy balances over the three replicas; an upload stored through it is served by every replica', async (t) => {
    const agent = new Agent({ keepAlive: false });
    const before = replicas.map((replica) => replica.server.logs.length);
    for (let i = 0; i < 30; i++) assert.equal((await send(agent, lbPort(), 'GET', '/index.html')).status, 200);
    const served = replicas.map((replica, i) => replica.server.logs.slice(before[i]).filter((line) => line.path === '/index.html').length);
    t.diagnostic(`30 GETs through haproxy served per replica: ${served.join(', ')}`);
    assert.ok(served.every((count) => count > 0), `every replica serves: ${served}`);

    const body = Buffer.from(JSON.stringify({ shared: true, at: Date.now() }));
    const stored = await send(agent, lbPort(), 'POST', '/upload', body);
    assert.equal(stored.status, 201);
    const location = String(stored.headers.location);
    const log = new TrafficLog();
    log.uploads.set(body.toString(), location.replace('/uploads/', ''));
    logs.push(log);
    for (const replica of replicas) {
      // Straight to each replica, bypassing the balancer (the Host it accepts is the balancer's).
      const reply = await send(agent, replica.backend.port, 'GET', location, undefined, settings.bind);
      assert.equal(reply.status, 200, replica.backend.name);
      assert.ok(reply.body.equals(body), replica.backend.name);
    }
  });

  test('a file changed on the shared document root is seen by every replica within FILE_CACHE_TTL_MS', async () => {
    const agent = new Agent({ keepAlive: false });
    const file = join(documentRoot, 'notice.txt');
    writeFileSync(file, 'old');
    // Each replica caches the old content.
    for (const replica of replicas) assert.equal((await send(agent, replica.backend.port, 'GET', '/notice.txt', undefined, settings.bind)).body.toString(), 'old');
    writeFileSync(file, 'new');
    const changedAt = Date.now();
    await delay(FILE_CACHE_TTL_MS + 50);
    for (const replica of replicas) {
      const reply = await send(agent, replica.backend.port, 'GET', '/notice.txt', undefined, settings.bind);
      assert.equal(reply.body.toString(), 'new', `${replica.backend.name} still serves the old file ${Date.now() - changedAt} ms after the change`);
    }
  });

  test('rolling restart under load: each replica drains, exits 0, comes back; no request fails, no upload is lost or doubled', async (t) => {
    const traffic = startTraffic({ port: lbPort(), expected, maxPerLoop: MAX_PER_LOOP, run: 'rolling' });
    await delay(300);
    for (const replica of replicas) {
      const { name } = replica.backend;
      const signalledAt = Date.now();
      const exited = replica.server.stop('SIGTERM');
      const downAfterMs = await waitUntil(`${name} down in haproxy`, async () => (await state(name)).startsWith('DOWN'));
      const code = await exited;
      const stoppedAfterMs = Date.now() - signalledAt;
      assert.equal(code, 0, `${name} exit code`);
      const startedAt = Date.now();
      replica.server = await startReplica(replica.backend);
      const startMs = Date.now() - startedAt;
      const upAfterMs = await waitUntil(`${name} up again in haproxy`, async () => (await state(name)) === 'UP');
      t.diagnostic(`${name}: haproxy saw it down ${downAfterMs} ms after SIGTERM (listener closes at ${SHUTDOWN_DELAY_MS} ms), exit 0 after ${stoppedAfterMs} ms, listening again after ${startMs} ms, up in haproxy ${upAfterMs} ms later`);
      assert.ok(downAfterMs < SHUTDOWN_DELAY_MS, `${name}: haproxy must stop routing before the listener closes`);
      await delay(300);
    }
    const log = await traffic.stop();
    logs.push(log);
    const audit = auditUploads(uploadsDir, logs);
    t.diagnostic(`requests sent ${log.total} (${[...log.sent].map(([kind, n]) => `${kind} ${n}`).join(', ')}), failures ${log.failures.length} ${JSON.stringify(log.failuresBy())}, uploads answered 201 ${log.answered201}`);
    t.diagnostic(describeAudit(audit));
    assert.deepEqual(log.failures, []);
    assert.ok(log.sent.get('upload')! > 50 && log.sent.get('large GET')! > 10, 'traffic flowed throughout');
    assert.deepEqual({ lost: audit.lost, duplicated: audit.duplicated, partial: audit.partial, storedUnanswered: audit.storedUnanswered }, { lost: [], duplicated: [], partial: [], storedUnanswered: [] });
    assert.deepEqual(audit.temporaries, [], 'every upload finished: no temporary is left');
    await assertReadsIdentical(t, logs);
  });

  test('kill -9 of one replica under load: what fails is bounded, and no partial upload is ever visible', async (t) => {
    const victim = replicas[1]!;
    const traffic = startTraffic({ port: lbPort(), expected, maxPerLoop: MAX_PER_LOOP, run: 'kill' });
    await delay(500);
    victim.server.process.kill('SIGKILL');
    await victim.server.exited;
    const downAfterMs = await waitUntil('the killed replica down in haproxy', async () => (await state(victim.backend.name)).startsWith('DOWN'));
    await delay(500);
    const log = await traffic.stop();
    logs.push(log);
    const audit = auditUploads(uploadsDir, logs);
    t.diagnostic(`haproxy saw ${victim.backend.name} down ${downAfterMs} ms after the kill`);
    t.diagnostic(`requests sent ${log.total}, failures ${log.failures.length} ${JSON.stringify(log.failuresBy())}, uploads answered 201 ${log.answered201}`);
    t.diagnostic(describeAudit(audit));
    // At most the requests in flight on the killed replica fail: one per loop.
    assert.ok(log.failures.length <= 5, `failures: ${JSON.stringify(log.failuresBy())}`);
    // haproxy retries an idempotent request the dead replica never answered.
    assert.deepEqual(log.failures.filter((failure) => failure.kind === 'small GET'), []);
    assert.deepEqual({ lost: audit.lost, duplicated: audit.duplicated, partial: audit.partial }, { lost: [], duplicated: [], partial: [] });
    // The kill may or may not have caught an upload between its temporary and its final name;
    // one such temporary is planted so that the check below always has one to ask for.
    const planted = temporaryName({ host: hostname(), pid: victim.server.process.pid! }, randomBytes(TEMP_RANDOM_BYTES).toString('hex'));
    writeFileSync(join(uploadsDir, planted), '{"half":');
    const agent = new Agent({ keepAlive: false });
    for (const temporary of [...audit.temporaries, planted]) {
      // Hidden files are refused (403 today; 404 would do as well).
      assert.ok([403, 404].includes((await send(agent, lbPort(), 'GET', `/uploads/${temporary}`)).status), `${temporary} must never be served`);
    }

    // Back again on the same host, with a new process id: the killed process is gone, so its
    // start-up clean-up removes the killed one's temporaries at once.
    victim.server = await startReplica(victim.backend);
    await waitUntil('the restarted replica up in haproxy', async () => (await state(victim.backend.name)) === 'UP');
    await victim.server.waitForLog((line) => line.msg === 'removed a stale upload temporary' && line.file === planted);
    assert.ok(!readdirSync(uploadsDir).includes(planted));
    await assertReadsIdentical(t, logs);
  });

  test('the PromQL of docs/deploy.md parses, and names only metrics the replicas expose', async (t) => {
    const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
    if (promtool.error !== undefined) {
      t.diagnostic('SKIPPED: no promtool to parse the PromQL: apt-get install prometheus');
      return t.skip('no promtool');
    }
    const docs = readFileSync(join(REPO_ROOT, 'docs', 'deploy.md'), 'utf8');
    const block = /```promql\n([\s\S]*?)```/.exec(docs)?.[1] ?? '';
    const expressions = block.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#'));
    assert.ok(expressions.length >= 8, 'the examples are there');
    // A rules file is what promtool parses offline; JSON is YAML.
    const rules = { groups: [{ name: 'docs', rules: expressions.map((expr, i) => ({ record: `docs:example${i}`, expr })) }] };
    const file = join(work, 'docs-rules.yml');
    writeFileSync(file, JSON.stringify(rules));
    const checked = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
    assert.equal(checked.status, 0, `${checked.stdout}${checked.stderr}`);
    const exposition = await (await fetch(`http://127.0.0.1:${replicas[0]!.backend.adminPort}/metrics`)).text();
    const names = new Set(block.match(/http_server_[a-z_]+/g));
    for (const name of names) assert.match(exposition, new RegExp(`^# TYPE ${name.replace(/_bucket$/, '')} `, 'm'), name);
    t.diagnostic(`${expressions.length} expressions parse; metrics named: ${[...names].join(', ')}`);
  });

  /** Every upload answered 201 reads back through the balancer byte for byte. */
  async function assertReadsIdentical(t: TestContext, all: readonly TrafficLog[]): Promise<void> {
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const answered = all.flatMap((log) => [...log.uploads].filter(([, name]) => name !== null)) as [string, string][];
    let identical = 0;
    for (const [text, name] of answered) {
      const reply = await send(agent, lbPort(), 'GET', `/uploads/${name}`);
      if (reply.status === 200 && reply.body.toString() === text) identical++;
    }
    agent.destroy();
    t.diagnostic(`byte-identical reads through the balancer: ${identical} of ${answered.length} stored uploads`);
    assert.equal(identical, answered.length);
  }
});

test('the haproxy recipe in docs/deploy.md is the tested configuration with production timings, and haproxy accepts it', { skip: SKIP }, () => {
  const production: BalancerSettings = {
    bind: ':80',
    backends: [1, 2, 3].map((n) => ({ name: `r${n}`, address: `192.0.2.1${n}`, port: 8080, adminPort: 9090 })),
    checkIntervalMs: 2000,
    fall: 2,
    rise: 2,
    statsSocket: '/run/haproxy/admin.sock',
  };
  const config = haproxyConfig(production);
  const docs = readFileSync(join(REPO_ROOT, 'docs', 'deploy.md'), 'utf8');
  assert.ok(docs.includes(`\`\`\`haproxy\n${config}\`\`\``), 'docs/deploy.md shows haproxyConfig() with the production settings');
  const dir = mkdtempSync(join(tmpdir(), 'rawhttp-haproxy-check-'));
  try {
    const check = checkConfig(dir, config);
    assert.ok(check.ok, check.output);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
