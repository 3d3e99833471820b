// The memory all request bodies may hold together (MAX_BODY_MEMORY_BYTES), from the moment a
// body starts to arrive until the job that reads it is done. A request takes its share when
// its head is read: the announced length, or MAX_BODY_BYTES for a chunked body, whose length
// is unknown until its end. A request that does not fit is refused at once, before its body
// is read, rather than made to wait: the client learns to retry, and no connection is held
// open only to wait for memory.
//
// One client may hold only a part of the budget (MAX_BODY_MEMORY_PER_CLIENT_BYTES): heads that
// announce large bodies and never send them hold their share until REQUEST_TIMEOUT_MS, and
// without a cap a single address could keep everyone else's uploads out that way.

/** A share of the budget, given back once (later calls do nothing). */
export interface BodyShare {
  release(): void;
}

export type BodyTake =
  | { readonly kind: 'taken'; readonly share: BodyShare }
  /** `budget`: all bodies together hold the budget (the server is full); `client`: this client holds its part. */
  | { readonly kind: 'refused'; readonly by: 'budget' | 'client' };

export class BodyBudget {
  /** The most one client may hold: its setting, but never less than one largest body nor more than the budget. */
  readonly perClient: number;
  private held = 0;
  /** Bytes held per client; a client with nothing held has no entry (so at most one per body in flight). */
  private readonly heldByClient = new Map<string, number>();

  constructor(
    private readonly limit: number,
    settings: { readonly perClient: number; readonly maxBodyBytes: number },
  ) {
    this.perClient = Math.min(limit, Math.max(settings.perClient, settings.maxBodyBytes));
  }

  /** Bytes taken by bodies being received, waiting for a worker, or being handled. */
  get heldBytes(): number {
    return this.held;
  }

  /** Clients holding some of the budget now (tests check that the map empties). */
  get clientsHolding(): number {
    return this.heldByClient.size;
  }

  /**
   * A share of `bytes` for `client` (a per-client limits key), or why not. A null client
   * stands for many (a trusted proxy's own requests) and is held to the budget only.
   */
  take(bytes: number, client: string | null): BodyTake {
    const clientHeld = client === null ? 0 : (this.heldByClient.get(client) ?? 0);
    if (client !== null && clientHeld + bytes > this.perClient) return { kind: 'refused', by: 'client' };
    if (this.held + bytes > this.limit) return { kind: 'refused', by: 'budget' };
    this.held += bytes;
    if (client !== null) this.heldByClient.set(client, clientHeld + bytes);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.held -= bytes;
      if (client === null) return;
      const left = this.heldByClient.get(client)! - bytes;
      if (left === 0) this.heldByClient.delete(client);
      else this.heldByClient.set(client, left);
    };
    return { kind: 'taken', share: { release } };
  }
}
