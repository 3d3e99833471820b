#!/usr/bin/env node
// Shows that serving a large file does not grow the server's memory with the file's size:
// creates a 1 GiB sparse file in a temporary document root, starts the built server on it,
// downloads the file over loopback with a deliberately slow reader while sampling the server's
// RSS (VmRSS in /proc/PID/status), and fails if RSS grew by more than 64 MiB.
// Usage: npm run build && node scripts/large-file-rss.mjs [size_mib]   (Linux only: reads /proc)
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const MIB = 1024 * 1024;
const FILE_BYTES = Number(process.argv[2] ?? 1024) * MIB;
const LIMIT_BYTES = 64 * MIB;
const SAMPLE_MS = 20;
/** The reader pauses this long after every READ_BURST bytes: slower than the disk, so the server must wait. */
const READ_BURST = 4 * MIB;
const PAUSE_MS = 10;
const MAIN = fileURLToPath(new URL('../dist/src/main.js', import.meta.url));

function rss(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  if (match === null) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** Starts the server on an ephemeral port; resolves with the child and its port. */
function startServer(root) {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', ADMIN_PORT: '0', RESOURCES_DIR: root, UPLOADS_DIR: join(root, 'uploads'), LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before listening`)));
    // The start line names the ephemeral port the system chose.
    createInterface({ input: child.stdout }).on('line', (text) => {
      let line;
      try {
        line = JSON.parse(text);
      } catch {
        return;
      }
      if (typeof line.msg === 'string' && line.msg.startsWith('listening on')) {
        resolve({ child, port: Number(String(line.address).split(':').pop()) });
      }
    });
  });
}

/** GETs `path` with Connection: close and counts the body, reading slowly. */
function slowDownload(port, path) {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' }, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
    });
    let head = Buffer.alloc(0);
    let status = 0;
    let bodyBytes = 0;
    let sincePause = 0;
    const onBody = (chunk) => {
      bodyBytes += chunk.length;
      sincePause += chunk.length;
      if (sincePause >= READ_BURST) {
        sincePause = 0;
        socket.pause();
        setTimeout(() => socket.resume(), PAUSE_MS);
      }
    };
    socket.on('data', (chunk) => {
      if (status !== 0) return onBody(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      status = Number(head.toString('latin1', 0, end).split(' ')[1]);
      onBody(head.subarray(end + 4));
    });
    socket.on('error', reject);
    socket.on('close', () => resolve({ status, bodyBytes }));
  });
}

const root = mkdtempSync(join(tmpdir(), 'rawhttp-rss-'));
let server;
try {
  // Sparse: no disk space used, but every byte is read and sent.
  writeFileSync(join(root, 'big.png'), '');
  truncateSync(join(root, 'big.png'), FILE_BYTES);
  writeFileSync(join(root, 'index.html'), '<!DOCTYPE html><title>rss</title>\n');
  server = await startServer(root);
  const { child, port } = server;
  await slowDownload(port, '/index.html'); // warm up: the baseline includes a served request
  const baseline = rss(child.pid);
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, rss(child.pid))), SAMPLE_MS);
  const startedAt = performance.now();
  const { status, bodyBytes } = await slowDownload(port, '/big.png');
  clearInterval(sampler);
  peak = Math.max(peak, rss(child.pid));
  const seconds = (performance.now() - startedAt) / 1000;
  const growth = peak - baseline;
  const mib = (bytes) => (bytes / MIB).toFixed(1);
  console.log(`downloaded ${mib(bodyBytes)} MiB (status ${status}) in ${seconds.toFixed(1)} s`);
  console.log(`server RSS: baseline ${mib(baseline)} MiB, peak ${mib(peak)} MiB, increase ${mib(growth)} MiB (limit ${mib(LIMIT_BYTES)} MiB)`);
  if (status !== 200 || bodyBytes !== FILE_BYTES) {
    console.error(`FAIL: expected status 200 and ${FILE_BYTES} bytes`);
    process.exitCode = 1;
  } else if (growth > LIMIT_BYTES) {
    console.error('FAIL: RSS grew by more than the limit');
    process.exitCode = 1;
  } else {
    console.log('PASS');
  }
} finally {
  server?.child.kill('SIGTERM');
  rmSync(root, { recursive: true, force: true });
}
