// Files on a file system whose clock is coarse (ramfs, and every file system before Linux
// 6.13): two writes in one clock tick leave the same times, so the times alone cannot tell
// that a file the cache holds has changed.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { mountRamfs, unmountRamfs } from '../helpers/ramfs.js';
import { get, RawClient } from '../helpers/raw.js';
import { startServer, type StartedServer } from '../helpers/server.js';

const TTL_MS = 400;
const folder = mkdtempSync(join(tmpdir(), 'rawhttp-ramfs-'));
const notMounted = mountRamfs(folder);

describe('a document root on ramfs', { skip: notMounted ?? false }, () => {
  let server: StartedServer;

  before(async () => {
    server = await startServer({ env: { RESOURCES_DIR: folder, FILE_CACHE_TTL_MS: String(TTL_MS), MAX_REQUESTS_PER_CONNECTION: '100000' } });
  });

  after(async () => {
    await server?.stop();
  });

  test('a file rewritten in the clock tick of its read is served fresh within the TTL, however hot it is', async (t) => {
    const client = await RawClient.connect(server.port);
    let asked = 0;
    const body = async (path: string): Promise<string> => {
      client.write(get(path, server.port));
      const responses = await client.responses(++asked, 5000);
      return responses.at(-1)!.body.toString();
    };
    try {
      let sameTick = 0;
      for (let trial = 0; trial < 40 && sameTick < 5; trial++) {
        const name = `page-${trial}.txt`;
        const path = join(folder, name);
        writeFileSync(path, 'version 1\n');
        const read = statSync(path);
        // Read by a worker (a miss) and cached, then rewritten at once with the same size.
        assert.equal(await body(`/${name}`), 'version 1\n');
        writeFileSync(path, 'version 2\n');
        // Only a rewrite in the tick of the read keeps the times the cache saw.
        if (statSync(path).ctimeMs !== read.ctimeMs) continue;
        sameTick++;
        // Hits all along, so the entry is refreshed before it expires, again and again.
        const until = Date.now() + 3 * TTL_MS;
        let last = '';
        while (Date.now() < until) {
          last = await body(`/${name}`);
          await sleep(20);
        }
        assert.equal(last, 'version 2\n', `${name}: still the version read in the tick of the rewrite`);
      }
      t.diagnostic(`${sameTick} rewrites in the tick of their read`);
      // A clock tick shorter than a request's round trip (a kernel with HZ=1000) leaves no
      // rewrite in its read's tick: nothing was tested, which is not a failure of the server.
      // test/unit/handlers/settled.test.ts covers the rule without a clock.
      if (sameTick === 0) t.skip('no rewrite fell in the clock tick of its read (a clock tick shorter than a round trip): the race did not run');
    } finally {
      client.close();
    }
  });
});

after(() => {
  if (notMounted === null) unmountRamfs(folder);
  rmSync(folder, { recursive: true, force: true });
});
