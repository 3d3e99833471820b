// Sends a response's head and a byte range of an open file to a socket through one reused
// buffer: read a chunk, write it, and read the next one only when the socket has taken the
// last. The head leaves with the first chunk, once that is read whole. Memory stays at
// one chunk per download whatever the file size, and buffers are not allocated per chunk or
// per download but kept for the next one: freeing a fresh 256 KiB buffer per chunk
// (fs.createReadStream) costs full garbage collections (bench/README.md, Downloads).
import { close, read } from 'node:fs';
import type { Writable } from 'node:stream';

/** Read size: larger reads mean fewer events and system calls per MiB. */
const CHUNK_BYTES = 256 * 1024;

/** Buffers of finished downloads, for the next ones; at most MAX_SPARE_BUFFERS are kept. */
const spareBuffers: Buffer[] = [];
const MAX_SPARE_BUFFERS = 16;

/**
 * Reads in flight at once, over every download. Each holds one of libuv's threadpool threads
 * until it returns, and a read from a hung mount never does. Two other users may hang one
 * thread each, one call at a time: the disk gauges' statfs and the removal of temporaries. So
 * at least one thread stays for closes and the token file. The pool is the process's, so the
 * limit is too.
 */
const MAX_READS = Math.max(1, (Number(process.env['UV_THREADPOOL_SIZE']) || 4) - 3);
let readsInFlight = 0;
/** Downloads whose next read waits for one of those; a Set keeps their order and drops a stopped one at once. */
const waitingToRead = new Set<FileSender>();

export interface FileRange {
  readonly fd: number;
  readonly start: number;
  readonly length: number;
}

export type SendOutcome =
  | { readonly ok: true; readonly bytes: number }
  /**
   * Reading failed, or the file ended early. `begun`: the head went out, so the response is cut
   * short and the connection must go; else nothing was written, and another may take its place.
   */
  | { readonly ok: false; readonly begun: boolean; readonly reason: string; readonly error?: Error };

export class FileSender {
  /** Taken at the first read, so a download that waits for its turn holds no buffer. */
  private buffer: Buffer | null = null;
  private sent = 0;
  private stopped = false;
  /** A read is running on libuv's pool: the descriptor may only be closed once it returns. */
  private reading = false;
  private fdClosed = false;
  /** Bytes of the first chunk read so far, while the head waits for the whole of it. */
  private held = 0;

  /**
   * `head` is the response's, written with the first chunk (then null). `onProgress` runs
   * after each chunk the socket has taken; `onDone` runs once, unless the sender is stopped
   * first. The descriptor is closed in every case.
   */
  constructor(
    private readonly socket: Writable,
    private head: Uint8Array | null,
    private readonly file: FileRange,
    private readonly onProgress: () => void,
    private readonly onDone: (outcome: SendOutcome) => void,
  ) {}

  start(): void {
    this.readNext();
  }

  /** Whether the head has gone out. */
  get begun(): boolean {
    return this.head === null;
  }

  /** The connection is gone: send nothing more and release the file. */
  stop(): void {
    this.stopped = true;
    waitingToRead.delete(this);
    if (!this.reading) this.closeFd();
  }

  /** A read returned: the download that waited longest reads next. */
  private static readFinished(): void {
    readsInFlight--;
    const next = waitingToRead.values().next();
    if (next.done === true) return;
    waitingToRead.delete(next.value);
    next.value.readNext();
  }

  /** Reads the next chunk now, or when a read in flight returns. */
  private readNext(): void {
    if (readsInFlight >= MAX_READS) {
      waitingToRead.add(this);
      return;
    }
    const { fd, start, length } = this.file;
    const buffer = (this.buffer ??= spareBuffers.pop() ?? Buffer.allocUnsafe(CHUNK_BYTES));
    readsInFlight++;
    this.reading = true;
    read(fd, buffer, this.held, Math.min(buffer.length - this.held, length - this.sent), start + this.sent, (error, bytesRead) => {
      this.reading = false;
      FileSender.readFinished();
      if (this.stopped) return this.closeFd();
      const head = this.head;
      const begun = head === null;
      if (error !== null) return this.finish({ ok: false, begun, reason: begun ? 'file read failed mid-response' : 'file read failed before the response was sent', error });
      // The file shrank since its head was made: the announced length can no longer be kept.
      if (bytesRead === 0) return this.finish({ ok: false, begun, reason: begun ? 'file changed while being sent' : 'file changed before being sent' });
      this.sent += bytesRead;
      if (head === null) return this.write(buffer, bytesRead);
      this.held += bytesRead;
      // A short read may end at the file's end: only a whole first chunk shows the file as long
      // as its head says, and until the head is sent another response can take its place.
      if (this.held < Math.min(buffer.length, length)) return this.readNext();
      // Corked, the head and the first chunk leave in one system call (no Nagle stall between them).
      this.socket.cork();
      this.socket.write(head);
      this.head = null;
      this.write(buffer, this.held);
      this.held = 0;
      this.socket.uncork();
    });
  }

  /** Writes the buffer's first `bytes`, then reads on, or reports the range sent. */
  private write(buffer: Buffer, bytes: number): void {
    // The callback runs once the socket no longer needs the buffer, so it can be refilled.
    this.socket.write(buffer.subarray(0, bytes), (writeError) => {
      if (this.stopped) return this.closeFd();
      // A failed write means the socket is being destroyed; its close stops this sender.
      if (writeError) return;
      this.onProgress();
      if (this.sent < this.file.length) return this.readNext();
      // Only here is the buffer certainly free: after a stop or an error the socket may
      // still hold a write from it, so it is left to the garbage collector instead.
      if (spareBuffers.length < MAX_SPARE_BUFFERS) spareBuffers.push(buffer);
      this.finish({ ok: true, bytes: this.sent });
    });
  }

  private finish(outcome: SendOutcome): void {
    this.stopped = true;
    this.closeFd();
    this.onDone(outcome);
  }

  private closeFd(): void {
    if (this.fdClosed) return;
    this.fdClosed = true;
    close(this.file.fd, () => undefined);
  }
}
