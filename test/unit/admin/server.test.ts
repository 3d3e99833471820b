import assert from 'node:assert/strict';
import { test } from 'node:test';
import { modulesLoadedBy } from '../../helpers/modules.js';

const ADMIN_SERVER = new URL('../../../src/admin/server.js', import.meta.url);
/** What an ESM import of node:http loads through its namespace's lazy getters (WebSocket and the like). */
const UNWANTED = ['internal/deps/undici/undici', 'http2', 'internal/webstreams/readablestream'];

test('the admin listener takes node:http without loading undici, http2 or web streams', async () => {
  const { byImport } = await modulesLoadedBy(ADMIN_SERVER);
  assert.ok(byImport.includes('NativeModule http'), `node:http not loaded: ${byImport.join(', ')}`);
  for (const name of UNWANTED) assert.ok(!byImport.includes(`NativeModule ${name}`), `${name} loaded: ${byImport.join(', ')}`);
});
