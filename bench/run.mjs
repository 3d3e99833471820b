#!/usr/bin/env node
// `npm run bench`: starts our server and the peers on loopback ports, drives each
// scenario with wrk in alternating rounds (A B C A B C ...), and reports medians,
// the pass/fail targets, bench/results/latest.{json,svg} and a summary line.
// Progress goes to stderr; the markdown report goes to stdout.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseOptions, USAGE } from './lib/args.mjs';
import { createWorkDir, countFiles, emptyDir, SMALL_PAGE } from './lib/docroot.mjs';
import { ensureSystemTools, resolvePackage, versionOf } from './lib/tools.mjs';
import { serverCatalog, freePort, SERVER_IDS } from './lib/servers.mjs';
import { SCENARIOS, SCENARIO_IDS } from './lib/scenarios.mjs';
import { waitReady, sampleRss, stopAll, tail, treeCpuSeconds, treeRssMiB } from './lib/procs.mjs';
import { runWrk } from './lib/drivers/wrk.mjs';
import { runAutocannon } from './lib/drivers/autocannon.mjs';
import { summarize } from './lib/stats.mjs';
import { addRatios, evaluateTargets, markdownTable, summaryLine } from './lib/report.mjs';
import { ratioChart } from './lib/svg.mjs';
import { runPoolBench } from './lib/pool-bench.mjs';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(benchDir, '..');
const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);

// Settings of ours that matter for the numbers; recorded in latest.json when set.
const OUR_ENV_KEYS = ['MAX_THREADS', 'QUEUE_SIZE', 'LISTEN_SOCKETS', 'BACKLOG', 'MAX_CONNECTIONS', 'MAX_REQUESTS_PER_CONNECTION', 'KEEP_ALIVE_TIMEOUT_MS'];

function checkIds(kind, ids, known) {
  const bad = (ids ?? []).filter((id) => !known.includes(id));
  if (bad.length) throw new Error(`unknown ${kind}: ${bad.join(', ')} (known: ${known.join(', ')})`);
}

/** Picks the load driver: wrk, or autocannon when wrk is missing and autocannon is installed. */
function chooseDriver(opts, tools) {
  const autocannon = resolvePackage(benchDir, 'autocannon');
  if (opts.driver === 'wrk' && tools.wrk) {
    return { name: 'wrk', version: versionOf(tools.wrk, ['--version']), run: (o) => runWrk({ ...o, wrk: tools.wrk, benchDir }) };
  }
  if (autocannon) {
    if (opts.driver === 'wrk') log('wrk is not available: falling back to autocannon (numbers are not comparable with wrk runs)');
    return { name: 'autocannon', version: 'autocannon', run: (o) => runAutocannon({ ...o, autocannon }) };
  }
  throw new Error(opts.driver === 'wrk'
    ? 'no load generator: wrk is not installed (apt-get install -y wrk) and autocannon is not in node_modules'
    : 'autocannon is not installed (npm install --no-save autocannon)');
}

/** Starts every usable server once; they stay up for all scenarios. */
async function startServers(catalog, status) {
  const running = [];
  for (const server of catalog) {
    const reason = server.check();
    if (reason) {
      log(`skip ${server.id}: ${reason}`);
      status[server.id] = { label: server.label, status: 'skipped', reason };
      continue;
    }
    const port = await freePort();
    const child = await server.start(port);
    try {
      await waitReady(child, port, SMALL_PAGE);
      log(`started ${server.id} on 127.0.0.1:${port} (pid ${child.pid})`);
      await sleep(1000); // let start-up garbage settle before the idle reading
      status[server.id] = { label: server.label, status: 'ran', port, idleRssMiB: treeRssMiB(child.pid) };
      running.push({ ...server, port, child });
    } catch (err) {
      await child.stop();
      log(`skip ${server.id}: failed to start: ${err.message}`);
      status[server.id] = { label: server.label, status: 'failed', reason: err.message };
    }
  }
  return running;
}

/**
 * The uploads stored by a run, counted once the ones still in flight when wrk stopped have
 * landed (otherwise they would be counted in the next run instead).
 */
async function settledFileCount(dir) {
  let count = countFiles(dir);
  for (let waited = 0; waited < 5000; waited += 250) {
    await sleep(250);
    const now = countFiles(dir);
    if (now === count) return count;
    count = now;
  }
  return count;
}

