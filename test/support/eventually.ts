export interface EventuallyOptions {
  /** What is awaited, for the failure message */
  what?: string;
  /** Default 15 s: work that crosses real ports, a second app instance or a database restart */
  timeoutMs?: number;
  /** Default 25 ms */
  intervalMs?: number;
}

/**
 * Polls `check` until it returns a truthy value, and returns that value; fails after `timeoutMs`.
 * A check that throws counts as "not yet" (a request during a database outage, a document not
 * written yet); its last error is in the failure message.
 *
 * For work the test cannot await: background processing behind a real port, another app
 * instance, a reconnect. Work egg-mock tracks is awaited with `app.backgroundTasksFinished()`.
 */
export async function eventually<T>(check: () => Promise<T | null | undefined | false>, options: EventuallyOptions = {}): Promise<T> {
  const { what = 'the condition', timeoutMs = 15_000, intervalMs = 25 } = options;
  // performance.now: tests move Date.now (mock), which must not end the wait early.
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (performance.now() > deadline) {
      const cause = lastError === undefined ? '' : ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await new Promise(resolve => setTimeout(resolve, intervalMs));
  }
}
