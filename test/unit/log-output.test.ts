// The log writer's synchronous flush (after a fatal line, at exit) writes nothing, so it can
// neither hang on a failing stdout nor write into a line an asynchronous write has begun; the
// event loop writes the lines held, in order. Run in a child process: a flush that hung would
// hold this one's thread, and no timeout could end it. And a stdout whose reader has gone
// (EPIPE) counts every line it loses.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { LogOutput } from '../../src/log-output.js';
import { makeFifo } from '../helpers/fifo.js';

/** A Linux pipe's default capacity. */
const PIPE_CAPACITY = 65_536;

/** Reads what a non-blocking pipe holds now into `into`. */
function drain(fd: number, into: Buffer[]): void {
  const chunk = Buffer.alloc(PIPE_CAPACITY);
  for (;;) {
    let read: number;
    try {
      read = readSync(fd, chunk);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') return;
      throw error;
    }
    if (read === 0) return;
    into.push(Buffer.from(chunk.subarray(0, read)));
  }
}

const LOG_OUTPUT = pathToFileURL(join(import.meta.dirname, '..', '..', 'src', 'log-output.js')).href;

/**
 * Logs `a`, `b`, `c` (the first taken by an asynchronous write at once), then a fatal `d`, to
 * `path`, waits until stdout has settled, as an exit does, and exits; returns the exit status.
 */
function logThenFatal(path: string): number | null {
  const script = `
    import { openSync } from 'node:fs';
    import { pino } from 'pino';
    const { LogOutput } = await import(${JSON.stringify(LOG_OUTPUT)});
    const output = new LogOutput(openSync(${JSON.stringify(path)}, 'w'));
    const log = pino({ base: null, timestamp: false }, output.stream);
    log.info('a');
    log.info('b');
    log.info('c');
    log.fatal('d');
    await output.settled(5000);
    process.exit(0);
  `;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: join(import.meta.dirname, '..', '..', '..'), encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' });
  return child.status;
}

test('a fatal line on a full disk does not hold the process: it exits by itself', () => {
  // /dev/full fails every write with ENOSPC; sonic-boom's own flush would retry it forever, and
  // stdout never settles: the wait ends at its limit.
  assert.equal(logThenFatal('/dev/full'), 0, 'the process exited by itself (null: killed after 20 s, the flush hung)');
});

test('the lines held at a fatal line are written after it, each once and in order, before an exit that waits for stdout to settle', () => {
  const folder = mkdtempSync(join(tmpdir(), 'rawhttp-log-flush-'));
  try {
    const path = join(folder, 'out.log');
    assert.equal(logThenFatal(path), 0);
    const written = readFileSync(path, 'utf8').trim().split('\n').map((line) => (JSON.parse(line) as { msg: string }).msg);
    assert.deepEqual(written, ['a', 'b', 'c', 'd']);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});

test('a flush while a slow reader has taken part of a line writes nothing into that line', { timeout: 20_000 }, async () => {
  const folder = mkdtempSync(join(tmpdir(), 'rawhttp-log-partial-'));
  try {
    const fifo = makeFifo(folder);
    const script = `
      import { openSync, constants } from 'node:fs';
      import { once } from 'node:events';
      import { pino } from 'pino';
      const { LogOutput } = await import(${JSON.stringify(LOG_OUTPUT)});
      const output = new LogOutput(openSync(${JSON.stringify(fifo)}, constants.O_RDWR | constants.O_NONBLOCK));
      const log = pino({ base: null, timestamp: false }, output.stream);
      // Longer than the pipe holds, which nobody reads yet: part is written, the rest waits.
      const partWritten = once(output.stream, 'write');
      log.info('x'.repeat(${PIPE_CAPACITY * 3}));
      await partWritten;
      process.stdout.write('partly written\\n');
      log.info('b');
      log.fatal('d');
      process.exit(0);
    `;
    // Opened before the child, without waiting for a writer, so that no read can wait on one.
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: join(import.meta.dirname, '..', '..', '..'), stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.setEncoding('utf8');
    let said = '';
    const written: Buffer[] = [];
    // The reader starts once the line is partly written, while the flush waits for one.
    let draining: NodeJS.Timeout | undefined;
    child.stdout.on('data', (text: string) => {
      said += text;
      draining ??= setInterval(() => drain(reader, written), 5);
    });
    await once(child, 'exit');
    clearInterval(draining);
    drain(reader, written);
    closeSync(reader);
    assert.equal(said, 'partly written\n');
    assert.match(Buffer.concat(written).toString(), /^\{"level":30,"msg":"x+$/, 'only the long line, nothing written inside it');
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});

test('a write that failed (a full disk) is tried again by itself, so lines held past the cap go out once the disk has room', () => {
  // fs.write for one descriptor fails with ENOSPC until `full` is cleared: what sonic-boom calls.
  const script = `
    import fs from 'node:fs';
    const FD = 99;
    let full = true;
    let written = 0;
    const write = fs.write;
    fs.write = function (fd, data, ...rest) {
      if (fd !== FD) return write.call(this, fd, data, ...rest);
      const callback = rest.at(-1);
      if (full) return process.nextTick(callback, Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' }));
      const bytes = Buffer.byteLength(data);
      written += bytes;
      process.nextTick(callback, null, bytes);
    };
    const { LogOutput, LOG_BUFFER_MAX_BYTES } = await import(${JSON.stringify(LOG_OUTPUT)});
    const output = new LogOutput(FD);
    const line = 'x'.repeat(64 * 1024) + '\\n';
    // More than the cap: the lines held reach it, the rest are dropped, and nothing new comes.
    for (let i = 0; i < LOG_BUFFER_MAX_BYTES / line.length + 2; i++) output.stream.write(line);
    await new Promise((resolve) => setTimeout(resolve, 50));
    full = false;
    await output.settled(5000);
    process.stdout.write(JSON.stringify({ written, dropped: output.droppedLines, cap: LOG_BUFFER_MAX_BYTES }));
    process.exit(0);
  `;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: join(import.meta.dirname, '..', '..', '..'), encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' });
  assert.equal(child.status, 0, child.stderr);
  const { written, dropped, cap } = JSON.parse(child.stdout) as { written: number; dropped: number; cap: number };
  assert.ok(dropped > 0, 'lines were dropped at the cap');
  assert.ok(written > cap - 64 * 1024, `the lines held went out once the disk had room (${written} bytes)`);
});

test('a reader that closed the pipe (EPIPE): the lines held and every line after are counted as dropped; before, writes go straight to sonic-boom', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'rawhttp-log-epipe-'));
  try {
    const fifo = makeFifo(folder);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    const output = new LogOutput(writer);
    const log = pino({ base: null, timestamp: false }, output.stream);
    // sonic-boom's own write, as an unwrapped destination has it: no check on the path of every line.
    assert.equal(output.stream.write, pino.destination({ fd: writer, sync: true }).write);
    closeSync(reader);
    const failed = once(output.stream, 'error');
    // `a` is taken by an asynchronous write at once, `b` and `c` wait behind it: all three are lost with it.
    log.info('a');
    log.info('b');
    log.info('c');
    await failed;
    assert.equal(output.droppedLines, 3, 'the lines held when the write failed');
    log.info('d');
    log.info('e');
    assert.equal(output.droppedLines, 5, 'and each line since');
    closeSync(writer);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});
