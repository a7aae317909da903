/**
 * The clock of the per-process timing that tests need to move: the access_token's lease and
 * memory copy (app/service/accessToken.ts), the follower sync's lease and heartbeat
 * (app/service/followerSync.ts) and the reply rules' cache (app/service/autoReply.ts), and the
 * WeChat client's backoff between attempts (app/service/wechatTransport.ts).
 * Tests replace its methods through test/support/clock.ts (egg-mock restores them after each
 * test) instead of sleeping past a lease or a cache lifetime.
 */
export interface Clock {
  /** Milliseconds since the epoch */
  now(): number;
  /** Calls `tick` every `ms` until the returned function is called. */
  every(ms: number, tick: () => unknown): () => void;
  /** Settles after `ms` (a backoff): a test sees the delays asked for, or holds the wait at a gate. */
  wait(ms: number): Promise<void>;
}

export const clock: Clock = {
  now: () => Date.now(),
  every(ms, tick) {
    const timer = setInterval(tick, ms);
    return () => clearInterval(timer);
  },
  wait: ms => new Promise(resolve => setTimeout(resolve, ms)),
};
