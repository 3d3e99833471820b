// The log's stdout when nobody takes its lines: a reader that stalls, a full disk, a pipe the
// reader closed. The real server, with its stdout a pipe or a file this test controls: memory
// stays within the log buffer's cap, the server goes on answering, says what happened on
// stderr, and still exits, on SIGTERM and after an uncaught exception.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { LOG_BUFFER_MAX_BYTES } from '../../src/log-output.js';
import { FATAL_EXIT_CODE, FATAL_GRACE_MS } from '../../src/process-errors.js';
import { freePort } from '../helpers/raw.js';
import { imageNodeFlags, REPO_ROOT, RESOURCES_DIR, type LogLine } from '../helpers/server.js';

const MAIN = join(REPO_ROOT, 'dist', 'src', 'main.js');
const FAULTS = pathToFileURL(join(REPO_ROOT, 'dist', 'test', 'fixtures', 'process-faults.js')).href;
const MiB = 1024 * 1024;

/** A query that makes each access line about 7 KB: a few requests fill the buffer many times over. */
const LONG_TARGET = `/sample.txt?${'q'.repeat(7000)}`;

let scratch: string;
let nodeFlags: string[];
before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'rawhttp-log-output-'));
  nodeFlags = await imageNodeFlags();
});
after(() => rmSync(scratch, { recursive: true, force: true }));

interface Spawned {
  readonly child: ChildProcess;
  readonly port: number;
  readonly adminPort: number;
  /** What the server wrote to stderr so far. */
  stderr(): string;
  readonly exited: Promise<number | null>;
}

/**
 * Starts the server with stdout on `stdout` (a pipe this test reads, or a file descriptor) and
 * fixed ports, since the start line may never be read; resolves once /readyz answers.
 */
