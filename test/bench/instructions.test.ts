// The instruction counter (`npm run bench:instructions`) is not run by CI in full. This runs
// it briefly on ours and the bare `Connection: close` peer under valgrind, which checks the
// whole chain: the servers start under callgrind, the control commands reach them (ours runs
// with its own HOST, which names valgrind's pipes), and each thread's dump is read.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { skipWithout } from '../helpers/tools.js';

// dist/test/bench/ -> the repository.
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

test('the instruction counter counts ours and the bare peer per exchange', { timeout: 240_000, skip: skipWithout(['valgrind', 'callgrind_control'], 'valgrind') }, () => {
  const run = spawnSync(process.execPath, ['bench/instructions.mjs', '--modes', 'close', '--warmup', '20', '--count', '20'], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, MAX_THREADS: '1' },
  });
  assert.equal(run.status, 0, run.stderr);
  const rows = new Map([...run.stdout.matchAll(/^\| close \| (\S+) \| ([\d.]+)k \| ([\d.]+)k \| ([\d.]+) \|$/gm)].map((m) => [m[1], m.slice(2).map(Number)]));
  assert.deepEqual([...rows.keys()], ['ours', 'net-close'], run.stdout);
  const [oursMain, oursAll, oursRatio] = rows.get('ours') ?? [];
  const [peerMain, , peerRatio] = rows.get('net-close') ?? [];
  assert.equal(peerRatio, 1);
  // A connection costs any Node.js server tens of thousands of instructions; ours parses,
  // routes and answers on top of what the bare peer does, and its workers add to all threads.
  assert.ok(peerMain > 10, `bare peer: ${peerMain}k instructions per exchange`);
  assert.ok(oursMain > peerMain && oursRatio > 1, `ours ${oursMain}k against the peer's ${peerMain}k`);
  assert.ok(oursAll >= oursMain);
});
