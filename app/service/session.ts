import { createHash, randomBytes } from 'node:crypto';
import { Service } from 'egg';
import { SessionDoc } from '../model/Session';
import { UserDoc } from '../model/User';

/** 32 random bytes in base64url: 43 characters. */
export const TOKEN_BYTES = 32;
const TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export interface IssuedSession {
  /** Opaque bearer token; shown to the client once, only its hash is stored */
  token: string;
  /** Seconds until it expires */
  expiresIn: number;
}

export interface Authenticated {
  session: SessionDoc;
  user: UserDoc;
}

/** Opaque session tokens for the mini-program (Authorization: Bearer <token>). */
export default class SessionService extends Service {
  async issue(user: Pick<UserDoc, '_id' | 'openId'>): Promise<IssuedSession> {
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    const ttlSeconds = this.app.config.session.ttlSeconds;
    const now = new Date();
    // Every field is built here with its schema type, so the document goes to the driver as
    // is: a mongoose document (hydration, validation, save hooks) would only cost CPU per login.
    await this.ctx.model.Session.collection.insertOne({
      tokenHash: hashToken(token),
      userId: user._id,
      openId: user.openId,
      createdAt: now,
      expiresAt: new Date(now.getTime() + ttlSeconds * 1000),
    });
    return { token, expiresIn: ttlSeconds };
  }

  /** The session and user behind a token, or null when it is malformed, unknown or expired. */
  async authenticate(token: string): Promise<Authenticated | null> {
    if (typeof token !== 'string' || !TOKEN_FORMAT.test(token)) return null;
    const session = await this.ctx.model.Session
      .findOne({ tokenHash: hashToken(token), expiresAt: { $gt: new Date() } })
      .lean<SessionDoc>();
    if (!session) return null;
    const user = await this.ctx.model.User.findById(session.userId).lean<UserDoc>();
    return user ? { session, user } : null;
  }
}
