/**
 * A bounded in-memory work queue: at most `concurrency` items are processed at once, at most
 * `maxQueued` more wait in FIFO order, and anything past that is refused at once. Used for
 * the push inbox's background sends (app/service/push.ts): the inbox in MongoDB is the source
 * of truth, so a refused item simply stays pending for the sweeper, while a burst can neither
 * hold an unbounded number of outbound requests (and their memory) nor exceed WeChat's rate
 * limits from one process. Pure and framework-free.
 */
export interface BoundedQueueOptions<T> {
  /** Items processed at once (>= 1) */
  concurrency: number;
  /** Items waiting beyond those (>= 0) */
  maxQueued: number;
  /** Processes one item; a rejection is passed to `onError`, never stalls the queue */
  run: (item: T) => Promise<void>;
  /** A failed item, or a failed refill (item null) */
  onError?: (err: unknown, item: T | null) => void;
  /**
   * After the queue refused items, called once it has emptied (a slot free, nothing waiting)
   * with the number of items it can take; the items returned are offered (e.g. the refused
   * ones, read back from durable storage). Called again while it returns as many as asked for.
   */
  refill?: (room: number) => Promise<T[]>;
}

export type OfferResult = 'started' | 'queued' | 'refused';

export class BoundedQueue<T> {
  private readonly waiting: T[] = [];
  private active = 0;
  private readonly idleWaiters: Array<() => void> = [];
  /** Items were refused since the last refill */
  private refused = false;
  private refilling = false;

  constructor(private readonly options: BoundedQueueOptions<T>) {
    const { concurrency, maxQueued } = options;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be an integer >= 1, got ${concurrency}`);
    if (!Number.isInteger(maxQueued) || maxQueued < 0) throw new RangeError(`maxQueued must be an integer >= 0, got ${maxQueued}`);
  }

  /** Items being processed now */
  get running(): number {
    return this.active;
  }

  /** Items waiting for a free slot */
  get queued(): number {
    return this.waiting.length;
  }

  /** Starts `item` if a slot is free, else queues it if there is room, else refuses it. */
  offer(item: T): OfferResult {
    if (this.active < this.options.concurrency) {
      this.start(item);
      return 'started';
    }
    if (this.waiting.length < this.options.maxQueued) {
      this.waiting.push(item);
      return 'queued';
    }
    this.refused = true;
    return 'refused';
  }

  /**
   * Holds a free processing slot for an item that does not exist yet (it is still being
   * stored): true when one was free. The holder must then call `startReserved(item)` or
   * `release()` exactly once; a held slot counts as running. Nothing is queued or refused.
   */
  reserve(): boolean {
    if (this.active >= this.options.concurrency) return false;
    this.active++;
    return true;
  }

  /** Runs `item` in a slot taken with `reserve()`. */
  startReserved(item: T): void {
    this.active--;
    this.start(item);
  }

  /** Gives back a slot taken with `reserve()` unused; waiting items may start in it. */
  release(): void {
    this.finished();
  }

  /** Resolves once nothing is running, waiting or being refilled. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise(resolve => this.idleWaiters.push(resolve));
  }

  private start(item: T): void {
    this.active++;
    let result: Promise<void>;
    try {
      result = Promise.resolve(this.options.run(item));
    } catch (err) {
      result = Promise.reject(err);
    }
    result.catch(err => this.options.onError?.(err, item)).finally(() => this.finished());
  }

  private isIdle(): boolean {
    return this.active === 0 && this.waiting.length === 0 && !this.refilling;
  }

  private finished(): void {
    this.active--;
    const next = this.waiting.shift();
    if (next !== undefined) {
      this.start(next);
      return;
    }
    if (this.refused && this.options.refill && !this.refilling) this.runRefill(this.options.refill);
    this.notifyIdle();
  }

  private runRefill(refill: (room: number) => Promise<T[]>): void {
    this.refused = false;
    this.refilling = true;
    const room = this.options.concurrency - this.active + this.options.maxQueued;
    let result: Promise<T[]>;
    try {
      result = Promise.resolve(refill(room));
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(items => {
      this.refilling = false;
      for (const item of items) this.offer(item);
      // A full batch: there may be more where it came from.
      if (items.length >= room) this.refused = true;
    }, err => {
      this.refilling = false;
      this.options.onError?.(err, null);
    }).finally(() => this.notifyIdle());
  }

  private notifyIdle(): void {
    if (this.isIdle()) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
