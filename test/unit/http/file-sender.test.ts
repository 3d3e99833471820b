// FileSender over a real loopback socket pair: the head, then exact byte ranges; a file that
// shrank before its head went out or while it is sent, a stop in the middle; in every case the
// descriptor ends up closed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs, { fstatSync, mkdtempSync, openSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { FileSender, type SendOutcome } from '../../../src/http/file-sender.js';
import { makeFifo, releaseFifo } from '../../helpers/fifo.js';

const dir = mkdtempSync(join(tmpdir(), 'rawhttp-sender-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A connected pair: `sending` is the server side, `received` collects what the client reads. */
async function socketPair(): Promise<{ sending: Socket; client: Socket; received: () => Promise<Buffer> }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const client = connect(port, '127.0.0.1');
  const sending = await accepted;
  server.close();
  const chunks: Buffer[] = [];
  client.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise<void>((resolve) => client.once('close', () => resolve()));
  client.on('error', () => undefined);
  return { sending, client, received: async () => (await ended, Buffer.concat(chunks)) };
}

/** Whether `fd` gets closed within a second (the close itself runs on libuv's pool). */
async function closesSoon(fd: number): Promise<boolean> {
  for (let waited = 0; waited < 1000; waited += 10) {
    try {
      fstatSync(fd);
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EBADF';
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return false;
}

const HEAD = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: ...\r\n\r\n', 'latin1');

function send(sending: Socket, fd: number, start: number, length: number): Promise<SendOutcome> {
  return new Promise((resolve) => new FileSender(sending, HEAD, { fd, start, length }, () => undefined, resolve).start());
}

describe('FileSender', () => {
  test('sends exactly the range, over several chunks, then closes the descriptor', async () => {
    const bytes = randomBytes(700 * 1024);
    const file = join(dir, 'range.bin');
    writeFileSync(file, bytes);
    const fd = openSync(file, 'r');
    const { sending, received } = await socketPair();
    const outcome = await send(sending, fd, 1000, 600 * 1024);
    sending.end();
    assert.deepEqual(outcome, { ok: true, bytes: 600 * 1024 });
    assert.ok((await received()).equals(Buffer.concat([HEAD, bytes.subarray(1000, 1000 + 600 * 1024)])));
    assert.ok(await closesSoon(fd));
  });

  test('a buffer kept from one download carries nothing into the next', async () => {
    const first = randomBytes(300 * 1024);
    const second = randomBytes(100 * 1024 + 7);
    writeFileSync(join(dir, 'first.bin'), first);
    writeFileSync(join(dir, 'second.bin'), second);
    for (const [name, bytes] of [['first.bin', first], ['second.bin', second]] as const) {
      const { sending, received } = await socketPair();
      const outcome = await send(sending, openSync(join(dir, name), 'r'), 0, bytes.length);
      sending.end();
      assert.deepEqual(outcome, { ok: true, bytes: bytes.length });
      assert.ok((await received()).equals(Buffer.concat([HEAD, bytes])), name);
    }
  });

  test('a file that shrinks while it is sent ends with a failure once its head has gone, and the descriptor is closed', async () => {
    const file = join(dir, 'shrinks.bin');
    writeFileSync(file, randomBytes(600 * 1024));
    const fd = openSync(file, 'r');
    // Past the first chunk: that one is read whole, and the head leaves with it.
    truncateSync(file, 300 * 1024);
    const { sending, received } = await socketPair();
    const outcome = await send(sending, fd, 0, 600 * 1024);
    sending.destroy();
    assert.deepEqual(outcome, { ok: false, begun: true, reason: 'file changed while being sent' });
    assert.equal((await received()).length, HEAD.length + 300 * 1024);
    assert.ok(await closesSoon(fd));
  });

  test('a file that shrank within its first chunk before it was sent sends nothing, not even the head, and says so', async () => {
    for (const [name, size, start, kept] of [['emptied.bin', 100 * 1024, 0, 0], ['shortened.bin', 100 * 1024, 0, 10 * 1024], ['range-cut.bin', 900 * 1024, 512 * 1024, 600 * 1024]] as const) {
      const file = join(dir, name);
      writeFileSync(file, randomBytes(size));
      const fd = openSync(file, 'r');
      truncateSync(file, kept);
      const { sending, received } = await socketPair();
      const outcome = await send(sending, fd, start, size - start);
      sending.end();
      assert.deepEqual(outcome, { ok: false, begun: false, reason: 'file changed before being sent' }, name);
      assert.equal((await received()).length, 0, name);
      assert.ok(await closesSoon(fd), name);
    }
  });

  test('stop() in the middle sends nothing more, never reports, and closes the descriptor', async () => {
    const file = join(dir, 'stopped.bin');
    writeFileSync(file, randomBytes(4 * 1024 * 1024));
    const fd = openSync(file, 'r');
    const { sending, client, received } = await socketPair();
    client.pause(); // the client does not read, so the sender waits on the socket
    let reported = false;
    const sender = new FileSender(sending, HEAD, { fd, start: 0, length: 4 * 1024 * 1024 }, () => undefined, () => (reported = true));
    sender.start();
    await new Promise((resolve) => setTimeout(resolve, 100));
    sender.stop();
    sending.destroy();
    client.resume();
    const got = await received();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(got.length < 4 * 1024 * 1024, `stopped early (${got.length} bytes)`);
    assert.equal(reported, false);
    assert.ok(await closesSoon(fd));
  });

  test("reads that never return (a hung mount) hold all but three of libuv's threads at most (never fewer than one); other downloads wait their turn", async () => {
    const threads = Number(process.env['UV_THREADPOOL_SIZE']) || 4;
    // Each read first waits in a blocking open(2) of a FIFO, on a thread of libuv's pool, until
    // the test opens its other end: a read on a hung mount, until the test lets it go.
    const fifo = makeFifo(mkdtempSync(join(dir, 'hold-')));
    const realRead = fs.read;
    type ReadDone = (error: NodeJS.ErrnoException | null, bytesRead: number) => void;
    const heldRead = (fd: number, buffer: Buffer, offset: number, length: number, position: number, done: ReadDone): void =>
      fs.open(fifo, 'r', (error, held) => {
        if (error === null) fs.closeSync(held);
        realRead(fd, buffer, offset, length, position, done);
      });
    const files = Array.from({ length: threads + 1 }, (_, i) => {
      writeFileSync(join(dir, `hung-${i}.txt`), `file${i}`);
      return openSync(join(dir, `hung-${i}.txt`), 'r');
    });
    const received: string[] = files.map(() => '');
    const reported: Array<SendOutcome | null> = files.map(() => null);
    const senders = files.map((fd, i) => {
      const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => ((received[i] += chunk.toString()), done()) });
      return new FileSender(sink, Buffer.from(`head${i} `), { fd, start: 0, length: 5 }, () => undefined, (outcome) => (reported[i] = outcome));
    });
    (fs as { read: unknown }).read = heldRead;
    syncBuiltinESMExports();
    let releasing: NodeJS.Timeout | undefined;
    try {
      for (const sender of senders) sender.start();
      // One more task for the pool: it runs while every download's read is stuck.
      const statted = await Promise.race([stat(dir).then(() => 'done'), new Promise((resolve) => setTimeout(() => resolve('stuck'), 2000))]);
      assert.equal(statted, 'done', 'a thread-pool task ran beside the stuck reads');
      // The last one has waited without reading: stopped, it closes its descriptor and never reports.
      senders.at(-1)!.stop();
      assert.ok(await closesSoon(files.at(-1)!));
    } finally {
      // Each held open waits for its own release: let every one go until all have read.
      releasing = setInterval(() => releaseFifo(fifo), 10);
    }
    for (let waited = 0; reported.slice(0, -1).some((outcome) => outcome === null) && waited < 3000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
    clearInterval(releasing);
    fs.read = realRead;
    syncBuiltinESMExports();
    assert.deepEqual(reported, [...files.slice(0, -1).map(() => ({ ok: true, bytes: 5 })), null]);
    assert.deepEqual(received, [...files.slice(0, -1).map((_, i) => `head${i} file${i}`), '']);
  });
});
