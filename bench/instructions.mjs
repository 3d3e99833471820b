#!/usr/bin/env node
// `npm run bench:instructions`: how many instructions a server's main thread executes per
// exchange, counted by valgrind's callgrind. Unlike requests/s on a shared machine, the count
// is nearly the same from run to run, so a change worth a few per cent shows, and ours can be
// set beside the bare node:net peer (the runtime's own cost) exchange for exchange.
// One client sends one request at a time, after a warm-up that lets V8 optimise the path.
// Progress goes to stderr; the markdown table to stdout.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createWorkDir, SMALL_PAGE } from './lib/docroot.mjs';
import { readTotals } from './lib/callgrind.mjs';
import { serverCatalog, freePort } from './lib/servers.mjs';
import { stopAll, waitReady } from './lib/procs.mjs';
import { which } from './lib/tools.mjs';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const log = (msg) => process.stderr.write(`[instructions] ${msg}\n`);

// Each mode: the request's own Connection field, and the bare node:net peer of that scenario.
const MODES = {
  close: { peer: 'net-close', field: 'Connection: close\r\n' },
  'keep-alive': { peer: 'net-keepalive', field: '' },
};
// The servers that run on node, and so can run under valgrind the same way.
const NODE_SERVERS = ['ours', 'baseline', 'node-http', 'fastify', 'net-close', 'net-keepalive'];

const USAGE = `Usage: npm run bench:instructions -- [options]

  --modes LIST      close,keep-alive (default both)
  --servers LIST    any of ${NODE_SERVERS.join(',')}
                    (default: ours, baseline when given, and each mode's bare peer)
  --warmup N        unmeasured exchanges first (default 30000: after 4000, most of
                    ours still ran in V8's mid tier, and counted half as much again)
  --count N         measured exchanges (default 5000; keep-alive: a multiple of 100,
                    so that each server reconnects as often)
  --baseline DIR    also count another build of ours (DIR/dist/src/main.js)
  --keep            keep the dumps (callgrind_annotate FILE: which functions the
                    instructions went to; NODE_OPTIONS=--perf-basic-prof writes
                    /tmp/perf-PID.map, which names V8's compiled code by address)
  -h, --help        this text

Needs valgrind. Each server runs alone under callgrind, many times slower than
normal; MAX_THREADS and other settings in the environment pass through to ours.`;

function options(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      modes: { type: 'string', default: 'close,keep-alive' },
      servers: { type: 'string' },
      warmup: { type: 'string', default: '30000' },
      count: { type: 'string', default: '5000' },
      baseline: { type: 'string' },
      keep: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const modes = values.modes.split(',');
  const unknown = modes.filter((m) => !(m in MODES));
  if (unknown.length) throw new Error(`unknown mode: ${unknown.join(', ')} (known: ${Object.keys(MODES).join(', ')})`);
  const servers = values.servers?.split(',');
  const strange = (servers ?? []).filter((s) => !NODE_SERVERS.includes(s));
  if (strange.length) throw new Error(`not a node server: ${strange.join(', ')} (known: ${NODE_SERVERS.join(', ')})`);
  const warmup = Number(values.warmup);
  const count = Number(values.count);
  if (!Number.isInteger(warmup) || warmup < 0) throw new Error(`--warmup must be an integer >= 0, got "${values.warmup}"`);
  if (!Number.isInteger(count) || count < 1) throw new Error(`--count must be an integer >= 1, got "${values.count}"`);
  return { help: values.help, keep: values.keep, modes, servers, warmup, count, baseline: values.baseline && path.resolve(values.baseline) };
}

/** The servers counted in a mode: the ones asked for, or ours, the baseline and the mode's peer. */
function serversFor(mode, opts) {
  if (opts.servers) return opts.servers;
  return ['ours', ...(opts.baseline ? ['baseline'] : []), MODES[mode].peer];
}

/** Where the first complete response in buffered ends, and whether it closes; null if incomplete. */
function responseEnd(buffered) {
  const headEnd = buffered.indexOf('\r\n\r\n');
  if (headEnd < 0) return null;
  const head = buffered.toString('latin1', 0, headEnd);
  const length = headEnd + 4 + Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
  return buffered.length < length ? null : { length, closes: /\r\nconnection:\s*close/i.test(head) };
}

/**
 * Sends n requests one at a time: each waits for the previous response. A connection is
 * used until its server says `Connection: close` (then the next one opens) or n are answered.
 */
