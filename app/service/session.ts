import { createHash, randomBytes } from 'node:crypto';
import { Service } from 'egg';
import { Types } from 'mongoose';
import { SessionEntry, UserDoc } from '../model/User';

/** 32 random bytes in base64url: 43 characters. */
export const TOKEN_BYTES = 32;
const TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;

/**
 * Session tokens a user keeps (one per device or login): the 11th login drops the oldest, so
 * a token that leaked long ago dies with use even before it expires.
 */
export const MAX_SESSIONS_PER_USER = 10;

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export interface NewSession {
  /** Opaque bearer token; shown to the client once, only its hash is stored */
  token: string;
  /** Seconds until it expires */
  expiresIn: number;
  /** What is stored on the user */
  entry: SessionEntry;
}

/** The session behind a bearer token (`ctx.session`) */
export interface AuthenticatedSession extends SessionEntry {
  userId: Types.ObjectId;
  openId: string;
}

export interface Authenticated {
  session: AuthenticatedSession;
  user: UserDoc;
}

/**
 * The update that stores a new session on its user, keeping the latest MAX_SESSIONS_PER_USER.
 * The login's user upsert carries it (app/service/user.ts), so a login is one write, not two.
 */
export function pushSession(entry: SessionEntry): { $push: Record<string, any> } {
  return { $push: { sessions: { $each: [ entry ], $slice: -MAX_SESSIONS_PER_USER } } };
}

/** Opaque session tokens for the mini-program (Authorization: Bearer <token>). */
export default class SessionService extends Service {
  /**
   * A new random token and the entry to store for it (with `pushSession`). Stamped from Date.now,
   * like authenticate(), so a clock moved in tests moves both.
   */
  create(now = new Date(Date.now())): NewSession {
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    const ttlSeconds = this.app.config.backend.session.ttlSeconds;
    return {
      token,
      expiresIn: ttlSeconds,
      entry: { tokenHash: hashToken(token), createdAt: now, expiresAt: new Date(now.getTime() + ttlSeconds * 1000) },
    };
  }

  /** The session and user behind a token, or null when it is malformed, unknown, expired or dropped. */
  async authenticate(token: string): Promise<Authenticated | null> {
    if (typeof token !== 'string' || !TOKEN_FORMAT.test(token)) return null;
    const tokenHash = hashToken(token);
    // One query for both: the multikey index on sessions.tokenHash finds the user.
    const found = await this.ctx.model.User.findOne({ 'sessions.tokenHash': tokenHash }).select('+sessions').lean<UserDoc>();
    const entry = found?.sessions?.find(s => s.tokenHash === tokenHash);
    if (!found || !entry || !(new Date(entry.expiresAt).getTime() > Date.now())) return null;
    delete found.sessions;
    return { session: { ...entry, userId: found._id, openId: found.openId }, user: found };
  }
}
