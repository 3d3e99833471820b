// A worker stuck in a system call while it serves a static file, as one reading from a hung
// NFS mount is: the job timeout stops it, and once its thread exits nothing it opened under
// the document root may stay open. A preload (test/fixtures/hung-file-call.ts) holds one call
// on one file until the test lets it go.
import assert from 'node:assert/strict';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { test } from 'node:test';
import { openFilesIn, waitFor } from '../fixtures/probes.js';
import { releaseFifo } from '../helpers/fifo.js';
import { startHeldServer } from '../helpers/held-server.js';
import { get, request } from '../helpers/raw.js';

interface Hold {
  /** The call held: `fstatSync` right after the open, `readSync` of the whole small file. */
  readonly call: 'fstatSync' | 'readSync';
  /** The file it is held on, and the request that reaches it. */
  readonly file: string;
  readonly path: string;
  readonly headers?: string;
}

const HOLDS: Record<string, Hold> = {
  'in the fstat right after the open': { call: 'fstatSync', file: 'page.html', path: '/page.html' },
  'reading a small file whole': { call: 'readSync', file: 'page.html', path: '/page.html' },
  'reading the precompressed variant of a page': { call: 'readSync', file: 'page.html.gz', path: '/page.html', headers: 'Accept-Encoding: gzip\r\n' },
};

for (const [where, hold] of Object.entries(HOLDS)) {
  test(`a worker stopped at the job timeout ${where} leaves nothing under the document root open once its thread exits`, async () => {
    const root = realpathSync(mkdtempSync(join(tmpdir(), 'rawhttp-root-')));
    const page = '<!doctype html><title>held</title>';
    writeFileSync(join(root, 'page.html'), page);
    writeFileSync(join(root, 'page.html.gz'), gzipSync(page));
    const { server, fifo, end } = await startHeldServer('hung-file-call', 'HUNG_FILE_FIFO', {
      MAX_THREADS: '1',
      JOB_TIMEOUT_MS: '500',
      RESOURCES_DIR: root,
      HUNG_FILE_CALL: hold.call,
      HUNG_FILE_NAME: hold.file,
    });
    try {
      const pid = server.process.pid!;
      const response = await request(server.port, get(hold.path, server.port, hold.headers), 10_000);
      assert.equal(response.status, 500);
      // Open while the thread is stuck: it may still be in a call on the descriptor.
      assert.deepEqual(openFilesIn(pid, root), [join(root, hold.file)]);
      await waitFor(() => releaseFifo(fifo), `the worker held in ${hold.call}`, 2000);
      await server.waitForLog((line) => line.msg === 'worker 1 replaced');
      assert.deepEqual(openFilesIn(pid, root), []);
    } finally {
      await end();
      rmSync(root, { recursive: true, force: true });
    }
  });
}