/** One measured (or warm-up) run of one server in one scenario. */
async function measure(driver, opts, work, scenario, server, duration) {
  const rss = sampleRss(server.child.pid);
  const cpuBefore = treeCpuSeconds(server.child.pid);
  let result;
  try {
    result = await driver.run({
      url: `http://127.0.0.1:${server.port}${scenario.path}`,
      connections: scenario.connections,
      threads: opts.threads,
      duration,
      headers: scenario.headers,
      upload: scenario.upload,
      pipeline: scenario.pipeline,
      bodyFile: work.bodyFile,
    });
  } finally {
    // Stop sampling and count (then clear) uploads even when the run failed.
    const peak = rss.stop();
    const cpuUs = (treeCpuSeconds(server.child.pid) - cpuBefore) * 1e6;
    const files = scenario.upload ? await settledFileCount(work.uploads) : undefined;
    if (scenario.upload) emptyDir(work.uploads);
    if (result) Object.assign(result, { rssMiB: peak, connections: scenario.connections, files, cpuUsPerRequest: cpuUs / result.requests });
  }
  return result;
}

/** Why a server sits a scenario out, or null when it takes part. */
function sitsOut(scenario, server) {
  if (server.only && !server.only.includes(scenario.id)) return `runs only in ${server.only.join(', ')}`;
  if (scenario.upload && !server.upload) return 'no upload route (GET-only peer)';
  if (scenario.pipeline && !server.pipelining) return 'HTTP/1.0 only: no pipelining';
  return null;
}

async function runScenario(scenario, servers, driver, opts, work) {
  const notes = {};
  const runs = {};
  // A peer that exists for another scenario's target gets no row here at all.
  const listed = servers.filter((s) => !s.only || s.only.includes(scenario.id));
  const participants = listed.filter((s) => sitsOut(scenario, s) === null);
  for (const s of listed) if (!participants.includes(s)) notes[s.id] = sitsOut(scenario, s);

  log(`--- ${scenario.id}: ${scenario.title}`);
  if (opts.warmup > 0) {
    for (const s of participants) await measure(driver, opts, work, scenario, s, opts.warmup).catch(() => {});
  }
  for (let round = 1; round <= opts.rounds; round++) {
    for (const s of participants) {
      runs[s.id] ??= [];
      if (!s.child.isRunning()) {
        notes[s.id] = `server exited: ${tail(s.child.logFile, 3).replace(/\n/g, ' / ')}`;
        runs[s.id].push({ failed: true });
        continue;
      }
      try {
        const r = await measure(driver, opts, work, scenario, s, opts.duration);
        // No completed request means no latency either; never let zeros pass a target.
        if (r.requests === 0) throw new Error(`no request completed in ${opts.duration}s (errors ${r.errors})`);
        runs[s.id].push(r);
        log(`${scenario.id} round ${round}/${opts.rounds} ${s.id}: ${r.rps.toFixed(0)} req/s, ${r.mbps.toFixed(1)} MB/s, ` +
          `p99 ${r.p99Ms === null ? '-' : r.p99Ms.toFixed(2)} ms, CPU ${r.cpuUsPerRequest.toFixed(1)} us/req, errors ${r.errors}, non-2xx ${r.non2xx}, RSS ${r.rssMiB.toFixed(1)} MiB` +
          (r.files !== undefined ? `, files ${r.files}` : ''));
      } catch (err) {
        notes[s.id] = `run failed: ${err.message.split('\n')[0]}`;
        runs[s.id].push({ failed: true, error: err.message });
        log(`${scenario.id} round ${round} ${s.id}: ${err.message}`);
      }
      await sleep(200); // let closed sockets and timers settle between runs
    }
  }
  const rows = {};
  for (const s of listed) rows[s.id] = participants.includes(s) ? summarize(runs[s.id] ?? []) : null;
  return { id: scenario.id, title: scenario.title, metric: scenario.metric, connections: scenario.connections, rows, notes, runs };
}

function estimateSeconds(scenarios, servers, opts) {
  let runs = 0;
  for (const sc of scenarios) runs += servers.filter((s) => sitsOut(sc, s) === null).length;
  return runs * (opts.rounds * (opts.duration + 0.4) + opts.warmup + 0.4);
}

