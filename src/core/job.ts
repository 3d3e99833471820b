// The jobs the engine hands to the workers and the results they send back. Byte buffers
// travel as transferred ArrayBuffers (moved, not copied), so every buffer named here owns its
// memory whole.
import type { HeaderList, Response } from './response.js';

/** The request headers the conditional rules read (RFC 9110 §13, §14), raw values. */
export interface ConditionalHeaders {
  readonly ifMatch?: string;
  readonly ifNoneMatch?: string;
  readonly ifModifiedSince?: string;
  readonly ifUnmodifiedSince?: string;
  readonly range?: string;
  readonly ifRange?: string;
}

/** GET and HEAD read a file; POST to a file's path only learns whether it exists (405 or 404). */
export type StaticMethod = 'GET' | 'HEAD' | 'POST';

/** A file under the document root or the uploads folder; `path` is decoded and checked. */
export interface StaticJob {
  readonly kind: 'static';
  readonly method: StaticMethod;
  readonly path: string;
  readonly conditions: ConditionalHeaders;
  /** The request's Accept-Encoding; none for an HTTP/1.0 request (router.ts). */
  readonly acceptEncoding: string | undefined;
  /** The target's query, "?" included, or "": a folder's redirect to its "/" keeps it. */
  readonly query: string;
  /**
   * Set by the main thread's cache when it reads again a file whose bytes it may keep
   * (CachedFile.settled): the file as it holds it. A file still the same is not read (see
   * JobResult.unchanged).
   */
  readonly held?: FileFacts;
}

/** A JSON document to validate and store. */
export interface UploadJob {
  readonly kind: 'upload';
  readonly body: Uint8Array;
}

export type Job = StaticJob | UploadJob;

/**
 * An upload as a worker stores it: with the name of its temporary file, chosen on the main
 * thread, which so knows exactly what to remove when the worker stops (upload-leftovers.ts).
 */
export interface NamedUploadJob extends UploadJob {
  readonly temporary: string;
}

/** What the workers run. */
export type WorkerJob = StaticJob | NamedUploadJob;

/** What the validators and ranges are computed from. */
export interface FileFacts {
  readonly size: number;
  readonly mtimeMs: number;
  /** A strong entity tag, quotes included. */
  readonly etag: string;
  /**
   * Which file this is, and when it last changed in any way: a write, a rename or a new
   * modification time changes `ctimeMs`, which nobody can set. Size and mtime alone cannot tell
   * a copy made with `cp -p` from the file it replaced.
   */
  readonly ino: number;
  readonly ctimeMs: number;
}

/** One file as sent: its headers and validators. */
export interface Representation {
  /** Everything a 200 carries: content type or disposition, encoding, ranges, validators. */
  readonly headers: HeaderList;
  /** What a 304 repeats: ETag, Last-Modified, Cache-Control, Vary. */
  readonly validators: HeaderList;
  readonly facts: FileFacts;
}

/** A small file read whole, which the main thread may answer from memory for a while. */
export interface CachedFile {
  readonly representation: Representation;
  readonly bytes: Uint8Array;
  /**
   * The file's last change was over before it was read (handlers/settled.ts): any later change
   * moves its times, so a refresh that finds them the same may keep the bytes. Otherwise a
   * change in the same clock tick as the read could hide behind the same times: a refresh
   * reads the file again.
   */
  readonly settled: boolean;
}

/** A log line the worker wants written on the main thread, where the client is known. */
export interface WorkLog {
  readonly level: 'warn' | 'error' | 'info';
  readonly message: string;
  readonly fields?: Readonly<Record<string, string | number>>;
  /**
   * A condition of the whole process (descriptors exhausted, the uploads folder full or
   * unwritable), which every request meets while it lasts: a message is written at most once
   * a second, with how many were held back.
   */
  readonly oncePerSecond?: true;
}

export interface JobResult {
  /** A refusal's status, and its security rule if it has one, are its catalogue's (refusals.ts). */
  readonly response: Response;
  /** For a refused request, the main thread adds the refusal's code as `reason`; free text goes in `detail`. */
  readonly log?: WorkLog;
  /** Bytes stored by an upload. */
  readonly storedBytes?: number;
  readonly cacheable?: CachedFile;
  /**
   * The file is still the job's `held` one, so it was not read (the response is a 304): the
   * cache's bytes stay good. Its representation as it is now, whose fields may have changed
   * all the same (a Vary since a precompressed sibling appeared).
   */
  readonly unchanged?: Representation;
}
