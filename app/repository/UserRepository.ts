import { Model } from 'mongoose';
import { isDuplicateKeyError } from '../lib/databaseErrors';
import { SessionEntry, UserDoc } from '../model/User';
import { pushSession } from '../service/session';
import { collectionOf, insertOnlyFields } from './fromModel';

/** What a login writes on its user: WeChat's session_key, and the unionId when WeChat returns one. */
export interface LoginFields {
  openId: string;
  sessionKey: string;
  unionId?: string;
}

/**
 * The users collection's login (app/model/User.ts) straight through the driver: openid is a
 * string from WeChat's reply and every value has its schema type already, so mongoose's query
 * building cost more than the rest of the upsert. The schema's defaults come from the model.
 * Other user reads and writes go through mongoose (app/service/user.ts, session.ts).
 */
export class UserRepository {
  constructor(private readonly model: Model<UserDoc>) {}

  private get collection() {
    return collectionOf(this.model);
  }

  /**
   * One upsert for a login: the user found by openId (or inserted with the schema's defaults and
   * createdAt), its session_key replaced, lastLoginAt set, the session added. `session.createdAt`
   * is the login's one time. Returns the user without its session_key and sessions.
   */
  async upsertOnLogin(login: LoginFields, session: SessionEntry): Promise<{ user: UserDoc; isNewUser: boolean }> {
    const now = session.createdAt;
    const set: Partial<UserDoc> = { sessionKey: login.sessionKey, lastLoginAt: now, ...(login.unionId ? { unionId: login.unionId } : {}) };
    // What mongoose's upsert would add on insert: the schema's defaults, and createdAt (a field of
    // its own in this schema, not a timestamp).
    const onInsert = { ...insertOnlyFields(this.model.schema, now, [ set ]), createdAt: now };
    for (let attempt = 1; ; attempt++) {
      try {
        const user = await this.collection.findOneAndUpdate(
          { openId: login.openId },
          { $set: set, $setOnInsert: onInsert, ...pushSession(session) },
          { upsert: true, returnDocument: 'after', projection: { sessionKey: 0, sessions: 0 }, includeResultMetadata: false },
        );
        // An upsert with returnDocument 'after' always returns the document.
        if (!user) throw new Error(`the login upsert of ${login.openId} returned no user`);
        // $setOnInsert wrote `now` only if this call inserted the user.
        return { user, isNewUser: new Date(user.createdAt).getTime() === now.getTime() };
      } catch (err) {
        // A concurrent first login of the same user inserted it first: update it instead.
        if (isDuplicateKeyError(err) && attempt < 2) continue;
        throw err;
      }
    }
  }
}
