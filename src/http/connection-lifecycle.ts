// Where a connection is in its life (docs/architecture.md, "The connection's states"): the
// states, the one rule of how they move, and what they mean for reading, writing and closing.
// Pure; the connection holds the state and acts on it.

/**
 * - serving: reading and answering requests;
 * - draining: shutdown: finish what is in flight, read at most one more request, then close;
 * - client-ended: the client sent FIN: answer every request it completed, then close;
 * - ended: our side is closed, after the last response or a timeout; the client's close is awaited;
 * - closed: the socket is gone.
 */
export type Lifecycle = 'serving' | 'draining' | 'client-ended' | 'ended' | 'closed';
const ORDER: readonly Lifecycle[] = ['serving', 'draining', 'client-ended', 'ended', 'closed'];

/** Where a move from `from` to `to` leads: only forward, so a move back leaves it at `from`. */
export function advance(from: Lifecycle, to: Lifecycle): Lifecycle {
  return ORDER.indexOf(to) > ORDER.indexOf(from) ? to : from;
}

/** Our side is closed, or the socket is gone: nothing more is read or written. */
export function hasEnded(lifecycle: Lifecycle): boolean {
  return lifecycle === 'ended' || lifecycle === 'closed';
}

/** The connection closes once it has answered what it has: draining, or the client sent FIN. */
export function closesWhenAnswered(lifecycle: Lifecycle): boolean {
  return lifecycle === 'draining' || lifecycle === 'client-ended';
}
