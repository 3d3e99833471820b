// The memory all request bodies may hold together (MAX_BODY_MEMORY_BYTES), from the moment a
// body starts to arrive until the job that reads it is done. A request takes its share when
// its head is read: the announced length, or MAX_BODY_BYTES for a chunked body, whose length
// is unknown until its end. A request that does not fit is answered 503 at once, before its
// body is read, rather than made to wait: the client learns to retry, and no connection is
// held open only to wait for memory.

/** A share of the budget, given back once (later calls do nothing). */
export interface BodyShare {
  release(): void;
}

export class BodyBudget {
  private held = 0;

  constructor(readonly limit: number) {}

  /** Bytes taken by bodies being received, waiting for a worker, or being handled. */
  get heldBytes(): number {
    return this.held;
  }

  /** A share of `bytes`, or null when it does not fit. */
  take(bytes: number): BodyShare | null {
    if (this.held + bytes > this.limit) return null;
    this.held += bytes;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.held -= bytes;
      },
    };
  }
}
