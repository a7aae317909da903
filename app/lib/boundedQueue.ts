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
  onError?: (err: unknown, item: T) => void;
}

export type OfferResult = 'started' | 'queued' | 'refused';

export class BoundedQueue<T> {
  private readonly waiting: T[] = [];
  private active = 0;
  private readonly idleWaiters: Array<() => void> = [];

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
    return 'refused';
  }

  /** Resolves once nothing is running or waiting. */
  idle(): Promise<void> {
    if (this.active === 0 && this.waiting.length === 0) return Promise.resolve();
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

  private finished(): void {
    this.active--;
    const next = this.waiting.shift();
    if (next !== undefined) {
      this.start(next);
    } else if (this.active === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }
}
