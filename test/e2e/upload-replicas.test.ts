// Several servers on one uploads folder, as replicas sharing a volume: a server that starts
// removes, once it listens, only temporaries that are provably abandoned (its own, its host's whose process is
// gone, or older than any upload in progress can be) and never another live replica's; replicas starting together over the
// same leftovers all start.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { request } from '../helpers/raw.js';
import { REPO_ROOT, startServer, type StartedServer } from '../helpers/server.js';

const JOB_TIMEOUT_MS = 2000;
const DATA_JSON = readFileSync(join(REPO_ROOT, 'data.json'));
const HOUR_AGO = (Date.now() - 3600_000) / 1000;

function temporary(dir: string, name: string, ageSeconds?: number): string {
  writeFileSync(join(dir, name), '{"half":');
  if (ageSeconds !== undefined) utimesSync(join(dir, name), ageSeconds, ageSeconds);
  return name;
}

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

async function upload(server: StartedServer): Promise<number> {
  const head = `POST /upload HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Type: application/json\r\nContent-Length: ${DATA_JSON.length}\r\n\r\n`;
  return (await request(server.port, Buffer.concat([Buffer.from(head, 'latin1'), DATA_JSON]))).status;
}

test("a starting replica keeps another replica's fresh temporaries and removes only abandoned ones", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rawhttp-shared-'));
  const servers: StartedServer[] = [];
  const env = { JOB_TIMEOUT_MS: String(JOB_TIMEOUT_MS) };
  try {
    servers.push(await startServer({ uploadsDir: dir, env }));
    // Its sweep, of the empty folder, is over before the files below appear.
    await servers[0]!.waitForLog((line) => line.msg === 'stale upload temporaries swept');
    // Uploads in progress on other replicas (this format, and the one before names had owners).
    const live = [temporary(dir, `.upload-other-pod-7d9f-42-${hex(12)}.tmp`), temporary(dir, `.upload-${hex(12)}.tmp`)];
    // Left by replicas that died an hour ago.
    const abandoned = [temporary(dir, `.upload-other-pod-7d9f-43-${hex(12)}.tmp`, HOUR_AGO), temporary(dir, `.upload-${hex(12)}.tmp`, HOUR_AGO)];
    const second = await startServer({ uploadsDir: dir, env });
    servers.push(second);
    await second.waitForLog((line) => line.msg === 'stale upload temporaries swept');
    assert.deepEqual(readdirSync(dir).sort(), [...live].sort());
    for (const name of abandoned) await second.waitForLog((line) => line.msg === 'removed a stale upload temporary' && line.file === name);
    for (const server of servers) assert.equal(await upload(server), 201);
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a fresh temporary of this host whose process is gone is removed at once; one that cannot be removed is logged and left", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rawhttp-shared-'));
  // A server that ran here and stopped: restarted outside a container, the new one has a new pid.
  const gone = spawnSync(process.execPath, ['-e', '']).pid;
  const ofGoneProcess = temporary(dir, `.upload-${hostname()}-${gone}-${hex(12)}.tmp`);
  const ofLiveProcess = temporary(dir, `.upload-${hostname()}-${process.pid}-${hex(12)}.tmp`);
  // What cannot be unlinked (here a folder; in a shared folder, another user's file).
  const stuck = `.upload-${hex(12)}.tmp`;
  mkdirSync(join(dir, stuck, 'inside'), { recursive: true });
  utimesSync(join(dir, stuck), HOUR_AGO, HOUR_AGO);
  let server: StartedServer | null = null;
  try {
    server = await startServer({ uploadsDir: dir, env: { JOB_TIMEOUT_MS: String(JOB_TIMEOUT_MS) } });
    await server.waitForLog((line) => line.msg === 'stale upload temporaries swept');
    await server.waitForLog((line) => line.msg === 'removed a stale upload temporary' && line.file === ofGoneProcess);
    const left = await server.waitForLog((line) => line.msg === 'cannot remove a stale upload temporary; left in place');
    assert.equal(left.file, stuck);
    assert.equal(left.level, 'warn');
    assert.deepEqual(readdirSync(dir).sort(), [ofLiveProcess, stuck].sort());
    assert.equal(await upload(server), 201);
  } finally {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('replicas starting together over the same abandoned temporaries all start and remove them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rawhttp-shared-'));
  for (let i = 0; i < 1000; i++) temporary(dir, `.upload-gone-${i}-${hex(12)}.tmp`, HOUR_AGO);
  const started = await Promise.allSettled([1, 2, 3].map(() => startServer({ uploadsDir: dir, env: { JOB_TIMEOUT_MS: String(JOB_TIMEOUT_MS) } })));
  try {
    // Each removes what the others have not removed yet; one that finds a file gone carries on.
    assert.deepEqual(started.map((result) => (result.status === 'rejected' ? String(result.reason) : 'started')), ['started', 'started', 'started']);
    for (const result of started) if (result.status === 'fulfilled') await result.value.waitForLog((line) => line.msg === 'stale upload temporaries swept');
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    await Promise.all(started.map((result) => (result.status === 'fulfilled' ? result.value.stop() : null)));
    rmSync(dir, { recursive: true, force: true });
  }
});
