// The memory bound at start: the start line carries README's bound for the settings and the
// process's memory limit, and a limit below the bound is warned about before the workers
// start. Tests cannot give the server a cgroup limit: a preload makes Node.js report one
// (test/fixtures/memory-limit.ts).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../../src/config.js';
import { memoryBound, memoryLimit, memoryLimitWarning } from '../../src/memory-bound.js';
import { get, request } from '../helpers/raw.js';
import { REPO_ROOT, RESOURCES_DIR, startServer, type LogLine } from '../helpers/server.js';

const FIXTURE = pathToFileURL(join(REPO_ROOT, 'dist', 'test', 'fixtures', 'memory-limit.js')).href;
const MiB = 1024 * 1024;
const isStart = (line: LogLine): boolean => typeof line.msg === 'string' && line.msg.startsWith('listening on');
const isMemoryWarning = (line: LogLine): boolean => typeof line.msg === 'string' && line.msg.startsWith('the memory limit');

test("the start line carries README's memory bound for the settings, and the memory limit if the process has one", async () => {
  const env = { MAX_THREADS: '2', MAX_CONNECTIONS: '100', MAX_BODY_MEMORY_BYTES: String(8 * 1024 * 1024) };
  const server = await startServer({ env });
  try {
    const line = await server.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('listening on'));
    const config = loadConfig([], { RESOURCES_DIR, ...env });
    assert.equal(line.memoryBoundBytes, memoryBound(config).total);
    assert.equal(line.memoryBoundBytes, 362_816 * 1024, '80 + 2 x 11 MiB at rest, 9 MiB of bodies, 16 of cache, 100 x 464 KiB, 100 + 66 + 8 MiB, 8 MiB of log lines');
    // Tests cannot give the server a cgroup limit: it has this process's (none, outside a container).
    assert.equal(line.memoryLimitBytes, memoryLimit(process.constrainedMemory()));
    const warned = server.logs.some((l) => String(l.msg).startsWith('the memory limit'));
    assert.equal(warned, memoryLimitWarning(memoryLimit(process.constrainedMemory()), config, memoryBound(config)) !== null);
  } finally {
    await server.stop();
  }
});

/** Starts the server as if its container's memory limit were `limitMiB`; returns its start line, its warnings, and whether it serves. */
async function startUnder(limitMiB: number, env: Record<string, string> = {}): Promise<{ started: LogLine; warnings: LogLine[]; status: number }> {
  const server = await startServer({ nodeArgs: ['--import', FIXTURE], env: { MEMORY_LIMIT_BYTES: String(limitMiB * MiB), ...env } });
  try {
    const started = await server.waitForLog(isStart);
    const warnings = server.logs.filter(isMemoryWarning);
    // Before the workers start: past a limit below what they hold, the kernel may kill it while they do.
    for (const warning of warnings) assert.ok(server.logs.indexOf(warning) < server.logs.indexOf(started), 'warned before the start line');
    const status = (await request(server.port, get('/', server.port))).status;
    return { started, warnings, status };
  } finally {
    await server.stop();
  }
}

test('a memory limit below the bound: one warning naming the limit, the bound and what lowers it; the server still starts', async () => {
  const { started, warnings, status } = await startUnder(512);
  assert.equal(started.memoryLimitBytes, 512 * MiB);
  assert.equal(started.memoryBoundBytes, 917 * MiB, 'the defaults');
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]!.level, 'warn');
  assert.deepEqual([warnings[0]!.memoryLimitBytes, warnings[0]!.memoryBoundBytes], [512 * MiB, 917 * MiB]);
  assert.match(String(warnings[0]!.msg), /^the memory limit \(512 MiB\) is below the server's memory bound for these settings \(917 MiB.*MAX_CONNECTIONS=1024.*MAX_THREADS=10.*MAX_BODY_MEMORY_BYTES/);
  assert.equal(status, 200);
});

test('a memory limit below what the server holds at rest: the stronger warning, naming MAX_THREADS', async () => {
  const { warnings } = await startUnder(128);
  assert.equal(warnings.length, 1);
  assert.match(String(warnings[0]!.msg), /^the memory limit \(128 MiB\) is below what the server holds at rest with MAX_THREADS=10 \(about 190 MiB.*killed for memory \(OOM\)/);
});

test('a memory limit at or above the bound: no warning', async () => {
  const { started, warnings } = await startUnder(1024, { MAX_THREADS: '2' });
  assert.equal(started.memoryLimitBytes, 1024 * MiB);
  assert.deepEqual(warnings, []);
});
