import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { randomHex } from '../../../src/handlers/builtins.js';

/** What a fresh worker thread loads of Node.js's own modules when it imports `module`, then calls `after` on it. */
async function modulesLoadedBy(module: URL, after: string): Promise<string[]> {
  const code = `
    const { parentPort } = require('node:worker_threads');
    const before = new Set(process.moduleLoadList);
    import(${JSON.stringify(module.href)}).then((m) => {
      ${after}
      parentPort.postMessage(process.moduleLoadList.filter((name) => !before.has(name)));
    }, (error) => parentPort.postMessage(String(error)));`;
  const worker = new Worker(code, { eval: true });
  try {
    const loaded = await new Promise<string[] | string>((resolve) => worker.once('message', resolve));
    assert.ok(Array.isArray(loaded), `import failed: ${String(loaded)}`);
    return loaded;
  } finally {
    await worker.terminate();
  }
}

const HANDLERS = new URL('../../../src/handlers/work.js', import.meta.url);
const BUILTINS = new URL('../../../src/handlers/builtins.js', import.meta.url);
/** What an ESM import of node:fs or node:crypto would load in every worker. */
const UNWANTED = ['internal/fs/promises', 'internal/fs/streams', 'internal/readline/interface', 'crypto', 'internal/crypto/webcrypto'];

test('a worker that loads the handlers loads neither fs/promises, file streams nor node:crypto', async () => {
  const loaded = await modulesLoadedBy(HANDLERS, '');
  for (const name of UNWANTED) assert.ok(!loaded.includes(`NativeModule ${name}`), `${name} loaded: ${loaded.join(', ')}`);
});

test('node:crypto loads with the first random name', async () => {
  const loaded = await modulesLoadedBy(BUILTINS, 'm.randomHex(4);');
  assert.ok(loaded.includes('NativeModule crypto'));
});

test('randomHex: the bytes asked for, as hex, different every time', () => {
  const first = randomHex(8);
  assert.match(first, /^[0-9a-f]{16}$/);
  assert.notEqual(randomHex(8), first);
});
