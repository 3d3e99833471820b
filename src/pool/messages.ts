// The messages between the main thread and the workers, for any job and result types. Jobs
// travel in batches, one message per batch each way; byte buffers are transferred (moved,
// not copied).

export interface JobMessage<Job> {
  readonly id: number;
  readonly job: Job;
}

export interface ResultMessage<Result> {
  readonly id: number;
  readonly result: Result;
}

export type ToWorker<Job> = { readonly type: 'batch'; readonly jobs: readonly JobMessage<Job>[] };
export type FromWorker<Result> =
  | { readonly type: 'results'; readonly results: readonly ResultMessage<Result>[] }
  /** Sent at once, while the job runs: what the job has done that must not be lost with the worker. */
  | { readonly type: 'note'; readonly id: number; readonly note: string };

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
