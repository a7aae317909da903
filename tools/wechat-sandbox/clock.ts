/**
 * The sandbox's clock: what its rules read (code, token and media lifetimes, reply windows, quotas)
 * and what its waits run on (a latency or timeout fault, an override's delay, a push's 5-second
 * deadline). The real one is Date.now and setTimeout; tests pass one they move (like the app's
 * app/lib/clock.ts and test/support/clock.ts), so nothing waits in real time.
 */
export interface SandboxClock {
  /** Milliseconds since the epoch */
  now(): number;
  /** Calls `fire` once `ms` have passed on this clock; the returned function cancels it. */
  after(ms: number, fire: () => void): () => void;
}

export const realClock: SandboxClock = {
  now: () => Date.now(),
  after(ms, fire) {
    const timer = setTimeout(fire, ms);
    return () => clearTimeout(timer);
  },
};

/** A promise that settles after `ms` on `clock`. */
export function sleep(clock: SandboxClock, ms: number): Promise<void> {
  return new Promise(resolve => clock.after(ms, resolve));
}
