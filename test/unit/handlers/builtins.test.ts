import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { randomHex } from '../../../src/handlers/builtins.js';

/** Node.js's own modules a fresh worker thread loads to import `module`, and then to run `call` on it (`m`). */
async function modulesLoadedBy(module: URL, call = ''): Promise<{ byImport: string[]; byCall: string[] }> {
  const code = `
    const { parentPort } = require('node:worker_threads');
    const since = (seen) => process.moduleLoadList.filter((name) => !seen.has(name));
    const before = new Set(process.moduleLoadList);
    import(${JSON.stringify(module.href)}).then((m) => {
      const byImport = since(before);
      const imported = new Set(process.moduleLoadList);
      ${call}
      parentPort.postMessage({ byImport, byCall: since(imported) });
    }, (error) => parentPort.postMessage(String(error)));`;
  const worker = new Worker(code, { eval: true });
  try {
    const loaded = await new Promise<{ byImport: string[]; byCall: string[] } | string>((resolve) => worker.once('message', resolve));
    assert.ok(typeof loaded !== 'string', `import failed: ${String(loaded)}`);
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
  const { byImport } = await modulesLoadedBy(HANDLERS);
  for (const name of UNWANTED) assert.ok(!byImport.includes(`NativeModule ${name}`), `${name} loaded: ${byImport.join(', ')}`);
});

test('node:crypto loads with the first random name, not before', async () => {
  const { byImport, byCall } = await modulesLoadedBy(BUILTINS, 'm.randomHex(4);');
  assert.ok(!byImport.includes('NativeModule crypto'));
  assert.ok(byCall.includes('NativeModule crypto'));
});

test('randomHex: the bytes asked for, as hex, different every time', () => {
  const first = randomHex(8);
  assert.match(first, /^[0-9a-f]{16}$/);
  assert.notEqual(randomHex(8), first);
});
