// The server's registry of open sockets and connections: add and remove in constant time,
// iterate for the timeout sweep and shutdown. Not a Set on purpose: measured on Node.js 24, a
// Set that churns, as this registry does on every connection, kept closed connections' objects
// from dying young (docs/memory.md). V8 links each hash table a Set outgrows to the next one,
// for iterators still walking it: the likely reason. An array whose slots are overwritten
// keeps nothing of what it held.

/** Where an item sits; hand it back to remove the item. */
export interface Slot {
  index: number;
}

export class SlotList<T> {
  private readonly items: T[] = [];
  private readonly slots: Slot[] = [];

  get size(): number {
    return this.items.length;
  }

  add(item: T): Slot {
    const slot = { index: this.items.length };
    this.items.push(item);
    this.slots.push(slot);
    return slot;
  }

  /** Removes the item at `slot`; the last item takes its place. Removing twice does nothing. */
  remove(slot: Slot): void {
    const { index } = slot;
    if (index < 0) return;
    slot.index = -1;
    const lastItem = this.items.pop()!;
    const lastSlot = this.slots.pop()!;
    if (lastSlot === slot) return;
    this.items[index] = lastItem;
    this.slots[index] = lastSlot;
    lastSlot.index = index;
  }

  /** A copy of the items, so that the caller may remove some while it goes through them. */
  snapshot(): T[] {
    return this.items.slice();
  }
}
