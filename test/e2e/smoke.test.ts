import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { get, request } from '../helpers/raw.js';
import { startServer, type StartedServer } from '../helpers/server.js';

let server: StartedServer;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server.stop();
});

test('GET / renders index.html inline', async () => {
  const response = await request(server.port, get('/', server.port));
  assert.equal(response.status, 200);
  assert.equal(response.headers['content-type'], 'text/html; charset=utf-8');
  assert.match(response.body.toString(), /<html/);
});
