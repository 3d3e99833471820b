// A worker thread stuck in a system call, as one storing an upload on a hung NFS mount is: the
// job timeout terminates it, but the thread exits only when the call returns. A preload
// (test/fixtures/hung-fsync.ts) holds every fsync of the workers until the test lets it go.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { metric, waitFor } from '../fixtures/probes.js';
import { makeFifo, releaseFifo } from '../helpers/fifo.js';
import { request, type RawResponse } from '../helpers/raw.js';
import { REPO_ROOT, startServer, type StartedServer } from '../helpers/server.js';

const HUNG_FSYNC = pathToFileURL(join(REPO_ROOT, 'dist', 'test', 'fixtures', 'hung-fsync.js')).href;

interface StuckSetup {
  readonly server: StartedServer;
  readonly fifo: string;
  /** Lets the stuck threads go, stops the server, removes the FIFO. */
  end(): Promise<void>;
}

/** One worker whose fsyncs hang until the FIFO is released. */
async function startStuckServer(env: Record<string, string>): Promise<StuckSetup> {
  const folder = mkdtempSync(join(tmpdir(), 'rawhttp-stuck-'));
  const fifo = makeFifo(folder);
  const server = await startServer({ nodeArgs: ['--import', HUNG_FSYNC], env: { MAX_THREADS: '1', HUNG_FSYNC_FIFO: fifo, ...env } });
  return {
    server,
    fifo,
    end: async () => {
      // Each fsync waits for its own release: let every one go until the process is gone.
      const releasing = setInterval(() => releaseFifo(fifo), 20);
      await server.stop();
      clearInterval(releasing);
      rmSync(folder, { recursive: true, force: true });
    },
  };
}

function upload(port: number): Promise<RawResponse> {
  const body = '{"stuck":true}';
  return request(port, `POST /upload HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`, 30_000);
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
    await waitFor(() => releaseFifo(fifo), 'the worker blocked in fsync', 2000);
    assert.equal((await answer).status, 500);
    await server.waitForLog((line) => line.msg === 'worker 1 replaced');
    assert.equal((await readiness(server.adminPort)).status, 200);
    assert.equal(await metric(server.adminPort, 'http_server_workers'), 1);
  } finally {
    await end();
  }
});
