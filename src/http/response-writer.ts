// Puts responses on the wire: the head (see head.ts) and the body, in one corked write where
// the body is in memory, or streamed from a file with backpressure. Knows nothing of request
// order or connection state: the connection decides what is written when.
import { close as closeFd } from 'node:fs';
import type { Duplex } from 'node:stream';
import type { Response, ResponseBody } from '../core/response.js';
import { FileSender, type SendOutcome } from './file-sender.js';
import { CONTINUE_END, CONTINUE_START, headBytes, type ConnectionHeaders } from './head.js';
import { assembleHead } from './head-slab.js';
import type { TraceId } from './trace-context.js';


export class ResponseWriter {
  /** The file being sent, while one is. */
  private sender: FileSender | null = null;

  /**
   * `onProgress`: a streamed file's chunk has been taken by the stream (deadlines move on).
   * `onStreamed`: the streamed file has been handed to the stream whole, or could not be.
   */
  constructor(
    private readonly stream: Duplex,
    private readonly onProgress: () => void,
    private readonly onStreamed: (outcome: SendOutcome) => void,
  ) {}

  /** A file is being streamed: nothing else may be written until it is done. */
  get busy(): boolean {
    return this.sender !== null;
  }

  /** Whether the response being streamed has begun to go out (its head waits for the file's first chunk). */
  get streamBegun(): boolean {
    return this.sender?.begun === true;
  }

  /** The interim `100 Continue`, with the trace id its request's final response will carry. */
  continue(traceId: TraceId): void {
    this.stream.write(assembleHead(CONTINUE_START, traceId, '', CONTINUE_END));
  }

  /**
   * Writes `response`, with this request's own header lines (the trace id, and `fieldLines`:
   * CRLF included, usually empty) between its head's start and its connection fields. A body in memory is written at once
   * and its outcome returned; a file is streamed, head and all, and `onStreamed` runs once it
   * is done. The head waits for the file's first chunk: a file that shrank since the head was
   * made (while the response waited its turn) is found before any byte of it is sent.
   */
  write(response: Response, connection: ConnectionHeaders, traceId: TraceId, fieldLines: string): SendOutcome | 'streaming' {
    const [start, ending] = headBytes(response, connection);
    const headBuffer = assembleHead(start, traceId, fieldLines, ending);
    const head = headBuffer.length;
    const body = response.body;
    if (body.kind === 'file' && body.length > 0) {
      this.streamFile(body, headBuffer);
      return 'streaming';
    }
    // Corked, head and body leave in one writev system call, so one packet, without copying the body.
    this.stream.cork();
    this.stream.write(headBuffer);
    if (body.kind === 'bytes') this.stream.write(body.bytes);
    this.stream.uncork();
    if (body.kind === 'file') closeFd(body.fd, () => undefined);
    return { ok: true, bytes: head + (body.kind === 'bytes' ? body.bytes.length : 0) };
  }

  /** The connection is gone: stop sending and release the file. */
  stop(): void {
    this.sender?.stop();
    this.sender = null;
  }

  private streamFile(file: Extract<ResponseBody, { kind: 'file' }>, head: Uint8Array): void {
    const { fd, start, length } = file;
    this.sender = new FileSender(this.stream, head, { fd, start, length }, this.onProgress, (outcome) => {
      this.sender = null;
      this.onStreamed(outcome.ok ? { ok: true, bytes: head.length + outcome.bytes } : outcome);
    });
    this.sender.start();
  }
}