async function spawnServer(stdout: 'pipe' | number, nodeArgs: string[] = []): Promise<Spawned> {
  const [port, adminPort] = [await freePort(), await freePort()];
  const uploads = mkdtempSync(join(scratch, 'uploads-'));
  const child = spawn(process.execPath, [...nodeFlags, ...nodeArgs, MAIN], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), ADMIN_PORT: String(adminPort), RESOURCES_DIR, UPLOADS_DIR: uploads, LOG_LEVEL: 'info', POOL_STATUS_INTERVAL_MS: '0', MIN_FREE_DISK_BYTES: '0', MAX_THREADS: '2', LISTEN_SOCKETS: '2', MAX_REQUESTS_PER_CONNECTION: '1000000', INJECT_FAULT: 'exception' },
    stdio: ['ignore', stdout, 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  for (let tries = 0; (await status(adminPort, '/readyz')) !== 200; tries++) {
    if (tries > 100 || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`server not ready: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { child, port, adminPort, stderr: () => stderr, exited };
}

/** The status of a GET, or the error's name: a server that hangs must fail the assertion, not the test. */
async function status(port: number, path: string): Promise<number | string> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) });
    await response.arrayBuffer();
    return response.status;
  } catch (error) {
    return (error as Error).name;
  }
}

async function droppedLines(adminPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
  const sample = /^http_server_log_lines_dropped_total (\S+)$/m.exec(text);
  assert.ok(sample !== null, 'the metric is exported');
  return Number(sample[1]);
}

/**
 * HEADs of LONG_TARGET on `connections` keep-alive connections, `depth` pipelined at a time,
 * `count` in all; resolves with the number of responses read (a HEAD's has no body, so each
 * ends at its blank line).
 */
function pipelinedHeads(port: number, count: number, connections = 4, depth = 32): Promise<number> {
  const batch = `HEAD ${LONG_TARGET} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`.repeat(depth);
  const one = (share: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      let sent = 0;
      let answered = 0;
      let tail = '';
      const send = (): void => {
        if (sent >= share) return void socket.end(() => resolve(answered));
        sent += depth;
        socket.write(batch);
      };
      socket.on('connect', send);
      socket.on('data', (chunk: Buffer) => {
        const text = tail + chunk.toString('latin1');
        answered += text.split('\r\n\r\n').length - 1;
        tail = text.slice(-3);
        if (answered === sent) send();
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(answered));
      socket.setTimeout(10_000, () => reject(new Error(`stalled after ${answered} responses`)));
    });
  return Promise.all(Array.from({ length: connections }, () => one(Math.ceil(count / connections / depth) * depth))).then((counts) => counts.reduce((a, b) => a + b, 0));
}

function rssOf(pid: number): number {
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(kib![1]) * 1024;
}

/** Samples the RSS every 25 ms while `during` runs; resolves with its result and the peak. */
async function peakRss<T>(pid: number, during: Promise<T>): Promise<{ result: T; peak: number }> {
  let peak = rssOf(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 25);
  try {
    return { result: await during, peak: Math.max(peak, rssOf(pid)) };
  } finally {
    clearInterval(timer);
  }
}

/** Reads the pipe from now on to its end; resolves with its lines. */
function readToEnd(child: ChildProcess): Promise<string[]> {
  return new Promise((resolve) => {
    let text = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => (text += chunk));
    child.stdout!.once('end', () => resolve(text.split('\n').filter((line) => line !== '')));
    child.stdout!.resume();
  });
}

/** Resolves with the exit code, or 'still running' after `ms`. */
function exitWithin(server: Spawned, ms: number): Promise<number | null | 'still running'> {
  return Promise.race([server.exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), ms))]);
}

test('a stalled reader: memory stays within the buffer cap, lines are dropped and counted, and those kept are whole', async () => {
  const server = await spawnServer('pipe');
  try {
    server.child.stdout!.pause();
    const requests = 30_000;
    const before = rssOf(server.child.pid!);
    const { result: answered, peak } = await peakRss(server.child.pid!, pipelinedHeads(server.port, requests));
    assert.ok(answered >= requests, `every request answered (${answered})`);
    const linesBytes = answered * LONG_TARGET.length;
    assert.ok(linesBytes > 40 * LOG_BUFFER_MAX_BYTES, 'the access lines fill the buffer many times over');
    // A JS string holds up to two bytes a character; the rest is the load's own garbage.
    const allowed = 2 * LOG_BUFFER_MAX_BYTES + 64 * MiB;
    assert.ok(peak - before < allowed, `RSS grew by ${((peak - before) / MiB).toFixed(1)} MiB, at most ${allowed / MiB} MiB allowed, with ${(linesBytes / MiB).toFixed(0)} MiB of access lines unread`);
    assert.equal(await status(server.port, '/sample.txt'), 200, 'the server answers while stalled');
    assert.equal(await status(server.adminPort, '/livez'), 200);
    const dropped = await droppedLines(server.adminPort);
    assert.ok(dropped > 0, 'lines were dropped and counted');
    assert.match(server.stderr(), /"level":"warn".*"msg":"log lines dropped: stdout is not taking them/, 'stderr says lines were dropped');

    const lines = readToEnd(server.child);
    server.child.kill('SIGTERM');
    assert.equal(await exitWithin(server, 10_000), 0);
    const read = await lines;
    const parsed = read.map((line) => JSON.parse(line) as LogLine);
    const accessLines = parsed.filter((line) => line.msg === 'request').length;
    assert.ok(accessLines < answered, 'not every access line was kept');
    assert.ok(accessLines + dropped >= answered, `every access line was written or counted as dropped (${accessLines} + ${dropped} of ${answered})`);
    assert.equal(parsed.at(-1)?.msg, 'shutdown complete', 'the lines after the stall are written');
  } finally {
    server.child.kill('SIGKILL');
  }
});

test('an uncaught exception while the reader is stalled: the fatal line goes to stderr and the process exits 1', async () => {
  const server = await spawnServer('pipe', ['--import', FAULTS]);
  try {
    server.child.stdout!.pause();
    await pipelinedHeads(server.port, 2000);
    server.child.kill('SIGUSR2');
    // The grace, and no flush that waits for the stalled reader.
    const code = await exitWithin(server, FATAL_GRACE_MS + 3000);
    assert.equal(code, FATAL_EXIT_CODE);
    assert.match(server.stderr(), /"level":"fatal".*"err":"Error: injected exception\\n\s+at .*injectedFault.*"msg":"uncaught exception, exiting"/);
  } finally {
    server.child.kill('SIGKILL');
  }
});

test('an uncaught exception right after a burst, with a reader that keeps up: stdout gets every access line and the fatal line before the process exits', async () => {
  const server = await spawnServer('pipe', ['--import', FAULTS]);
  try {
    const lines = readToEnd(server.child);
    const answered = await pipelinedHeads(server.port, 300);
    server.child.kill('SIGUSR2');
    assert.equal(await exitWithin(server, FATAL_GRACE_MS + 3000), FATAL_EXIT_CODE);
    const parsed = (await lines).map((line) => JSON.parse(line) as LogLine);
    assert.equal(parsed.filter((line) => line.msg === 'request').length, answered, 'every access line');
    assert.equal(parsed.at(-1)?.msg, 'uncaught exception, exiting', 'the fatal line, last');
  } finally {
    server.child.kill('SIGKILL');
  }
});

test('stdout on a full disk: the server answers, says so on stderr once a second at most, and exits on SIGTERM and after an uncaught exception', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('mounting a tmpfs needs root');
  const disk = join(scratch, 'tiny');
  mkdirSync(disk);
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', disk], { encoding: 'utf8' });
  if (mount.status !== 0) return t.skip(`mount -t tmpfs failed: ${mount.stderr}`);
  try {
    for (const ending of ['SIGTERM', 'uncaught exception'] as const) {
      const file = openSync(join(disk, `${ending}.log`), 'w');
      const server = await spawnServer(file, ['--import', FAULTS]);
      closeSync(file);
      try {
        // 256 KiB hold about 36 access lines of 7 KB: the disk is full well before the end.
        assert.equal(await pipelinedHeads(server.port, 400, 1, 8), 400);
        await new Promise((resolve) => setTimeout(resolve, 200));
        assert.equal(await status(server.port, '/sample.txt'), 200, 'the server answers');
        assert.equal(await status(server.adminPort, '/livez'), 200);
        const failures = server.stderr().match(/logging to stdout failed \(ENOSPC\)/g) ?? [];
        assert.ok(failures.length >= 1 && failures.length <= 3, `the failure is told, once a second at most (${failures.length} times)`);
        if (ending === 'SIGTERM') {
          server.child.kill('SIGTERM');
          assert.equal(await exitWithin(server, 5000), 0, 'exits on SIGTERM');
        } else {
          server.child.kill('SIGUSR2');
          assert.equal(await exitWithin(server, FATAL_GRACE_MS + 3000), FATAL_EXIT_CODE, 'exits after the fault');
          assert.match(server.stderr(), /"level":"fatal".*"msg":"uncaught exception, exiting"/, 'the fatal line reaches stderr');
        }
      } finally {
        server.child.kill('SIGKILL');
        await server.exited;
      }
    }
  } finally {
    spawnSync('umount', [disk]);
  }
});

test('stdout on a disk that filled past the buffer\'s cap: logging resumes once the disk has room', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('mounting a tmpfs needs root');
  const disk = join(scratch, 'refilled');
  mkdirSync(disk);
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', disk], { encoding: 'utf8' });
  if (mount.status !== 0) return t.skip(`mount -t tmpfs failed: ${mount.stderr}`);
  try {
    // Room for a few lines only, until the filler goes.
    const filler = join(disk, 'filler');
    spawnSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k', `count=${8 * 16 - 2}`]);
    const path = join(disk, 'out.log');
    const file = openSync(path, 'w');
    const server = await spawnServer(file);
    closeSync(file);
    try {
      // More than the buffer holds: the lines held reach the cap, and later ones are dropped.
      const requests = Math.ceil((1.5 * LOG_BUFFER_MAX_BYTES) / LONG_TARGET.length);
      assert.equal(await pipelinedHeads(server.port, requests), Math.ceil(requests / 4 / 32) * 4 * 32);
      assert.ok((await droppedLines(server.adminPort)) > 0, 'the buffer filled and lines were dropped');
      const full = readFileSync(path).length;
      rmSync(filler);
      // No new line comes to start a write (and a long one would be dropped at the cap): the held lines go out by themselves.
      for (let tries = 0; tries < 50 && readFileSync(path).length === full; tries++) await new Promise((resolve) => setTimeout(resolve, 100));
      assert.ok(readFileSync(path).length > full, 'the lines held went out once the disk had room');
      // As long as the lines that filled the buffer: held with them, it would pass the cap.
      assert.equal(await status(server.port, `${LONG_TARGET}&after-the-disk-had-room`), 200);
      let written = '';
      for (let tries = 0; tries < 100 && !written.includes('after-the-disk-had-room'); tries++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        written = readFileSync(path, 'latin1');
      }
      assert.ok(written.includes('after-the-disk-had-room'), `a line logged after the disk had room reached it (${written.length} bytes written)`);
      server.child.kill('SIGTERM');
      assert.equal(await exitWithin(server, 5000), 0);
    } finally {
      server.child.kill('SIGKILL');
      await server.exited;
    }
  } finally {
    spawnSync('umount', [disk]);
  }
});

test('stdout closed by its reader (EPIPE): the server goes on serving, says once on stderr that logging stopped, and counts every line lost', async () => {
  const server = await spawnServer('pipe');
  try {
    server.child.stdout!.destroy();
    const answered = await pipelinedHeads(server.port, 200);
    assert.ok(answered >= 200);
    assert.equal(await status(server.port, '/sample.txt'), 200);
    assert.equal(await status(server.adminPort, '/livez'), 200);
    const told = server.stderr().match(/logging to stdout failed: the reader closed it \(EPIPE\)/g) ?? [];
    assert.equal(told.length, 1, `stderr: ${server.stderr()}`);
    // Each request's access line was logged after the reader had gone: held when the write failed, or logged since.
    const dropped = await droppedLines(server.adminPort);
    assert.ok(dropped >= answered + 1, `${dropped} lines counted as dropped, for ${answered + 1} requests`);
    assert.doesNotMatch(server.stderr(), /log lines dropped: stdout is not taking them/, 'no warning of a slow reader: the EPIPE line said it');
    server.child.kill('SIGTERM');
    assert.equal(await exitWithin(server, 5000), 0);
  } finally {
    server.child.kill('SIGKILL');
  }
});

test('an uncaught exception after stdout\'s reader has gone (EPIPE): the fatal line goes to stderr, and the process exits 1', async () => {
  const server = await spawnServer('pipe', ['--import', FAULTS]);
  try {
    server.child.stdout!.destroy();
    await pipelinedHeads(server.port, 100);
    for (let tries = 0; !server.stderr().includes('(EPIPE)'); tries++) {
      assert.ok(tries < 50, `the EPIPE is told on stderr: ${server.stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    server.child.kill('SIGUSR2');
    assert.equal(await exitWithin(server, FATAL_GRACE_MS + 3000), FATAL_EXIT_CODE);
    assert.match(server.stderr(), /"level":"fatal".*"msg":"uncaught exception, exiting"/, 'the fatal line reaches stderr');
  } finally {
    server.child.kill('SIGKILL');
  }
});
