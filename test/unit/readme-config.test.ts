// The README's configuration table and its example error line, checked against the real
// configuration loader: a default, a variable name or a flag that drifts fails here.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, helpText, loadConfig } from '../../src/config.js';
import { REPO_ROOT, RESOURCES_DIR } from '../helpers/server.js';

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

interface Row {
  readonly name: string;
  readonly flag: string;
  /** The default as the README writes it, when it is one literal value. */
  readonly literal: string | null;
}

const rows: Row[] = [...README.matchAll(/^\| `([A-Z0-9_]+)` \| `(--[a-z0-9-]+)` \| ([^|]+) \|/gm)].map(([, name, flag, cell]) => {
  // `<RESOURCES_DIR>/uploads` stands for a value, it is not one.
  const literal = /^`([^`<]+)`$/.exec(cell!.trim());
  return { name: name!, flag: flag!, literal: literal === null ? null : literal[1]! };
});

const base = { RESOURCES_DIR };
const plain = (): unknown => loadConfig([], base);

test('the README lists every setting once, each with its flag', () => {
  assert.ok(rows.length >= 40, `${rows.length} rows found`);
  assert.equal(new Set(rows.map((row) => row.name)).size, rows.length);
  for (const row of rows) assert.equal(row.flag, `--${row.name.toLowerCase().replaceAll('_', '-')}`, row.name);
});

test("each README default is the loader's: set to it, by variable or flag, nothing changes", () => {
  const literal = rows.filter((row) => row.literal !== null);
  assert.ok(literal.length >= 30, `${literal.length} literal defaults`);
  for (const { name, flag, literal: value } of literal) {
    assert.deepEqual(loadConfig([], { ...base, [name]: value! }), plain(), `${name}=${value}`);
    assert.deepEqual(loadConfig([`${flag}=${value}`], base), plain(), `${flag}=${value}`);
  }
});

test('each numeric setting is read from the variable the README names', () => {
  const numeric = rows.filter((row) => row.literal !== null && /^\d+$/.test(row.literal));
  for (const { name, literal } of numeric) {
    // One more is valid for every numeric setting; a misspelt name would be ignored silently.
    assert.notDeepEqual(loadConfig([], { ...base, [name]: String(Number(literal) + 1) }), plain(), name);
  }
});

test('--help names the same settings as the README, each with its variable and default', () => {
  const help = helpText();
  const named = [...help.matchAll(/^ {2}(--[a-z0-9-]+), ([A-Z0-9_]+) \(default: /gm)].map(([, flag, name]) => `${name} ${flag}`);
  assert.deepEqual(named.sort(), rows.map((row) => `${row.name} ${row.flag}`).sort());
  for (const { name, flag, literal } of rows) {
    if (literal !== null) assert.ok(help.includes(`  ${flag}, ${name} (default: ${literal})\n`), `${name} default ${literal}`);
  }
  assert.ok(help.includes('  --upload-tokens, UPLOAD_TOKENS (default: unset)\n'));
});

test("the README's example of a bad value is the line the server prints", () => {
  const example = /`(invalid configuration: PORT: [^`]+)`/.exec(README);
  assert.ok(example !== null, 'README shows an example error line');
  const value = /value was (\d+)$/.exec(example[1]!)![1]!;
  assert.throws(() => loadConfig([], { ...base, PORT: value }), (error) => error instanceof ConfigError && error.message === example[1]);
});
