import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { refusalStatus, securityRuleOf, type Refusal } from '../../../src/core/refusals.js';
import { checkRequestPath, isHiddenOnDisk, pathBelow, placeInRoot } from '../../../src/security/path.js';

/** The status and security rule of the refusal for `target` (none: not a security rejection); fails if the path was accepted. */
function refusal(target: string): { status: number; rule: string | undefined } {
  const check = checkRequestPath(target);
  assert.ok(!check.ok, `${target} must be refused`);
  assert.ok(check.detail.length > 0);
  return { status: refusalStatus(check.refusal), rule: securityRuleOf(check.refusal) };
}

/** The code `target` is refused with. */
function codeOf(target: string): Refusal | null {
  const check = checkRequestPath(target);
  return check.ok ? null : check.refusal;
}

describe('request path rules', () => {
  test('normal paths are accepted and decoded once', () => {
    const cases: ReadonlyArray<readonly [target: string, path: string]> = [
      ['/', '/'],
      ['/index.html', '/index.html'],
      ['/uploads/upload_1.json', '/uploads/upload_1.json'],
      ['/a/b/', '/a/b/'],
      ['/file%20name.txt', '/file name.txt'],
      ['/caf%C3%A9.html', '/café.html'],
      ['/%2541', '/%41'], // decoded once only
      ['/a..b.txt', '/a..b.txt'], // dots inside a name are not a dot segment
      ['/name.', '/name.'],
    ];
    for (const [target, path] of cases) assert.deepEqual(checkRequestPath(target), { ok: true, path }, target);
  });

  test('the query is stripped before the checks', () => {
    assert.deepEqual(checkRequestPath('/index.html?x=1'), { ok: true, path: '/index.html' });
    assert.deepEqual(checkRequestPath('/?'), { ok: true, path: '/' });
    assert.deepEqual(checkRequestPath('/index.html?next=/../etc/passwd&y=%00'), { ok: true, path: '/index.html' });
    assert.equal(refusal('/../etc/passwd?x=1').status, 403);
  });

  test('dot segments are refused with 403', () => {
    for (const target of ['/../etc/passwd', '/./././../config', '/..', '/.', '/a/../../b', '/a/./b', '/a/..', '/./index.html']) {
      assert.deepEqual(refusal(target), { status: 403, rule: 'traversal' }, target);
    }
  });

  test('percent-encoded traversal is refused with 403', () => {
    for (const target of ['/%2e%2e/etc/passwd', '/%2E%2E/%2E%2E/etc/passwd', '/.%2e/config', '/%2e/index.html', '/..%2Fetc%2Fpasswd', '/a%2F..%2F..%2Fetc%2Fpasswd', '/%2e%2e%2f%2e%2e%2fetc%2fpasswd']) {
      assert.deepEqual(refusal(target), { status: 403, rule: 'traversal' }, target);
    }
  });

  test('backslashes are refused with 403, raw or encoded', () => {
    for (const target of ['/..\\etc\\passwd', '/a\\b', '/%5c..%5cetc', '/%5C']) {
      assert.deepEqual(refusal(target), { status: 403, rule: 'traversal' }, target);
    }
  });

  test('paths starting with // are refused with 403, raw or encoded', () => {
    for (const target of ['//etc/passwd', '//', '/%2Fetc/passwd', '/%2f%2fhost/x']) {
      assert.deepEqual(refusal(target), { status: 403, rule: 'traversal' }, target);
    }
  });

  test('NUL and control characters are refused with 400', () => {
    for (const target of ['/index.html%00', '/index.html%00.txt', '/%00', '/a%01b', '/a%1Fb', '/a%7Fb', '/a%0d%0aSet-Cookie:x']) {
      assert.deepEqual(refusal(target), { status: 400, rule: 'bad_path' }, target);
    }
  });

  test('NUL and control characters are security refusals (bad_path): well-formed escapes chosen to carry them', () => {
    assert.equal(codeOf('/index.html%00'), 'nul_in_path');
    assert.equal(codeOf('/a%0d%0aSet-Cookie:x'), 'control_in_path');
  });

  test('invalid percent-encoding is a malformed request, 400, counted under no security rule', () => {
    for (const target of ['/%', '/%2', '/%zz', '/a%g0', '/100%.txt', '/%C3', '/%C0%AE%C0%AE/etc', '/%ED%A0%80', '/%FF']) {
      assert.deepEqual(refusal(target), { status: 400, rule: undefined }, target);
      assert.equal(codeOf(target), 'bad_percent_encoding', target);
    }
  });

  test('hidden files and folders are refused with 403', () => {
    for (const target of ['/.env', '/.git/config', '/uploads/.upload-1234.tmp', '/a/.hidden/b.txt', '/%2eenv', '/.htaccess']) {
      assert.deepEqual(refusal(target), { status: 403, rule: 'hidden_file' }, target);
    }
  });

  test('targets that are not absolute paths are malformed, 400, counted under no security rule', () => {
    for (const target of ['*', 'index.html', 'http://example.com/', '', '?x=1']) {
      assert.deepEqual(refusal(target), { status: 400, rule: undefined }, JSON.stringify(target));
      assert.equal(codeOf(target), 'path_not_absolute', JSON.stringify(target));
    }
  });
});

