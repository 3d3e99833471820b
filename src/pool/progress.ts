// What a worker tells the main thread without a message: how far it is in its batch, and the
// descriptors it opened for results not yet delivered. A small SharedArrayBuffer per worker,
// written by the worker and read by the pool's watchdog, so a batch that stalls or a worker
// that dies can be attributed to one job, and nothing it opened is lost with it.

/** Slots for descriptors of one batch; more are not tracked (and would leak on a crash). */
const MAX_TRACKED_DESCRIPTORS = 64;
const STARTED = 0;
const DESCRIPTOR_COUNT = 1;
const FIRST_DESCRIPTOR = 2;

export class BatchProgress {
  private readonly cells: Int32Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(4 * (FIRST_DESCRIPTOR + MAX_TRACKED_DESCRIPTORS))) {
    this.cells = new Int32Array(buffer);
  }

  /** Main thread, before a batch is posted: nothing started, nothing held. */
  reset(): void {
    Atomics.store(this.cells, STARTED, 0);
    Atomics.store(this.cells, DESCRIPTOR_COUNT, 0);
  }

  /** Worker: the job at `index` (0-based) of the batch starts now. */
  starting(index: number): void {
    Atomics.store(this.cells, STARTED, index + 1);
  }

  /** How many jobs of the batch have started; the last of them is running or just done. */
  started(): number {
    return Atomics.load(this.cells, STARTED);
  }

  /** Worker: a result holds these open descriptors until the main thread receives it. */
  holding(descriptors: readonly number[]): void {
    for (const fd of descriptors) {
      const count = Atomics.load(this.cells, DESCRIPTOR_COUNT);
      if (count === MAX_TRACKED_DESCRIPTORS) return;
      Atomics.store(this.cells, FIRST_DESCRIPTOR + count, fd);
      Atomics.store(this.cells, DESCRIPTOR_COUNT, count + 1);
    }
  }

  /** The descriptors of results that were never delivered (read after the worker died). */
  held(): number[] {
    const count = Atomics.load(this.cells, DESCRIPTOR_COUNT);
    return Array.from(this.cells.subarray(FIRST_DESCRIPTOR, FIRST_DESCRIPTOR + count));
  }
}
