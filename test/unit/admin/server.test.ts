import assert from 'node:assert/strict';
import { test } from 'node:test';
import { modulesLoadedBy } from '../../helpers/modules.js';

const ADMIN_SERVER = new URL('../../../src/admin/server.js', import.meta.url);
/** node:http, and what an ESM import of it loads through its namespace's lazy getters (WebSocket and the like). */
const UNWANTED = ['http', 'internal/deps/undici/undici', 'http2', 'internal/webstreams/readablestream'];

test('the admin listener loads no HTTP library: not node:http, undici, http2 or web streams', async () => {
  const { byImport } = await modulesLoadedBy(ADMIN_SERVER);
  assert.ok(byImport.includes('NativeModule net'), `node:net not loaded: ${byImport.join(', ')}`);
  for (const name of UNWANTED) assert.ok(!byImport.includes(`NativeModule ${name}`), `${name} loaded: ${byImport.join(', ')}`);
});
