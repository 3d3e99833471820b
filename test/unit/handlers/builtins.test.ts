import assert from 'node:assert/strict';
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import { fillRandom, randomHex } from '../../../src/handlers/builtins.js';
import { modulesLoadedBy } from '../../helpers/modules.js';

const HANDLERS = new URL('../../../src/handlers/work.js', import.meta.url);
const BUILTINS = new URL('../../../src/handlers/builtins.js', import.meta.url);
/** What an ESM import of node:fs or node:crypto would load in every worker. */
const UNWANTED = ['internal/fs/promises', 'internal/fs/streams', 'internal/readline/interface', 'crypto', 'internal/crypto/webcrypto'];

test('a worker that loads the handlers loads neither fs/promises, file streams nor node:crypto', async () => {
  const { byImport } = await modulesLoadedBy(HANDLERS);
  for (const name of UNWANTED) assert.ok(!byImport.includes(`NativeModule ${name}`), `${name} loaded: ${byImport.join(', ')}`);
});

test('random names come from /dev/urandom: a worker never loads node:crypto for them', { skip: !existsSync('/dev/urandom') && 'no /dev/urandom here' }, async () => {
  // More names than one 4 KiB draw holds, so the pool is refilled on the way.
  const { byImport, byCall } = await modulesLoadedBy(BUILTINS, 'for (let i = 0; i < 600; i++) m.randomHex(8);');
  assert.ok(!byImport.includes('NativeModule crypto'));
  assert.ok(!byCall.includes('NativeModule crypto'), `loaded: ${byCall.join(', ')}`);
});

test('without the device, the bytes come from node:crypto', async () => {
  const { byCall } = await modulesLoadedBy(BUILTINS, "m.fillRandom(Buffer.alloc(64), '/nonexistent/urandom');");
  assert.ok(byCall.includes('NativeModule crypto'));
  const buffer = Buffer.alloc(64);
  fillRandom(buffer, '/nonexistent/urandom');
  assert.notDeepEqual(buffer, Buffer.alloc(64));
});

test('fillRandom fills the whole buffer, differently every time', () => {
  const first = Buffer.alloc(100_000);
  const second = Buffer.alloc(100_000);
  fillRandom(first);
  fillRandom(second);
  // 4 KiB of zeros at the end would mean a short read was taken for a full one.
  assert.notDeepEqual(first.subarray(-4096), Buffer.alloc(4096));
  assert.notDeepEqual(first, second);
});

test('randomHex: the bytes asked for, as hex, never the same twice across refills of the pool', () => {
  const names = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const name = randomHex(8);
    assert.match(name, /^[0-9a-f]{16}$/);
    names.add(name);
  }
  assert.equal(names.size, 1000);
});
