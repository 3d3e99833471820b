// What a worker tells the main thread without a message: how far it is in its batch, and the
// descriptors it holds open that the main thread must close if the worker stops. A small
// SharedArrayBuffer per worker, written by the worker and read by the pool's watchdog, so a
// batch that stalls or a worker that dies can be attributed to one job, and nothing it opened
// is lost with it.

/** Slots for descriptors of one batch; more are not tracked (and would leak on a crash). */
const MAX_TRACKED_DESCRIPTORS = 64;
const STARTED = 0;
const DESCRIPTOR_COUNT = 1;
const FIRST_DESCRIPTOR = 2;
/** A slot whose descriptor the worker closed. */
const EMPTY = -1;

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

  /**
   * Worker: `fd` is open, and stays so until `releasing` or until the main thread receives the
   * result that holds it. Called after the open: a worker stopped in between leaks the
   * descriptor, which is safer than naming one it does not own. One already held is not listed
   * again (a job holds the file it opened, then its result holds it too): listed twice, it
   * would be closed twice when the worker stops, the second time perhaps as a number another
   * thread has opened since, and one `releasing` would leave it listed once.
   */
  holding(fd: number): void {
    const count = Atomics.load(this.cells, DESCRIPTOR_COUNT);
    if (this.slotOf(fd, count) !== -1) return;
    const free = this.slotOf(EMPTY, count);
    const slot = free === -1 ? count : free;
    if (slot === MAX_TRACKED_DESCRIPTORS) return;
    Atomics.store(this.cells, FIRST_DESCRIPTOR + slot, fd);
    if (slot === count) Atomics.store(this.cells, DESCRIPTOR_COUNT, count + 1);
  }

  /**
   * Worker, before it closes `fd`: forgets it. Never after the close: the number may be reused
   * at once (a socket the main thread accepts), and the pool would close that if the worker
   * stopped between the close and the forgetting.
   */
  releasing(fd: number): void {
    const slot = this.slotOf(fd, Atomics.load(this.cells, DESCRIPTOR_COUNT));
    if (slot !== -1) Atomics.store(this.cells, FIRST_DESCRIPTOR + slot, EMPTY);
  }

  /** The slot, among the first `count`, that lists `fd`; -1 if none. A loop, not a view: every static job calls it. */
  private slotOf(fd: number, count: number): number {
    for (let slot = 0; slot < count; slot++) if (Atomics.load(this.cells, FIRST_DESCRIPTOR + slot) === fd) return slot;
    return -1;
  }

  /**
   * The descriptors still held: read once the worker's thread has exited, when none of them can
   * be closed by it any more, and each is still the file it opened.
   */
  held(): number[] {
    const count = Atomics.load(this.cells, DESCRIPTOR_COUNT);
    return Array.from(this.cells.subarray(FIRST_DESCRIPTOR, FIRST_DESCRIPTOR + count)).filter((fd) => fd !== EMPTY);
  }
}
