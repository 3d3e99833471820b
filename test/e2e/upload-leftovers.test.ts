// The temporaries of uploads whose worker stopped, on a real server: each is removed as soon as
// its worker has stopped, whatever other uploads are doing (src/upload-leftovers.ts). A preload
// (test/fixtures/marked-upload-faults.ts) holds or ends a worker in the fsync of a marked upload.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { metric, waitFor } from '../fixtures/probes.js';
import { releaseFifo } from '../helpers/fifo.js';
import { startHeldServer, type HeldServer } from '../helpers/held-server.js';
import { request, type RawResponse } from '../helpers/raw.js';

const REMOVED = 'removed the temporary of an upload whose worker stopped';

const startFaultyServer = (env: Record<string, string>): Promise<HeldServer> => startHeldServer('marked-upload-faults', 'MARKED_FAULTS_FIFO', { UPLOAD_RATE_PER_MINUTE: '0', ...env });

const uploadBytes = (port: number, body: string): string => `POST /upload HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
const upload = (port: number, body: string): Promise<RawResponse> => request(port, uploadBytes(port, body), 30_000);
const temporariesIn = (dir: string): string[] => readdirSync(dir).filter((name) => name.startsWith('.upload-'));
const documentsIn = (dir: string): string[] => readdirSync(dir).filter((name) => name.endsWith('.json'));

test('a worker stuck in a system call does not delay the removal of a crashed worker\'s temporary, and uploads keep flowing', async () => {
  const { server, fifo, end } = await startFaultyServer({ MAX_THREADS: '2', JOB_TIMEOUT_MS: '2000' });
  try {
    const held = upload(server.port, '{"hold-in-fsync":true}');
    await waitFor(() => temporariesIn(server.uploadsDir).length === 1, 'the held upload\'s temporary', 5000);
    const [heldTemporary] = temporariesIn(server.uploadsDir);
    // The other worker writes its temporary and dies at its fsync, while the first stays stuck.
    assert.equal((await upload(server.port, '{"die-in-fsync":true}')).status, 500);
    const removal = await server.waitForLog((line) => line.msg === REMOVED, 3000);
    assert.notEqual(removal.file, heldTemporary);
    assert.deepEqual(temporariesIn(server.uploadsDir), [heldTemporary]);
    // The job timeout gives up on the stuck worker, which cannot exit: its upload is answered
    // and its temporary removed all the same, and the other worker stores on.
    assert.equal((await held).status, 500);
    await waitFor(() => temporariesIn(server.uploadsDir).length === 0, 'the held upload\'s temporary removed', 3000);
    for (let n = 0; n < 5; n++) assert.equal((await upload(server.port, `{"n":${n}}`)).status, 201);
    assert.deepEqual(temporariesIn(server.uploadsDir), []);
    await waitFor(() => releaseFifo(fifo), 'the worker blocked in fsync', 2000);
    assert.equal(documentsIn(server.uploadsDir).length, 5);
  } finally {
    await end();
  }
});

test('a batch whose second upload kills its worker: the linked first keeps its document and is named in its answer, and both temporaries go', async () => {
  const { server, fifo, end } = await startFaultyServer({ MAX_THREADS: '1' });
  try {
    // The one worker is held while the next two queue, so they reach it together, in one batch.
    const first = upload(server.port, '{"hold-in-fsync":true}');
    await waitFor(() => temporariesIn(server.uploadsDir).length === 1, 'the held upload\'s temporary', 5000);
    const linked = upload(server.port, '{"linked":true}');
    await waitFor(async () => (await metric(server.adminPort, 'http_server_queue_depth')) === 1, 'the second upload queued', 5000);
    const dying = upload(server.port, '{"die-in-fsync":true}');
    await waitFor(async () => (await metric(server.adminPort, 'http_server_queue_depth')) === 2, 'the third upload queued', 5000);
    await waitFor(() => releaseFifo(fifo), 'the worker held in fsync', 2000);
    assert.equal((await first).status, 201);
    // Linked, its temporary not yet removed (that waits for the batch's folder fsync), when the worker died.
    const answer = await linked;
    assert.equal(answer.status, 500);
    const { message, filepath } = JSON.parse(answer.body.toString()) as { message: string; filepath: string };
    assert.equal(message, 'stored but not confirmed durable');
    assert.equal(readFileSync(join(server.uploadsDir, filepath.replace(/^\/uploads\//, '')), 'utf8'), '{"linked":true}');
    assert.equal((await dying).status, 500);
    await waitFor(() => temporariesIn(server.uploadsDir).length === 0, 'both temporaries of the batch removed', 3000);
    assert.equal(documentsIn(server.uploadsDir).length, 2);
    await waitFor(() => server.logs.filter((line) => line.msg === REMOVED).length === 2, 'two removals logged', 3000);
  } finally {
    await end();
  }
});

test('a stopped upload\'s temporary is removed from the folder the workers write to, though UPLOADS_DIR, a link, now leads elsewhere', async () => {
  const base = mkdtempSync(join(tmpdir(), 'rawhttp-linked-uploads-'));
  const [first, second, link] = ['first', 'second', 'uploads'].map((name) => join(base, name)) as [string, string, string];
  mkdirSync(first);
  mkdirSync(second);
  symlinkSync(first, link);
  const { server, end } = await startFaultyServer({ MAX_THREADS: '1', UPLOADS_DIR: link });
  try {
    // Re-pointed while the server runs: the workers keep writing to the folder resolved at start.
    symlinkSync(second, join(base, 'next'));
    renameSync(join(base, 'next'), link);
    assert.equal((await upload(server.port, '{"die-in-fsync":true}')).status, 500);
    const removal = await server.waitForLog((line) => line.msg === REMOVED, 3000);
    assert.ok(String(removal.file).startsWith('.upload-'));
    assert.deepEqual(temporariesIn(first), []);
    assert.deepEqual(readdirSync(second), []);
    // An upload that completes is stored there too, and served.
    const stored = await upload(server.port, '{"kept":true}');
    assert.equal(stored.status, 201);
    const { filepath } = JSON.parse(stored.body.toString()) as { filepath: string };
    assert.deepEqual(documentsIn(first), [filepath.replace(/^\/uploads\//, '')]);
    const served = await request(server.port, `GET ${filepath} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nConnection: close\r\n\r\n`);
    assert.equal(served.status, 200);
    assert.equal(served.body.toString(), '{"kept":true}');
  } finally {
    await end();
    rmSync(base, { recursive: true, force: true });
  }
});
