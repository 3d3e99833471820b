// Starts the real server (dist/src/main.js) as a child process on ephemeral ports and reads
// its JSON log lines, so end-to-end tests talk to exactly what users run.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const RESOURCES_DIR = join(REPO_ROOT, 'resources');
const MAIN = join(REPO_ROOT, 'dist', 'src', 'main.js');

/** The node flags of the image's command (the Dockerfile's CMD), as the benchmark reads them. */
export async function imageNodeFlags(): Promise<string[]> {
  const servers = pathToFileURL(join(REPO_ROOT, 'bench', 'lib', 'servers.mjs')).href;
  const { imageNodeFlags: read } = (await import(servers)) as { imageNodeFlags: (root: string) => string[] };
  return read(REPO_ROOT);
}

/**
 * For tests that load the server from one address (127.0.0.1): the per-client limits out of
 * the way, the upload rate off and connections as many as MAX_CONNECTIONS allows.
 * test/e2e/client-limits.test.ts tests those limits.
 */
export const ONE_CLIENT_LOAD = { UPLOAD_RATE_PER_MINUTE: '0', MAX_CONNECTIONS_PER_CLIENT: '65536', MAX_BODY_MEMORY_PER_CLIENT_BYTES: String(2 ** 40) } as const;

export type LogLine = Record<string, unknown> & { msg?: string; level?: string };

export interface StartedServer {
  readonly port: number;
  readonly adminPort: number;
  readonly uploadsDir: string;
  readonly process: ChildProcess;
  /** Every JSON log line so far. */
  readonly logs: LogLine[];
  /** Resolves with the first log line (past or future) that matches. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  readonly exited: Promise<number | null>;
}

export interface StartOptions {
  readonly env?: Record<string, string>;
  readonly args?: readonly string[];
  /** Options for node itself, before the entry (e.g. `--import` of a test fixture). */
  readonly nodeArgs?: readonly string[];
  /** Keep uploads in this folder instead of a fresh temporary one. */
  readonly uploadsDir?: string;
  /** A command that runs `node main.js ...` given as its last arguments (a sandbox). */
  readonly launcher?: readonly string[];
}

/**
 * The JSON log line in one line of the server's stdout, if there is one. V8's GC trace
 * (`--trace-gc-nvp`) writes a worker's `[pid:isolate:id]  N ms: ` prefix and the rest of its
 * line in two calls, so a log line of the main thread can land between them, on the prefix's line.
 */
export function logLineIn(text: string): LogLine | undefined {
  const start = text.indexOf('{');
  if (start === -1) return undefined;
  try {
    return JSON.parse(text.slice(start)) as LogLine;
  } catch {
    return undefined;
  }
}

export async function startServer(options: StartOptions = {}): Promise<StartedServer> {
  const ownUploads = options.uploadsDir === undefined;
  const uploadsDir = options.uploadsDir ?? mkdtempSync(join(tmpdir(), 'rawhttp-uploads-'));
  const [command, ...argv] = [...(options.launcher ?? []), process.execPath, ...(options.nodeArgs ?? []), MAIN, ...(options.args ?? [])];
  const child = spawn(command!, argv, {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      ADMIN_PORT: '0',
      RESOURCES_DIR: RESOURCES_DIR,
      UPLOADS_DIR: uploadsDir,
      LOG_LEVEL: 'info',
      POOL_STATUS_INTERVAL_MS: '0',
      // The disk guard would refuse uploads on a machine with little free disk; its own test sets it.
      MIN_FREE_DISK_BYTES: '0',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  const waiters: { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout! }).on('line', (text) => {
    const line = logLineIn(text);
    if (line === undefined) return;
    logs.push(line);
    for (const waiter of [...waiters]) {
      if (waiter.match(line)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  exited.then(() => {
    if (ownUploads) rmSync(uploadsDir, { recursive: true, force: true });
  });

  const waitForLog = (match: (line: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> => {
    const seen = logs.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`log line not seen in ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
      waiters.push({
        match,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
    });
  };

  const started = await Promise.race([
    waitForLog((line) => typeof line.msg === 'string' && line.msg.startsWith('listening on')),
    exited.then((code) => {
      throw new Error(`server exited with ${code} before listening: ${stderr}`);
    }),
  ]).catch((error: unknown) => {
    // A server that never came up must not outlive the test that started it.
    child.kill('SIGKILL');
    throw error;
  });
  const portOf = (address: unknown): number => Number(String(address).split(':').pop());
  return {
    port: portOf(started.address),
    adminPort: portOf(started.admin),
    uploadsDir,
    process: child,
    logs,
    waitForLog,
    exited,
    stop: (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs the server to completion (for configuration errors); returns code and output. `launcher`: as in StartOptions. */
export function runServer(args: readonly string[], env: Record<string, string> = {}, launcher: readonly string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const [command, ...argv] = [...launcher, process.execPath, MAIN, ...args];
    const child = spawn(command!, argv, {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', RESOURCES_DIR, PORT: '0', ADMIN_PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
