import assert from 'node:assert/strict';
import { test } from 'node:test';
import { foldersToSync } from '../../src/uploads-folder.js';

test('a created uploads folder is synced with every folder created for it and the one above them', () => {
  assert.deepEqual(foldersToSync('/data/a', '/data/a/b/uploads'), ['/data', '/data/a', '/data/a/b', '/data/a/b/uploads']);
  assert.deepEqual(foldersToSync('/data/uploads', '/data/uploads'), ['/data', '/data/uploads']);
  assert.deepEqual(foldersToSync('/data/uploads', '/data/uploads/'), ['/data', '/data/uploads']);
  // mkdirSync gives back the path as it was given: a relative one stays relative.
  assert.deepEqual(foldersToSync('up', 'up/a'), ['.', 'up', 'up/a']);
});
