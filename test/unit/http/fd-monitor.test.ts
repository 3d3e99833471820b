import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectionsFit, descriptorsForConnections } from '../../../src/http/fd-monitor.js';

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
