// A worker thread stuck in a system call, as one storing an upload on a hung NFS mount is: the
// job timeout terminates it, but the thread exits only when the call returns. A preload
// (test/fixtures/hung-fsync.ts) holds every fsync of the workers until the test lets it go.
import assert from 'node:assert/strict';
import { readdirSync, realpathSync } from 'node:fs';
import { test } from 'node:test';
import { STOP_GRACE_MS } from '../../src/shutdown.js';
import { metric, openFilesIn, waitFor } from '../fixtures/probes.js';
import { releaseFifo } from '../helpers/fifo.js';
import { startHeldServer, type HeldServer } from '../helpers/held-server.js';
import { request, type RawResponse } from '../helpers/raw.js';
import type { StartedServer } from '../helpers/server.js';

/** One worker whose fsyncs hang until the FIFO is released. */
const startStuckServer = (env: Record<string, string>): Promise<HeldServer> => startHeldServer('hung-fsync', 'HUNG_FSYNC_FIFO', { MAX_THREADS: '1', ...env });

function upload(port: number): Promise<RawResponse> {
  const body = '{"stuck":true}';
  return request(port, `POST /upload HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`, 30_000);
}

const temporariesIn = (dir: string): string[] => readdirSync(dir).filter((name) => name.startsWith('.upload-'));

/** Sends an upload and resolves once its worker has written the temporary and is held in its fsync. */
async function uploadHeldInFsync(server: StartedServer): Promise<{ answer: Promise<RawResponse> }> {
  const answer = upload(server.port);
  await waitFor(() => temporariesIn(server.uploadsDir).length === 1, 'the upload temporary', 5000);
  return { answer };
}

async function readiness(adminPort: number): Promise<{ status: number; body: { reason?: string } }> {
  const response = await fetch(`http://127.0.0.1:${adminPort}/readyz`);
  return { status: response.status, body: (await response.json()) as { reason?: string } };
}

test('a worker terminated at the job timeout but stuck in fsync makes /readyz 503 until its replacement is online', async () => {
  const { server, fifo, end } = await startStuckServer({ JOB_TIMEOUT_MS: '500' });
  try {
    assert.equal((await readiness(server.adminPort)).status, 200);
    const answer = upload(server.port);
    await server.waitForLog((line) => line.msg === 'worker 1 held a job past the job timeout, terminating it');
    assert.deepEqual(await readiness(server.adminPort), { status: 503, body: { status: 'not ready', reason: 'worker pool degraded: 0/1 workers alive' } });
    assert.equal(await metric(server.adminPort, 'http_server_workers'), 0);
    // Answered at the timeout, while the thread is still stuck.
    assert.equal((await answer).status, 500);
    await waitFor(() => releaseFifo(fifo), 'the worker blocked in fsync', 2000);
    await server.waitForLog((line) => line.msg === 'worker 1 replaced');
    assert.equal((await readiness(server.adminPort)).status, 200);
    assert.equal(await metric(server.adminPort, 'http_server_workers'), 1);
  } finally {
    await end();
  }
});

test('a shutdown whose worker is stuck in fsync completes within its bound: the cut upload gives exit code 1, a warning says the workers did not stop', async () => {
  const SHUTDOWN_TIMEOUT_MS = 500;
  const { server, fifo, end } = await startStuckServer({ SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS) });
  try {
    // Its connection is cut: no answer comes.
    const { answer } = await uploadHeldInFsync(server);
    void answer.catch(() => undefined);
    const signalled = Date.now();
    server.process.kill('SIGTERM');
    // The drain times out on the held upload, then the workers get their grace.
    const complete = await server.waitForLog((line) => line.msg === 'shutdown complete', SHUTDOWN_TIMEOUT_MS + 2 * STOP_GRACE_MS + 3000);
    assert.ok(Date.now() - signalled < SHUTDOWN_TIMEOUT_MS + 2 * STOP_GRACE_MS + 1000, `shutdown took ${Date.now() - signalled} ms`);
    assert.equal(complete.exitCode, 1);
    const warning = await server.waitForLog((line) => String(line.msg).startsWith('shutdown: workers not stopped within the grace'));
    assert.equal(warning.level, 'warn');
    // Node.js joins every thread before the process ends: it does once the fsync returns.
    await waitFor(() => releaseFifo(fifo), 'the worker blocked in fsync', 2000);
    assert.equal(await server.exited, 1);
  } finally {
    await end();
  }
});

