/**
 * Which errors from mongoose and the MongoDB driver mean "the database cannot serve this request
 * right now" (unreachable, failing over, not acknowledging the write concern), as opposed to a bug
 * or bad data. They reach the API as DATABASE_UNAVAILABLE, and a push is left unanswered so that
 * WeChat retries it (app/service/push.ts). Pure: tested with the driver's own error classes.
 */

/** The driver and mongoose failing to reach a server, or losing the connection mid-request. */
const UNREACHABLE_ERROR_NAMES = new Set([
  'MongoServerSelectionError',
  'MongooseServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoPoolClearedError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  // The write reached the primary but no majority acknowledged it in wtimeoutMS, or the
  // replica set cannot satisfy it now (MongoDB manual, "Write Concern": wtimeout).
  'MongoWriteConcernError',
]);

/**
 * Server error codes of a replica set changing primaries or shutting down: the retryable-writes
 * specification's list (the driver retries these once, then they reach us). The ones seen on a
 * failover: 10107 NotWritablePrimary, 11602 InterruptedDueToReplStateChange, 189
 * PrimarySteppedDown, 91 ShutdownInProgress, 13435 NotPrimaryNoSecondaryOk, 13436
 * NotPrimaryOrSecondary; 64 WriteConcernFailed is a wtimeout reported as a command error.
 */
export const FAILOVER_ERROR_CODES: ReadonlySet<number> = new Set([
  6, 7, 64, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436,
]);

/** Labels the server or driver put on an error that a later attempt may not hit. */
const TRANSIENT_ERROR_LABELS = [ 'RetryableWriteError', 'TransientTransactionError', 'ResetPool' ];

/** Pre-4.2 servers report some of these by message only (server discovery and monitoring spec). */
const LEGACY_FAILOVER_MESSAGE = /not master|node is recovering/i;

/** The fields of a driver or mongoose error this module reads (each may be absent). */
interface DriverErrorFields {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  cause?: unknown;
  errorLabels?: unknown;
  hasErrorLabel?: unknown;
  writeConcernError?: unknown;
  result?: { writeConcernError?: unknown };
}

function hasTransientLabel(err: DriverErrorFields): boolean {
  const { hasErrorLabel, errorLabels } = err;
  return TRANSIENT_ERROR_LABELS.some(label => (typeof hasErrorLabel === 'function'
    ? hasErrorLabel.call(err, label)
    : Array.isArray(errorLabels) && errorLabels.includes(label)));
}

function isFailoverServerError(err: DriverErrorFields): boolean {
  if (typeof err.code === 'number' && FAILOVER_ERROR_CODES.has(err.code)) return true;
  // A bulk write or insertMany reports a write concern failure beside its results.
  if (err.writeConcernError || err.result?.writeConcernError) return true;
  return err.name === 'MongoServerError' && LEGACY_FAILOVER_MESSAGE.test(String(err.message));
}

/**
 * A write refused by a unique index (server code 11000, MongoDB manual "Error Codes":
 * DuplicateKey); keyPattern names the index's fields.
 */
export function isDuplicateKeyError(err: unknown): err is { code: 11000; keyPattern?: Record<string, unknown> } {
  return typeof err === 'object' && err !== null && (err as DriverErrorFields).code === 11000;
}

/**
 * The per-operation errors of a failed unordered bulk write: the driver's MongoBulkWriteError
 * carries them as `writeErrors`, older shapes under `result.result.writeErrors`; each has a
 * `code`, or its server error under `err`.
 */
export function bulkWriteErrors(err: unknown): Array<{ code?: unknown; err?: unknown }> {
  if (typeof err !== 'object' || err === null) return [];
  const { writeErrors, result } = err as { writeErrors?: unknown; result?: { result?: { writeErrors?: unknown } } };
  const found = writeErrors ?? result?.result?.writeErrors;
  return Array.isArray(found) ? found.filter(e => typeof e === 'object' && e !== null) : [];
}

/** True when `err` (or the error it wraps) says the database is unreachable or failing over. */
export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object') return false;
  const e: DriverErrorFields = err;
  if ((typeof e.name === 'string' && UNREACHABLE_ERROR_NAMES.has(e.name)) || isFailoverServerError(e) || hasTransientLabel(e)) return true;
  // mongoose's command buffer timing out while the connection is down
  if (/buffering timed out/.test(String(e.message))) return true;
  return depth < 2 && e.cause !== undefined && isDatabaseUnavailable(e.cause, depth + 1);
}
