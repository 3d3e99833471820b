// A flood far beyond the pool's capacity (one worker, four queue places, hundreds of pipelined
// requests at once): every response is the right file or a 503 with Retry-After, the process
// stays up with bounded memory, the queue_full counter equals the 503s seen, and service is
// normal as soon as the flood stops.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { metric, rssBytes } from '../fixtures/probes.js';
import { parseResponses, RawClient, request } from '../helpers/raw.js';
import { RESOURCES_DIR, startServer } from '../helpers/server.js';

const CONNECTIONS = 100;
const PIPELINED = 8;
const ROUNDS = 2;
const SMALL_FILES = ['/sample.txt', '/index.html', '/logo.png', '/photo.jpg', '/sample2.txt', '/about.html', '/peacock_feather.jpg'];
const LARGE_FILE = '/sample_image.png';
/** Far above a healthy server's footprint, far below what buffering whole responses would take. */
const RSS_GROWTH_LIMIT = 256 * 1024 * 1024;

const contents = new Map([...SMALL_FILES, LARGE_FILE].map((path) => [path, readFileSync(join(RESOURCES_DIR, path))]));

/** The files one connection asks for; one connection in ten also fetches the 2.4 MB image. */
function pathsFor(connection: number): string[] {
  return Array.from({ length: PIPELINED }, (_, n) => (n === 0 && connection % 10 === 0 ? LARGE_FILE : SMALL_FILES[(connection + n) % SMALL_FILES.length]!));
}

test('a flood beyond pool capacity: right bytes or 503 + Retry-After, bounded memory, exact 503 count', async (t) => {
  // The small-file cache is off: every request must go through the one worker's queue.
  const server = await startServer({ env: { MAX_THREADS: '1', QUEUE_SIZE: '4', BACKLOG: '1024', FILE_CACHE_TTL_MS: '0' } });
  const pid = server.process.pid!;
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssBytes(pid))), 50);
  try {
    const host = `127.0.0.1:${server.port}`;
    const baselineRss = rssBytes(pid);
    let ok = 0;
    let unavailable = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const clients = await Promise.all(Array.from({ length: CONNECTIONS }, () => RawClient.connect(server.port)));
      const asked = clients.map((client, n) => {
        const paths = pathsFor(n + round);
        // All requests of a connection in one write; the last one asks the server to close.
        client.write(paths.map((path, i) => `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${i === paths.length - 1 ? 'Connection: close\r\n' : ''}\r\n`).join(''));
        return paths;
      });
      await Promise.all(clients.map((client) => client.waitClosed(60_000)));
      for (const [n, client] of clients.entries()) {
        const { responses, rest } = parseResponses(client.received);
        assert.equal(responses.length, PIPELINED, `connection ${n} got every response`);
        assert.equal(rest.length, 0);
        for (const [i, response] of responses.entries()) {
          if (response.status === 503) {
            assert.equal(response.headers['retry-after'], '1');
            unavailable++;
          } else {
            assert.equal(response.status, 200, `${asked[n]![i]} answered ${response.status}`);
            assert.ok(response.body.equals(contents.get(asked[n]![i]!)!), `${asked[n]![i]} has the file's bytes`);
            ok++;
          }
        }
      }
    }
    clearInterval(sampler);
    const total = CONNECTIONS * PIPELINED * ROUNDS;
    t.diagnostic(`${total} requests: ${ok} x 200, ${unavailable} x 503; RSS ${(baselineRss / 2 ** 20).toFixed(0)} MiB before, peak ${(peakRss / 2 ** 20).toFixed(0)} MiB`);
    assert.equal(ok + unavailable, total);
    assert.ok(unavailable > 0, 'the flood went beyond what one worker and four queue places take');
    assert.ok(ok > 0);
    assert.equal(server.process.exitCode, null, 'the server is still running');
    assert.ok(peakRss - baselineRss < RSS_GROWTH_LIMIT, `RSS grew by ${((peakRss - baselineRss) / 2 ** 20).toFixed(0)} MiB`);
    assert.equal(await metric(server.adminPort, 'http_server_rejected_total', 'reason="queue_full"'), unavailable);

    // The flood is over: the very next requests are all served.
    for (let n = 0; n < 20; n++) {
      const path = SMALL_FILES[n % SMALL_FILES.length]!;
      const response = await request(server.port, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      assert.equal(response.status, 200, `${path} after the flood`);
      assert.ok(response.body.equals(contents.get(path)!));
    }
    assert.equal(await metric(server.adminPort, 'http_server_queue_depth'), 0);
  } finally {
    clearInterval(sampler);
    await server.stop();
  }
});
