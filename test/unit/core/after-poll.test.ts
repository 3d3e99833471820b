import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { setIntervalAfterPoll, setTimeoutAfterPoll } from '../../../src/core/after-poll.js';

/** Stands the event loop still, as a frozen process does: timers fall due and bytes arrive meanwhile. */
function freeze(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until);
}

/** A loopback connection: the client's end, and whether the server's end has read anything yet. */
async function connection(t: { after: (fn: () => void) => void }): Promise<{ client: Socket; received: () => boolean }> {
  let received = false;
  const server = createServer((socket) => socket.on('data', () => (received = true)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const client = connect(port, '127.0.0.1');
  await Promise.all([once(client, 'connect'), once(server, 'connection')]);
  t.after(() => {
    client.destroy();
    server.close();
  });
  return { client, received: () => received };
}

test('a timeout judged after the poll phase sees the bytes that arrived while the loop stood still; a plain one does not', async (t) => {
  const { client, received } = await connection(t);
  const plain = new Promise<boolean>((resolve) => setTimeout(() => resolve(received()), 10));
  const afterPoll = new Promise<boolean>((resolve) => setTimeoutAfterPoll(() => resolve(received()), 10));
  client.write('x');
  freeze(50);
  assert.deepEqual([await plain, await afterPoll], [false, true]);
});

test('an interval judged after the poll phase does the same, and clearing it stops it', async (t) => {
  const { client, received } = await connection(t);
  let judged = 0;
  const seen = new Promise<boolean>((resolve) => {
    const timer = setIntervalAfterPoll(() => {
      judged++;
      clearInterval(timer);
      resolve(received());
    }, 10);
  });
  client.write('x');
  freeze(50);
  assert.equal(await seen, true);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(judged, 1);
});
