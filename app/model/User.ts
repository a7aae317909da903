import { Application } from 'egg';
import { Model, Schema, Types } from 'mongoose';

/**
 * One session token a user holds. The client keeps the opaque random token; only its sha256 is
 * stored, so a leaked database does not leak usable tokens.
 */
export interface SessionEntry {
  /** hex sha256 of the token */
  tokenHash: string;
  createdAt: Date;
  expiresAt: Date;
}

/** A mini-program user, keyed by the mini-program openId. */
export interface UserDoc {
  _id: Types.ObjectId;
  openId: string;
  /** Open Platform unionId: from code2Session or decrypted open data; null while unknown */
  unionId?: string | null;
  /** The current session_key from the latest wx.login; server-side only, never selected by default */
  sessionKey?: string;
  /** With country code, e.g. +8613800000000 (WeChat's phoneNumber) */
  phoneNumber?: string | null;
  purePhoneNumber?: string | null;
  /** A string, e.g. '86' */
  countryCode?: string | null;
  phoneUpdatedAt?: Date | null;
  /**
   * The user's latest session tokens (app/service/session.ts): written by the login's upsert
   * itself, so a login costs no separate session write, and found with the user in one query.
   * Never selected by default.
   */
  sessions?: SessionEntry[];
  createdAt: Date;
  lastLoginAt: Date;
}

export default (app: Application): Model<UserDoc> => {
  const { mongoose } = app;
  const schema = new mongoose.Schema<UserDoc>({
    openId: { type: String, required: true, unique: true, maxlength: 128 },
    // Looked up by the official-account follower mapping (unionId -> user).
    unionId: { type: String, default: null, index: true, maxlength: 128 },
    sessionKey: { type: String, select: false },
    phoneNumber: { type: String, default: null },
    purePhoneNumber: { type: String, default: null },
    countryCode: { type: String, default: null },
    phoneUpdatedAt: { type: Date, default: null },
    sessions: {
      type: [ new mongoose.Schema<SessionEntry>({
        tokenHash: { type: String, required: true },
        createdAt: { type: Date, required: true },
        expiresAt: { type: Date, required: true },
      }, { _id: false }) ],
      select: false,
      // No empty array on insert: the login's $push creates the field.
      default: undefined,
    },
    createdAt: { type: Date, required: true },
    lastLoginAt: { type: Date, required: true },
  }, { versionKey: false }) as Schema<UserDoc>;
  // Not unique: users without a session would collide on the missing key; tokens are 32 random bytes.
  schema.index({ 'sessions.tokenHash': 1 });
  return app.mongooseDB.model('User', schema, 'users');
};