describe('hidden names on a real path below the root', () => {
  test("kubelet's data folders are not hidden: every file of a mounted ConfigMap or Secret lies in one", () => {
    for (const name of [
      '..2026_12_07_19_40_01.123456789', // as the probe's volume had it
      '..2026_12_07_19_40_01.4294967295', // MkdirTemp's largest suffix (a uint32)
      '..2026_12_07_19_40_01.0', // and its smallest
      '..2018_03_05_10_04_17.000012345', // Go before 1.17: 9 digits, zero-padded
    ]) {
      assert.equal(isHiddenOnDisk(name), false, name);
    }
  });

  test('every other dot name is hidden', () => {
    for (const name of [
      '.git', '.env', '.hidden.txt', '.', '..', '...data', '..data', '..data2', '..data_tmp',
      '..2026_12_07', '..2026_12_07_19_40_01', '..2026_12_07_19_40_01.', '..2026_12_07_19_40_01.12345678901',
      '...2026_12_07_19_40_01.123', '..2026_12_07_19_40_01.123x', '..2026-12-07_19_40_01.123',
      '..26_12_07_19_40_01.123', '..2026_12_07_19_40_01.-1', '..2026_12_07_19_40_01.1.env', '.2026_12_07_19_40_01.123',
    ]) {
      assert.equal(isHiddenOnDisk(name), true, name);
    }
  });

  test('names without a leading dot are not hidden', () => {
    for (const name of ['index.html', 'a..b.txt', 'name.', '2026_12_07_19_40_01.123', '']) assert.equal(isHiddenOnDisk(name), false, name);
  });

  test('a request can never name a data folder: the path rule refuses it as hidden', () => {
    for (const target of ['/..2026_12_07_19_40_01.123456789/index.html', '/..data/index.html']) {
      assert.deepEqual(refusal(target), { status: 403, rule: 'hidden_file' }, target);
    }
  });
});

describe('a real path against its root', () => {
  test('the part below the root, for any root: the file system\'s own, one with or without a trailing slash', () => {
    const cases: ReadonlyArray<readonly [path: string, root: string, below: string | null]> = [
      ['/', '/', ''],
      ['/etc/hostname', '/', 'etc/hostname'],
      ['/srv', '/', 'srv'],
      ['/srv', '/srv', ''],
      ['/srv/', '/srv', ''],
      ['/srv/a.txt', '/srv', 'a.txt'],
      ['/srv/a/b.txt', '/srv', 'a/b.txt'],
      ['/srv', '/srv/', ''],
      ['/srv/', '/srv/', ''],
      ['/srv/a.txt', '/srv/', 'a.txt'],
      // A sibling whose name starts with the root's is not below it.
      ['/srvx', '/srv', null],
      ['/srvx/a.txt', '/srv', null],
      ['/srvx', '/srv/', null],
      ['/srv.old/a.txt', '/srv', null],
      // Above the root, or elsewhere.
      ['/', '/srv', null],
      ['/sr', '/srv', null],
      ['/etc/hostname', '/srv', null],
      ['/etc/hostname', '/srv/', null],
    ];
    for (const [path, root, below] of cases) assert.equal(pathBelow(path, root), below, `${path} against ${root}`);
  });

  test('outside, hidden below the root, or inside; dot names of the root itself do not hide it', () => {
    const cases: ReadonlyArray<readonly [path: string, root: string, place: string]> = [
      ['/etc/hostname', '/', 'inside'],
      ['/', '/', 'inside'],
      ['/.env', '/', 'hidden'],
      ['/home/me/.ssh/id_ed25519', '/', 'hidden'],
      ['/srv/a.txt', '/srv', 'inside'],
      ['/srv/a.txt', '/srv/', 'inside'],
      ['/srv/.env', '/srv', 'hidden'],
      ['/srv/.env', '/srv/', 'hidden'],
      ['/srv/a/.git/config', '/srv', 'hidden'],
      ['/srv/a..b.txt', '/srv', 'inside'],
      ['/srvx/a.txt', '/srv', 'outside'],
      ['/srv.old/a.txt', '/srv', 'outside'],
      ['/.volumes/site/a.txt', '/.volumes/site', 'inside'],
      ['/.volumes/site/..2026_12_07_19_40_01.123/a.txt', '/.volumes/site', 'inside'],
      ['/.volumes/site', '/.volumes/site/', 'inside'],
    ];
    for (const [path, root, place] of cases) assert.equal(placeInRoot(path, root), place, `${path} against ${root}`);
  });
});
