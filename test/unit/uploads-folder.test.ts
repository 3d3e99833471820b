import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { foldersToSync, permissionFacts } from '../../src/uploads-folder.js';

test('a created uploads folder is synced with every folder created for it and the one above them', () => {
  assert.deepEqual(foldersToSync('/data/a', '/data/a/b/uploads'), ['/data', '/data/a', '/data/a/b', '/data/a/b/uploads']);
  assert.deepEqual(foldersToSync('/data/uploads', '/data/uploads'), ['/data', '/data/uploads']);
  assert.deepEqual(foldersToSync('/data/uploads', '/data/uploads/'), ['/data', '/data/uploads']);
  // mkdirSync gives back the path as it was given: a relative one stays relative.
  assert.deepEqual(foldersToSync('up', 'up/a'), ['.', 'up', 'up/a']);
});

test('a permission error at start names the process and the owner and mode of the folder, or of the one it would be created in', () => {
  const parent = mkdtempSync(join(tmpdir(), 'rawhttp-facts-'));
  try {
    const uploads = join(parent, 'uploads');
    mkdirSync(uploads);
    chmodSync(uploads, 0o2775);
    const uid = process.getuid!();
    const gid = process.getgid!();
    const who = `the server runs as uid ${uid} gid ${gid}`;
    const groups = process.getgroups!().filter((group) => group !== gid);
    const also = groups.length > 0 ? ` (also groups ${groups.join(',')})` : '';
    assert.equal(permissionFacts(uploads), `${who}${also}; the folder is owned by ${uid}:${gid}, mode 2775`);
    chmodSync(parent, 0o750);
    // Two levels missing: the nearest folder that exists is the one creating them needs.
    assert.equal(permissionFacts(join(parent, 'a', 'b')), `${who}${also}; the folder does not exist, and ${parent}, where it would be created, is owned by ${uid}:${gid}, mode 0750`);
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});
