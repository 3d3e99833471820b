// A bounded FIFO on a ring buffer: O(1) push and shift, no array reshuffling under load.

export class BoundedQueue<T> {
  private readonly items: (T | undefined)[];
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.count;
  }

  /** Adds at the tail; false when full. */
  push(item: T): boolean {
    if (this.count === this.capacity) return false;
    this.items[(this.head + this.count) % this.capacity] = item;
    this.count++;
    return true;
  }

  /** Puts back at the head (a job whose worker died before it started); false when full. */
  unshift(item: T): boolean {
    if (this.count === this.capacity) return false;
    this.head = (this.head + this.capacity - 1) % this.capacity;
    this.items[this.head] = item;
    this.count++;
    return true;
  }

  /** The oldest item, left in place; undefined when empty. */
  peek(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.head];
  }

  /** Removes from the head; undefined when empty. */
  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    return item;
  }

  /** Removes and returns everything, oldest first. */
  drain(): T[] {
    const all: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) all.push(item);
    return all;
  }
}