async function exchange(port, mode, n) {
  const request = Buffer.from(`GET ${SMALL_PAGE} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${MODES[mode].field}\r\n`);
  let answered = 0;
  while (answered < n) {
    const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
    let buffered = Buffer.alloc(0);
    let closes = false;
    socket.write(request);
    for await (const chunk of socket) {
      buffered = Buffer.concat([buffered, chunk]);
      const end = responseEnd(buffered);
      if (!end) continue;
      buffered = buffered.subarray(end.length);
      answered++;
      closes = end.closes;
      if (closes || answered === n) break;
      socket.write(request);
    }
    socket.destroy();
    if (!closes && answered < n) throw new Error(`the server closed a connection without a response (${answered} of ${n} answered)`);
  }
}

// valgrind names the pipes callgrind_control talks through after the USER and HOST of the
// process it runs (ours is started with HOST=127.0.0.1), so the control command takes the child's.
function callgrindControl(flag, child) {
  const env = { ...process.env };
  for (const key of ['USER', 'HOST']) {
    if (key in child.env) env[key] = child.env[key];
    else delete env[key];
  }
  const r = spawnSync('callgrind_control', [flag, String(child.pid)], { encoding: 'utf8', env, timeout: 120_000 });
  // It says OK even when the pipes were not found, and only says why on stderr.
  if (r.status !== 0 || /error|failed/i.test(r.stderr)) throw new Error(`callgrind_control ${flag} ${child.pid} failed: ${(r.stderr + r.stdout).trim()}`);
}

/** Instructions per exchange of one server: { main, all } (main thread, every thread). */
async function countInstructions(catalog, id, mode, opts, outDir) {
  const server = catalog.find((s) => s.id === id);
  const reason = server.check();
  if (reason) throw new Error(`${id}: ${reason}`);
  const port = await freePort();
  const child = await server.start(port);
  try {
    await waitReady(child, port, SMALL_PAGE, 300_000);
    log(`${mode} ${id}: started (pid ${child.pid}); ${opts.warmup} exchanges of warm-up`);
    await exchange(port, mode, opts.warmup);
    callgrindControl('--zero', child);
    log(`${mode} ${id}: counting ${opts.count} exchanges`);
    await exchange(port, mode, opts.count);
    callgrindControl('--dump', child);
    const threads = readTotals(outDir, `callgrind.${child.pid}`);
    const all = [...threads.values()].reduce((a, b) => a + b, 0);
    return { main: threads.get(1) / opts.count, all: all / opts.count };
  } finally {
    await child.stop();
  }
}

function table(rows) {
  const fmt = (n) => `${(n / 1000).toFixed(1)}k`;
  const lines = ['| mode | server | main thread, per exchange | all threads, per exchange | main x peer |', '| --- | --- | ---: | ---: | ---: |'];
  for (const r of rows) lines.push(`| ${r.mode} | ${r.server} | ${fmt(r.main)} | ${fmt(r.all)} | ${r.ratio.toFixed(2)} |`);
  return lines.join('\n');
}

async function main() {
  const opts = options(process.argv.slice(2));
  if (opts.help) return console.log(USAGE);
  if (!which('valgrind') || !which('callgrind_control')) throw new Error('valgrind is not installed (apt-get install -y valgrind)');
  const work = createWorkDir();
  const outDir = path.join(work.dir, 'callgrind');
  fs.mkdirSync(outDir);
  const wrapper = ['valgrind', '--tool=callgrind', '--separate-threads=yes', `--callgrind-out-file=${outDir}/callgrind.%p`];
  const catalog = serverCatalog({ benchDir, repoRoot: path.resolve(benchDir, '..'), baseline: opts.baseline, work, tools: {}, wrapper });
  const rows = [];
  for (const mode of opts.modes) {
    const counted = [];
    for (const id of serversFor(mode, opts)) {
      counted.push({ mode, server: id, ...(await countInstructions(catalog, id, mode, opts, outDir)) });
    }
    const peer = counted.find((r) => r.server === MODES[mode].peer) ?? counted[0];
    rows.push(...counted.map((r) => ({ ...r, ratio: r.main / peer.main })));
  }
  console.log(table(rows));
  if (opts.keep) log(`dumps kept in ${outDir}`);
  else fs.rmSync(work.dir, { recursive: true, force: true });
}

process.on('SIGINT', () => stopAll().then(() => process.exit(130)));
main().catch(async (err) => {
  log(err.message);
  await stopAll();
  process.exit(1);
});
