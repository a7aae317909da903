import { Application } from 'egg';
import { Model, Schema } from 'mongoose';

/**
 * One document per appid: the current access_token shared by every worker and server,
 * the refresh lease, and the force_refresh budget (WeChat allows 20 a day, 30 s apart).
 */
export interface AccessTokenDoc {
  appid: string;
  /** Up to 512 characters per WeChat's docs; never logged */
  token?: string | null;
  /** When WeChat stops accepting the token */
  expiresAt?: Date | null;
  /** When the next refresh is due (ahead of expiry) */
  refreshAt?: Date | null;
  leaseOwner?: string | null;
  leaseUntil?: Date | null;
  lastForceRefreshAt?: Date | null;
  /** China calendar day (UTC+8, YYYY-MM-DD) that forceRefreshCount counts */
  forceRefreshDay?: string | null;
  forceRefreshCount?: number;
  /** Last failed refresh (for waiters in other processes) */
  /** sha256 of a token WeChat rejected, until a different token replaces it */
  rejectedTokenHash?: string | null;
  lastErrorAt?: Date | null;
  lastErrorReason?: string | null;
  lastErrorCode?: number | null;
  updatedAt?: Date;
}

export default (app: Application): Model<AccessTokenDoc> => {
  const { mongoose } = app;
  const schema = new mongoose.Schema<AccessTokenDoc>({
    appid: { type: String, required: true, unique: true },
    token: { type: String, maxlength: 1024, default: null },
    expiresAt: { type: Date, default: null },
    refreshAt: { type: Date, default: null },
    leaseOwner: { type: String, default: null },
    leaseUntil: { type: Date, default: null },
    lastForceRefreshAt: { type: Date, default: null },
    forceRefreshDay: { type: String, default: null },
    forceRefreshCount: { type: Number, default: 0 },
    rejectedTokenHash: { type: String, default: null },
    lastErrorAt: { type: Date, default: null },
    lastErrorReason: { type: String, default: null },
    lastErrorCode: { type: Number, default: null },
  }, { timestamps: { createdAt: false, updatedAt: true }, versionKey: false }) as Schema<AccessTokenDoc>;
  return app.mongooseDB.model('AccessToken', schema, 'access_tokens');
};
