// Where an open descriptor points, when the file it opened has been replaced or removed since:
// a deploy that renames a new version over a page must not make the old one unservable.
import assert from 'node:assert/strict';
import { closeSync, fstatSync, mkdtempSync, openSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { realPathOf } from '../../../src/handlers/static.js';

const folder = mkdtempSync(join(tmpdir(), 'rawhttp-realpath-'));
after(() => rmSync(folder, { recursive: true, force: true }));

function opened(name: string): { fd: number; path: string } {
  const path = join(folder, name);
  writeFileSync(path, 'v1');
  return { fd: openSync(path, 'r'), path };
}

test('a file renamed over keeps its name: the descriptor still reads the version it opened', () => {
  const { fd, path } = opened('page.html');
  try {
    writeFileSync(join(folder, 'page.html.new'), 'v2');
    renameSync(join(folder, 'page.html.new'), path);
    assert.equal(realPathOf(fd, path, fstatSync(fd)), path);
  } finally {
    closeSync(fd);
  }
});

test('a file removed after it was opened keeps its name too', () => {
  const { fd, path } = opened('gone.txt');
  try {
    unlinkSync(path);
    assert.equal(realPathOf(fd, path, fstatSync(fd)), path);
  } finally {
    closeSync(fd);
  }
});

test('a name that really ends in " (deleted)" is left whole', () => {
  const { fd, path } = opened('notes (deleted)');
  try {
    assert.equal(realPathOf(fd, path, fstatSync(fd)), path);
  } finally {
    closeSync(fd);
  }
});
