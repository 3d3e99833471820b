// Which of Node.js's own modules a module of ours loads: an ESM import of a built-in builds
// its whole namespace, and some namespaces pull in far more than the names imported.
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';

/** Node.js's own modules a fresh worker thread loads to import `module`, and then to run `call` on it (`m`). */
export async function modulesLoadedBy(module: URL, call = ''): Promise<{ byImport: string[]; byCall: string[] }> {
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
