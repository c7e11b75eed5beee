// Events between the reader of a run's stream and the one caller iterating them. The reader never
// waits for the caller: tool calls must be answered even when nobody iterates (or iterates slowly).

export class EventQueue<T> {
  private items: T[] = [];
  private head = 0;
  private waiting: (() => void) | null = null;
  private closed = false;
  private failure: { error: unknown } | null = null;

  push(item: T): void {
    this.items.push(item);
    this.wake();
  }

  /** No more items; the iterator ends after the buffered ones, throwing `error` if given. */
  close(error?: { error: unknown }): void {
    if (this.closed) return;
    this.closed = true;
    this.failure = error ?? null;
    this.wake();
  }

  async next(): Promise<IteratorResult<T, undefined>> {
    while (this.head === this.items.length) {
      if (this.closed) {
        if (this.failure) {
          const { error } = this.failure;
          this.failure = null; // thrown once; later calls just report the end
          throw error;
        }
        return { done: true, value: undefined };
      }
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
    }
    const item = this.items[this.head] as T;
    // Drop consumed items so a long run's tokens are not all kept until it ends.
    this.items[this.head] = undefined as T;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return { done: false, value: item };
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.();
  }
}
