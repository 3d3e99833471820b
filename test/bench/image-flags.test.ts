// The main thread's V8 heap flags are set in the image's command (Dockerfile CMD) and copied
// where the server starts outside the image: `npm start`, and the benchmark, which reads them
// from the Dockerfile. A flag added in one place and not the other would make the measured
// server differ from the shipped one.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { imageNodeFlags, REPO_ROOT } from '../helpers/server.js';

test('the image bounds the main thread heap: young generation, first full collection, growth', async () => {
  const flags = await imageNodeFlags();
  for (const prefix of ['--max-semi-space-size=', '--initial-old-space-size=', '--heap-growing-percent=']) {
    assert.ok(flags.some((flag) => flag.startsWith(prefix)), `${prefix} missing from the Dockerfile CMD (${flags.join(' ')})`);
  }
});

test('npm start runs node with the image command flags, in the place of its shell', async () => {
  const flags = await imageNodeFlags();
  const { scripts } = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const command = scripts.start.split('&&').at(-1)?.trim();
  // exec: npm passes SIGTERM to its child, and a shell in between would not pass it on.
  assert.equal(command, ['exec', 'node', ...flags, 'dist/src/main.js'].join(' '));
});