test('an upload whose worker the job timeout gave up on gets its 500 and loses its temporary at the timeout, with the thread still stuck', async () => {
  const { server, fifo, end } = await startStuckServer({ JOB_TIMEOUT_MS: '500' });
  try {
    const { answer } = await uploadHeldInFsync(server);
    const askedAt = Date.now();
    // Before, the answer and the removal waited for the thread to exit: here, for ever.
    const response = await answer;
    assert.equal(response.status, 500);
    assert.match(response.body.toString(), /may/);
    assert.ok(Date.now() - askedAt < 5000, `answered after ${Date.now() - askedAt} ms`);
    await waitFor(() => temporariesIn(server.uploadsDir).length === 0, 'the temporary removed', 2000);
    await server.waitForLog((line) => line.msg === 'removed the temporary of an upload whose worker stopped');
    assert.equal(releaseFifo(fifo), true, 'the thread was still stuck');
  } finally {
    await end();
  }
});

test('a shutdown that cut an upload leaves no temporary, even with the worker still stuck in fsync', async () => {
  const { server, fifo, end } = await startStuckServer({ SHUTDOWN_TIMEOUT_MS: '500' });
  try {
    const { answer } = await uploadHeldInFsync(server);
    void answer.catch(() => undefined);
    server.process.kill('SIGTERM');
    await server.waitForLog((line) => line.msg === 'shutdown complete', 10_000);
    assert.deepEqual(temporariesIn(server.uploadsDir), []);
    await waitFor(() => releaseFifo(fifo), 'the worker blocked in fsync', 2000);
    assert.equal(await server.exited, 1);
  } finally {
    await end();
  }
});

test('a worker stopped at the job timeout in the fsync of its temporary leaves nothing open once its thread exits, not even the temporary it removed', async () => {
  const { server, fifo, end } = await startStuckServer({ JOB_TIMEOUT_MS: '500' });
  try {
    const pid = server.process.pid!;
    const uploads = realpathSync(server.uploadsDir);
    const { answer } = await uploadHeldInFsync(server);
    assert.equal((await answer).status, 500);
    await waitFor(() => temporariesIn(server.uploadsDir).length === 0, 'the temporary removed', 2000);
    // Open while the thread is stuck: it may still be in a call on the descriptor.
    assert.match(openFilesIn(pid, uploads).join(), /\.upload-.*\.tmp \(deleted\)$/);
    await waitFor(() => releaseFifo(fifo), 'the worker blocked in fsync', 2000);
    await server.waitForLog((line) => line.msg === 'worker 1 replaced');
    assert.deepEqual(openFilesIn(pid, uploads), []);
  } finally {
    await end();
  }
});

test('a worker stopped at the job timeout in the fsync of the uploads folder leaves the folder closed once its thread exits', async () => {
  const { server, fifo, end } = await startStuckServer({ JOB_TIMEOUT_MS: '500', HUNG_FSYNC_FOLDERS_ONLY: '1' });
  try {
    const pid = server.process.pid!;
    const uploads = realpathSync(server.uploadsDir);
    const response = await upload(server.port);
    // Linked before the folder fsync: the answer names the document.
    assert.equal(response.status, 500);
    assert.match(response.body.toString(), /upload_/);
    assert.deepEqual(openFilesIn(pid, uploads), [uploads]);
    await waitFor(() => releaseFifo(fifo), 'the worker blocked in the folder fsync', 2000);
    await server.waitForLog((line) => line.msg === 'worker 1 replaced');
    assert.deepEqual(openFilesIn(pid, uploads), []);
  } finally {
    await end();
  }
});
