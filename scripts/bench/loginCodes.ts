/**
 * Login codes for the login phases of `npm run bench`. Each login needs a fresh single-use code
 * prepared beforehand (through the sandbox's control API, outside the measurement). A fixed count
 * ran out mid-phase on a faster machine, and the refused logins then counted in the rate. So the
 * codes are sized from a rate measured on the machine itself, the health phase's: a login does
 * all that GET /health does (a worker, a MongoDB round trip) and more, so it cannot go faster
 * (the warm-up's own rate would not do: a cold login phase runs well below the warm one after
 * it). The phase sends at most one request per code (runPhase's `maxRequests`); one that runs out
 * all the same says `ranOut`, and the bench fails.
 */

/** Margin over the ceiling rate, for its own measurement noise */
export const LOGIN_CODE_HEADROOM = 1.2;

/**
 * Codes for a phase of `seconds` when logins cannot exceed `ceilingRate` a second, with headroom,
 * plus one in flight per connection.
 */
export function loginCodesFor(ceilingRate: number, seconds: number, connections: number, headroom = LOGIN_CODE_HEADROOM): number {
  if (!(ceilingRate > 0) || !(seconds > 0) || !(connections > 0) || !(headroom >= 1)) {
    throw new Error(`cannot size login codes from rate ${ceilingRate}/s, ${seconds} s, ${connections} connections, headroom ${headroom}`);
  }
  return Math.ceil(ceilingRate * seconds * headroom) + connections;
}
