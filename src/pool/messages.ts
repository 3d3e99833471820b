// The messages between the main thread and the workers. Byte buffers travel as transferred
// ArrayBuffers (moved, not copied), so every buffer named here owns its memory whole.
import type { HandlerResponse } from '../http/response.js';
import type { Representation } from '../handlers/representation.js';
import type { Route } from '../handlers/router.js';
import type { SecurityRule } from '../security/path.js';

export type StaticWork = Extract<Route, { kind: 'static' }>;
export interface UploadWork {
  readonly kind: 'upload';
  readonly body: Uint8Array;
}
/** What a worker is asked to do for one request. */
export type Work = StaticWork | UploadWork;

/** A log line the worker wants written on the main thread, where the client is known. */
export interface WorkLog {
  readonly level: 'warn' | 'error' | 'info';
  readonly message: string;
  readonly fields?: Readonly<Record<string, string | number>>;
}

export interface WorkResult {
  readonly response: HandlerResponse;
  readonly log?: WorkLog;
  /** Set when the refusal was a security rule, for the rejection metric. */
  readonly securityRule?: SecurityRule;
  /** Bytes stored by an upload. */
  readonly storedBytes?: number;
  /** A small file read whole, for the main thread's response cache. */
  readonly cacheable?: { readonly representation: Representation; readonly bytes: Uint8Array };
}

export interface JobMessage {
  readonly id: number;
  readonly work: Work;
}

export interface ResultMessage {
  readonly id: number;
  readonly result: WorkResult;
}

export type ToWorker = { readonly type: 'batch'; readonly jobs: readonly JobMessage[] };
export type FromWorker = { readonly type: 'results'; readonly results: readonly ResultMessage[] };

/** The buffers of a message that can be moved instead of copied, each listed once. */
export function transferList(buffers: Iterable<Uint8Array | undefined>): ArrayBuffer[] {
  const list = new Set<ArrayBuffer>();
  for (const bytes of buffers) {
    // Only a view over a whole, unshared ArrayBuffer may be moved (never Node's shared Buffer pool).
    if (bytes !== undefined && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.byteLength > 0) {
      list.add(bytes.buffer as ArrayBuffer);
    }
  }
  return [...list];
}
