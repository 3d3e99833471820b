import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openFileLimit } from '../../../src/core/open-files.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 1048576              files
Max locked memory         8388608              8388608              bytes
`;

test('the soft open-file limit is read from /proc/self/limits', () => {
  assert.equal(openFileLimit(LIMITS), 1024);
  assert.equal(openFileLimit(LIMITS.replace('1024       ', 'unlimited  ')), null);
  assert.equal(openFileLimit('Limit Soft Hard Units\n'), null);
});
