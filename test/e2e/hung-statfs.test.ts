// The uploads file system hangs (an NFS server gone): statfs(2) of it never returns. A scrape
// must still answer at once, with no figure for the disk gauges once the read has hung, and the
// public port and the probes must answer meanwhile. A preload (test/fixtures/hung-statfs.ts)
// holds every statfs of the uploads folder on the main thread while its FIFO exists.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statfsSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { HUNG_AFTER_MS } from '../../src/uploads-disk.js';
import { waitFor } from '../fixtures/probes.js';
import { makeFifo, releaseFifo } from '../helpers/fifo.js';
import { get, request } from '../helpers/raw.js';
import { REPO_ROOT, startServer } from '../helpers/server.js';

const HUNG_STATFS = pathToFileURL(join(REPO_ROOT, 'dist', 'test', 'fixtures', 'hung-statfs.js')).href;

/** Longest a request to a server whose main thread is free may take on this shared machine. */
const PROMPT_MS = 2000;

interface DiskGauges {
  readonly free: number;
  readonly size: number;
}

/** One scrape, which must answer within PROMPT_MS: the two uploads gauges. */
async function diskGauges(adminPort: number): Promise<DiskGauges> {
  const response = await fetch(`http://127.0.0.1:${adminPort}/metrics`, { signal: AbortSignal.timeout(PROMPT_MS) });
  assert.equal(response.status, 200);
  const text = await response.text();
  const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
  return { free: value('http_server_uploads_free_bytes'), size: value('http_server_uploads_size_bytes') };
}

/** The public port and the liveness probe answer. */
async function stillServing(port: number, adminPort: number): Promise<void> {
  assert.equal((await request(port, get('/about.html', port), PROMPT_MS)).status, 200);
  assert.equal((await fetch(`http://127.0.0.1:${adminPort}/livez`, { signal: AbortSignal.timeout(PROMPT_MS) })).status, 200);
}

test('a hung uploads file system: /metrics, the public port and /livez answer; the disk gauges are NaN until statfs returns', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'rawhttp-hung-statfs-'));
  const uploadsDir = join(folder, 'uploads');
  mkdirSync(uploadsDir);
  const fifo = join(folder, 'hold.fifo');
  const server = await startServer({ uploadsDir, nodeArgs: ['--import', HUNG_STATFS], env: { HUNG_STATFS_DIR: uploadsDir, HUNG_STATFS_FIFO: fifo } });
  const sizeBytes = (): number => {
    const stats = statfsSync(uploadsDir);
    return stats.blocks * stats.bsize;
  };
  try {
    const before = await diskGauges(server.adminPort);
    assert.equal(before.size, sizeBytes());
    assert.ok(before.free > 0);

    // From now on statfs of the uploads folder hangs. This scrape starts a read that hangs,
    // and answers with the figure of the read the one before started.
    const hungSince = Date.now();
    assert.equal(makeFifo(folder), fifo);
    const held = await diskGauges(server.adminPort);
    assert.equal(held.size, before.size);
    assert.ok(held.free > 0);
    await stillServing(server.port, server.adminPort);

    // Once the read has been pending HUNG_AFTER_MS, no figure; every scrape still answers.
    await waitFor(async () => Number.isNaN((await diskGauges(server.adminPort)).free), 'the free bytes gauge NaN', HUNG_AFTER_MS + 5000);
    assert.ok(Date.now() - hungSince >= HUNG_AFTER_MS - 100, 'no NaN before the read counts as hung');
    assert.ok(Number.isNaN((await diskGauges(server.adminPort)).size));
    await stillServing(server.port, server.adminPort);

    // One read hung, the one the first scrape started: let it go, and stop hanging.
    assert.ok(releaseFifo(fifo), 'a statfs was held in the FIFO');
    unlinkSync(fifo);
    await waitFor(async () => (await diskGauges(server.adminPort)).size === sizeBytes(), 'the gauges read again', 5000);
    assert.ok((await diskGauges(server.adminPort)).free > 0);
  } finally {
    // Without the fix statfsSync holds the main thread: let every held call go until it stops.
    const releasing = setInterval(() => existsSync(fifo) && releaseFifo(fifo), 20);
    await server.stop();
    clearInterval(releasing);
    rmSync(folder, { recursive: true, force: true });
  }
});
