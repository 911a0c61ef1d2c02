/**
 * The last `size` things that happened (files rotated, replayed, failed), newest first: the bounded
 * memory a status page shows as "recent", so a long-running process never grows it.
 */
export class RecentList<T> {
  private readonly items: T[] = [];

  constructor(readonly size: number) {}

  /** Adds `item` as the newest, forgetting the oldest beyond `size`. */
  add(item: T): T {
    this.items.unshift(item);
    if (this.items.length > this.size) this.items.length = this.size;
    return item;
  }

  /** The newest item that matches, if any. */
  find(match: (item: T) => boolean): T | undefined {
    return this.items.find(match);
  }

  /** Newest first. */
  list(): T[] {
    return [...this.items];
  }
}
