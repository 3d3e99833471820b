import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomHex } from '../../../src/handlers/builtins.js';
import { modulesLoadedBy } from '../../helpers/modules.js';

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
