import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectionsFit, descriptorsForConnections, openFileLimit } from '../../../src/http/fd-monitor.js';

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

test('MAX_CONNECTIONS fits when all its connections may hold and the descriptors already held stay a headroom below the limit', () => {
  // A connection served: its socket, the file it streams and two waiting for their turn; one
  // the server has finished with: its socket, while it closes; one refused: its socket, while
  // its 503 leaves.
  assert.equal(descriptorsForConnections(1024), 1024 * 6);
  assert.equal(connectionsFit(1_048_576, 100, 1024), true);
  // With 100 descriptors held already (listening sockets, workers) and 16 kept free.
  assert.equal(connectionsFit(6260, 100, 1024), true);
  assert.equal(connectionsFit(6259, 100, 1024), false, 'the headroom is kept free');
  assert.equal(connectionsFit(2048, 100, 1024), false);
});