async function main() {
  let opts;
  try {
    opts = parseOptions(process.argv.slice(2));
    checkIds('servers', opts.servers, SERVER_IDS);
    checkIds('scenarios', opts.scenarios, SCENARIO_IDS);
  } catch (err) {
    console.error(`${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (opts.help) return console.log(USAGE);
  if (opts.report) return report(JSON.parse(fs.readFileSync(opts.report, 'utf8')), opts);

  const wanted = opts.servers ?? SERVER_IDS;
  const scenarios = SCENARIOS.filter((s) => !opts.scenarios || opts.scenarios.includes(s.id));
  const tools = ensureSystemTools({
    needWrk: opts.driver === 'wrk',
    needNginx: wanted.some((id) => id.startsWith('nginx')),
    install: opts.install,
  });
  const driver = chooseDriver(opts, tools);

  // Other work on the machine skews every number; say so rather than hide it.
  if (os.loadavg()[0] > 0.5) log(`warning: load average is ${os.loadavg()[0].toFixed(2)} before starting; results will be noisy`);

  const work = createWorkDir();
  const onSignal = async () => {
    log('interrupted: stopping servers');
    await stopAll();
    if (!opts.keep) fs.rmSync(work.dir, { recursive: true, force: true });
    process.exit(130); // a wrk still running ends by itself within its duration
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const status = {};
  const results = {
    meta: {
      date: new Date().toISOString(),
      mode: opts.mode,
      rounds: opts.rounds,
      duration: opts.duration,
      warmup: opts.warmup,
      driver: driver.name,
      driverVersion: driver.version,
      driverThreads: opts.threads,
      nginx: tools.nginx ? versionOf(tools.nginx, ['-v']) : null,
      node: process.version,
      cpus: os.availableParallelism?.() ?? os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      ourEnv: Object.fromEntries(OUR_ENV_KEYS.filter((k) => process.env[k]).map((k) => [k, process.env[k]])),
      loadAvgStart: os.loadavg()[0],
    },
    servers: status,
    scenarios: [],
  };

  try {
    const catalog = serverCatalog({ benchDir, repoRoot, baseline: opts.baseline && path.resolve(opts.baseline), work, tools }).filter((s) => wanted.includes(s.id));
    const servers = await startServers(catalog, status);
    if (servers.length === 0) throw new Error('no server could be started; nothing to measure');
    log(`plan: ${scenarios.length} scenarios x ${servers.length} servers, ${opts.rounds} rounds x ${opts.duration}s, ` +
      `about ${Math.ceil(estimateSeconds(scenarios, servers, opts) / 60)} min`);

    for (const sc of scenarios) results.scenarios.push(await runScenario(sc, servers, driver, opts, work));
    await stopAll();

    // A failing microbenchmark must not throw away the scenario results measured before it.
    results.pool = opts.pool
      ? await runPoolBench({ repoRoot, quick: opts.mode === 'quick' }).catch((error) => ({ skipped: true, reason: `failed: ${error.message}` }))
      : { skipped: true, reason: 'not requested (--pool)' };
  } finally {
    await stopAll();
    if (opts.keep) log(`kept work dir ${work.dir}`);
    else fs.rmSync(work.dir, { recursive: true, force: true });
  }

  results.meta.loadAvgEnd = os.loadavg()[0];
  report(results, opts);
}

/** Ratios, targets and summary of a run; writes latest.json and latest.svg and prints the report. */
function report(results, opts) {
  addRatios(results);
  results.targets = evaluateTargets(results);
  results.summary = summaryLine(results, results.targets);
  const status = results.servers;
  const { rounds, duration } = results.meta;

  const labels = Object.fromEntries(Object.entries(status).map(([id, s]) => [id, s.label]));
  const outDir = opts.out ? path.resolve(opts.out) : path.join(benchDir, 'results');
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  fs.writeFileSync(path.join(outDir, 'latest.svg'), `${ratioChart(results, labels)}\n`);

  const skipped = Object.entries(status).filter(([, s]) => s.status !== 'ran');
  const lines = [
    `## HTTP server benchmark (${results.meta.mode}: ${rounds} rounds x ${duration}s, ${results.meta.driver}, ${results.meta.cpus} CPUs, node ${results.meta.node})`,
    '',
    markdownTable(results, labels),
    '',
    ...skipped.map(([id, s]) => `- skipped ${id}: ${s.reason.split('\n')[0]}`),
    ...(results.pool.skipped
      ? [`- pool microbenchmark: ${results.pool.reason}`]
      : ['', `### Worker-pool microbenchmark (${results.pool.rounds} rounds x ${results.pool.runMs} ms per run, load average ${results.pool.loadAvgStart.toFixed(2)} at start)`, '', results.pool.table]),
    '',
    '### Targets',
    ...results.targets.map((t) => `- ${t.status} ${t.text}: ${t.detail}`),
    '',
    `Wrote ${path.relative(process.cwd(), path.join(outDir, 'latest.json'))} and latest.svg`,
    '',
    results.summary,
  ];
  console.log(lines.join('\n'));
}

main().catch(async (err) => {
  console.error(`[bench] error: ${err.message}`);
  await stopAll();
  process.exit(1);
});
