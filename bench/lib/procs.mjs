// Child process plumbing: start a server with its output in a log file, wait until
// it answers HTTP, measure its memory, and always stop it (even on Ctrl-C).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

const live = new Set(); // every child still running, for cleanup on exit

/** Spawns a long-running server process; stdout and stderr go to logFile. */
export function startProcess({ cmd, args, env, cwd, logFile }) {
  const fd = fs.openSync(logFile, 'a');
  const proc = spawn(cmd, args, { env, cwd, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd); // the child has its own copy
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const child = { proc, pid: proc.pid, env, exited, logFile, isRunning: () => proc.exitCode === null && proc.signalCode === null };
  child.stop = async () => {
    if (!child.isRunning()) return;
    proc.kill('SIGTERM');
    const done = await Promise.race([exited, sleep(5000).then(() => null)]);
    if (!done) {
      proc.kill('SIGKILL');
      await exited;
    }
  };
  live.add(child);
  exited.then(() => live.delete(child));
  return child;
}

/** Stops every child this harness started (used on exit and on signals). */
export async function stopAll() {
  await Promise.all([...live].map((c) => c.stop()));
}

/** Last lines of a log file, to show why a server failed. */
export function tail(file, lines = 15) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function probe(port, path, host) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { Host: host }, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/** Resolves once GET path answers 200; throws if the child exits or time runs out. */
export async function waitReady(child, port, path, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let last = 0;
  while (Date.now() < deadline) {
    if (!child.isRunning()) throw new Error(`exited during start-up:\n${tail(child.logFile)}`);
    last = await probe(port, path, `127.0.0.1:${port}`);
    if (last === 200) return;
    await sleep(100);
  }
  throw new Error(`no 200 for GET ${path} within ${timeoutMs} ms (last status ${last || 'none'}):\n${tail(child.logFile)}`);
}

// --- memory -----------------------------------------------------------------

function readProc(pid, file) {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return null;
  }
}

/** The pid and all its descendants (nginx master + workers), from /proc. */
function processTree(root) {
  const children = new Map();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProc(name, 'stat');
    if (!stat) continue;
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid).push(Number(name));
  }
  const out = [];
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop();
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** Resident memory of a process tree in MiB (threads share their process's RSS). */
export function treeRssMiB(pid) {
  let kib = 0;
  for (const p of processTree(pid)) {
    const m = /VmRSS:\s+(\d+)/.exec(readProc(p, 'status') ?? '');
    if (m) kib += Number(m[1]);
  }
  return kib / 1024;
}

/** Samples tree RSS every intervalMs until stop(), which returns the peak in MiB. */
export function sampleRss(pid, intervalMs = 200) {
  let peak = treeRssMiB(pid);
  const timer = setInterval(() => {
    peak = Math.max(peak, treeRssMiB(pid));
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, treeRssMiB(pid));
    },
  };
}

// --- CPU time -----------------------------------------------------------------

// /proc counts CPU time in clock ticks: USER_HZ, 100 on every Linux architecture Node runs on.
const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) a process tree has used so far, threads included. */
export function treeCpuSeconds(pid) {
  let ticks = 0;
  for (const p of processTree(pid)) {
    const stat = readProc(p, 'stat');
    if (!stat) continue;
    // Fields after the command name, which may hold spaces: utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / TICKS_PER_SECOND;
}
