/** Server errors with MongoDB's numeric codes and code names, so the driver raises MongoServerError alike. */
import { Doc } from './values';

export const ErrorCodes = {
  InternalError: 1,
  BadValue: 2,
  FailedToParse: 9,
  TypeMismatch: 14,
  IllegalOperation: 20,
  ConflictingUpdateOperators: 40,
  InvalidBSON: 22,
  NamespaceNotFound: 26,
  IndexNotFound: 27,
  CursorNotFound: 43,
  NamespaceExists: 48,
  CommandNotFound: 59,
  ImmutableField: 66,
  CannotCreateIndex: 67,
  InvalidOptions: 72,
  IndexOptionsConflict: 85,
  IndexKeySpecsConflict: 86,
  InvalidNamespace: 73,
  CommandNotSupported: 115,
  InvalidIndexSpecificationOption: 197,
  QueryFeatureNotAllowed: 224,
  Location40573: 40573,
  DuplicateKey: 11000,
} as const;

export type ErrorCodeName = keyof typeof ErrorCodes;

export class CommandError extends Error {
  readonly code: number;
  readonly codeName: string;
  readonly extra: Doc;

  constructor(codeName: ErrorCodeName, message: string, extra: Doc = {}) {
    super(message);
    this.code = ErrorCodes[codeName];
    this.codeName = codeName;
    this.extra = extra;
  }

  toReply(): Doc {
    return { ok: 0, errmsg: this.message, code: this.code, codeName: this.codeName, ...this.extra };
  }
}

/** A unique index violation; reported as a writeError by write commands, as a command error otherwise. */
export class DuplicateKeyError extends CommandError {
  constructor(message: string, readonly keyPattern: Doc, readonly keyValue: Doc) {
    super('DuplicateKey', message, { keyPattern, keyValue });
  }

  toWriteError(index: number): Doc {
    return { index, code: this.code, errmsg: this.message, keyPattern: this.keyPattern, keyValue: this.keyValue };
  }
}

/** Converts anything thrown while running a command into an error reply. */
export function errorReply(err: unknown): Doc {
  if (err instanceof CommandError) return err.toReply();
  const message = err instanceof Error ? err.message : String(err);
  // mingo reports bad operators and bad arguments with plain errors: those are the client's fault.
  return { ok: 0, errmsg: message, code: ErrorCodes.BadValue, codeName: 'BadValue' };
}

/** A write error entry for an error that is not a duplicate key. */
export function toWriteError(err: unknown, index: number): Doc {
  if (err instanceof DuplicateKeyError) return err.toWriteError(index);
  const reply = errorReply(err);
  return { index, code: reply.code, errmsg: reply.errmsg };
}
