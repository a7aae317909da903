/**
 * The building blocks of a process's in-memory state (app/extend/application.ts holds one of
 * each per app instance). Pure and framework-free: time is passed in, never read here.
 */

/**
 * One run per key at a time in this process: a caller asking for a key already in flight gets the
 * same promise, so many concurrent callers cost one refresh, upload or WeChat call.
 */
export class SingleFlight<T> {
  private readonly flights = new Map<string, Promise<T>>();

  run(key: string, work: () => Promise<T>): Promise<T> {
    const pending = this.flights.get(key);
    if (pending) return pending;
    // `work` starts at once (a synchronous throw becomes a rejection, like an async one).
    const flight: Promise<T> = new Promise<T>(resolve => resolve(work())).finally(() => {
      // Only its own entry: after clear() the key may belong to a newer run.
      if (this.flights.get(key) === flight) this.flights.delete(key);
    });
    this.flights.set(key, flight);
    return flight;
  }

  /** Runs in flight */
  get size(): number {
    return this.flights.size;
  }

  /** Forgets the runs in flight: they finish on their own, and the next caller starts a new one. */
  clear(): void {
    this.flights.clear();
  }
}

/**
 * This process's copies of values whose source of truth is elsewhere (a document in MongoDB),
 * each used until its `refreshAt`, and the refreshes in flight, one per key. `R` is what a
 * refresh resolves to.
 */
export class LocalCopies<V, R = V> {
  readonly refreshes = new SingleFlight<R>();
  private readonly copies = new Map<string, { value: V; refreshAt: number }>();

  /** The copy of `key` while it needs no refresh at `now` (epoch ms). */
  fresh(key: string, now: number): V | undefined {
    const copy = this.copies.get(key);
    return copy && now < copy.refreshAt ? copy.value : undefined;
  }

  /** The copy of `key`, due for a refresh or not. */
  peek(key: string): V | undefined {
    return this.copies.get(key)?.value;
  }

  set(key: string, value: V, refreshAt: number): V {
    this.copies.set(key, { value, refreshAt });
    return value;
  }

  delete(key: string): void {
    this.copies.delete(key);
  }

  /** Forgets every copy and refresh in flight, as a restart would: the next caller reads the source again. */
  reset(): void {
    this.copies.clear();
    this.refreshes.clear();
  }
}

/**
 * One read shared by every caller for `ttlMs` after it started, and made again at once after
 * `invalidate()` (a write through this process). A failed read is not kept.
 */
export class CachedRead<T> {
  private entry: { expiresAt: number; value: Promise<T> } | null = null;

  get(now: number, ttlMs: number, read: () => Promise<T>): Promise<T> {
    if (this.entry && this.entry.expiresAt > now) return this.entry.value;
    const value = read();
    const entry = { expiresAt: now + ttlMs, value };
    this.entry = entry;
    value.catch(() => {
      if (this.entry === entry) this.entry = null;
    });
    return value;
  }

  /** The next caller reads again (callers of a read in flight still get its result). */
  invalidate(): void {
    this.entry = null;
  }
}
