import { Service } from 'egg';
import { AnyBulkWriteOperation } from 'mongoose';
import { bulkWriteErrors, isDuplicateKeyError } from '../lib/databaseErrors';
import { AppError, InvalidParamError, UnauthorizedError } from '../lib/errors';
import { FollowerDoc } from '../model/Follower';
import { UserDoc } from '../model/User';
import { OfficialAccountUser } from './wechatClient';

/**
 * A unionId as WeChat issues it (28 characters of base64url today). Checked before any lookup, so
 * nothing else (objects, operators, overlong strings) ever reaches a filter.
 */
export const UNIONID_RE = /^[A-Za-z0-9_-]{16,64}$/;

export interface FollowStatus {
  subscribed: boolean;
  /** The latest subscription (WeChat's subscribe_time), null when unknown */
  subscribedAt: Date | null;
}

export interface UserFollowStatus extends FollowStatus {
  unionId: string;
}

/** What a user without a unionId is told (NO_UNIONID). */
export const NO_UNIONID_MESSAGE = 'your unionId is not known, so following the official account cannot be checked. ' +
  'A unionId comes with login (code2Session) once the mini-program is bound to the same WeChat Open Platform account as the ' +
  'official account: bind them, then log in again (wx.login, POST /api/login). Legacy wx.getUserInfo data of a bound ' +
  'mini-program also carries it (POST /api/unionid); wx.getUserProfile data never does, and an unbound mini-program has none';

export interface FollowerLookup extends FollowStatus {
  unionId: string;
  /** false: the store has no follower with this unionId (never followed, or not synced yet) */
  known: boolean;
  unsubscribedAt: Date | null;
  /** End of the latest completed full sync; null if none ever completed */
  lastFullSyncAt: Date | null;
}

export type FollowEvent = 'subscribe' | 'unsubscribe';

export interface EventResult {
  /** applied: the follower was updated; stale: a newer event had already been applied */
  outcome: 'applied' | 'stale';
  unionId: string | null;
}

const orNoNewerEvent = (at: Date) => [{ eventAt: null }, { eventAt: { $lte: at } }];

/**
 * The official account's follower store (docs/official-account.md): events, sync batches, queries.
 * The full sync itself (paging, checkpoints, lease) is app/service/followerSync.ts.
 */
export default class FollowerService extends Service {
  private get model() {
    return this.ctx.model.Follower;
  }

  /** The official account's appid, or OA_NOT_CONFIGURED. */
  appid(): string {
    const { appid } = this.app.config.backend.officialAccount;
    if (!appid) {
      throw new AppError('OA_NOT_CONFIGURED', 'the official account is not configured on this server (OA_APPID, OA_SECRET, OA_MSG_TOKEN)');
    }
    return appid;
  }

  // -------------------------------------------------------------------------
  // Queries

  /** GET /api/subscription: the logged-in user's follow state, through the user's unionId. */
  async forUser(user: UserDoc | undefined): Promise<UserFollowStatus> {
    this.appid();
    if (!user) throw new UnauthorizedError();
    const unionId = user.unionId;
    if (typeof unionId !== 'string' || unionId === '') throw new AppError('NO_UNIONID', NO_UNIONID_MESSAGE);
    if (!UNIONID_RE.test(unionId)) {
      // Stored by login from WeChat's own data; a value outside the known format matches no follower.
      return { subscribed: false, subscribedAt: null, unionId };
    }
    const found = await this.lookup(unionId);
    return { subscribed: found.subscribed, subscribedAt: found.subscribedAt, unionId };
  }

  /** Follow state of a unionId (GET /api/oa/followers/:unionId). An unknown unionId is not a follower. */
  async lookup(unionId: string): Promise<FollowerLookup> {
    const appid = this.appid();
    // Several documents can share a unionId only if the account's openids changed (a migrated
    // account); a subscribed one wins, then the most recent.
    const [ doc ] = await this.model.find({ appid, unionId })
      .setOptions({ sanitizeFilter: true })
      .sort({ subscribed: -1, updatedAt: -1 })
      .limit(1)
      .lean();
    const lastRun = await this.ctx.model.FollowerSyncRun.findOne({ appid, status: 'completed' })
      .sort({ finishedAt: -1 })
      .select({ finishedAt: 1 })
      .lean();
    return {
      unionId,
      subscribed: doc?.subscribed === true,
      subscribedAt: doc?.subscribed ? doc.subscribedAt ?? null : null,
      known: !!doc,
      unsubscribedAt: doc && !doc.subscribed ? doc.unsubscribedAt ?? null : null,
      lastFullSyncAt: lastRun?.finishedAt ?? null,
    };
  }

  // -------------------------------------------------------------------------
  // Events from the official account's message push (/oa/message, via the inbox)

  /**
   * subscribe: the follower is stored as subscribed at once, then /cgi-bin/user/info supplies the
   * unionid (a failure there throws, so the inbox retries; the subscribed state is kept).
   * unsubscribe: the follower is marked unsubscribed; the openid -> unionId mapping is kept.
   * `createTime` is the event's CreateTime (seconds): an older event (a late retry) never
   * overwrites a newer one.
   */
  async applyEvent(openid: string, event: FollowEvent, createTime?: number): Promise<EventResult> {
    const appid = this.appid();
    if (typeof openid !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(openid)) {
      throw new InvalidParamError('the event has no valid FromUserName (official-account openid)');
    }
    const at = Number.isInteger(createTime) && (createTime as number) > 0 ? new Date((createTime as number) * 1000) : new Date();
    const subscribed = event === 'subscribe';
    const applied = await this.upsertIfNewer(
      { openid, $or: orNoNewerEvent(at) },
      {
        $set: {
          appid,
          subscribed,
          eventAt: at,
          ...(subscribed ? { subscribedAt: at, unsubscribedAt: null } : { unsubscribedAt: at }),
        },
      },
    );
    if (!subscribed) {
      const doc = await this.model.findOne({ openid }).select({ unionId: 1 }).lean();
      this.ctx.logger.info('[follower] %s unsubscribed%s', openid, applied ? '' : ' (stale event ignored)');
      return { outcome: applied ? 'applied' : 'stale', unionId: doc?.unionId ?? null };
    }

    const existing = await this.model.findOne({ openid }).select({ unionId: 1 }).lean();
    let unionId = existing?.unionId ?? null;
    if (!unionId) {
      const info = await this.ctx.service.wechatClient.getOfficialAccountUser(openid);
      if (typeof info.unionid === 'string' && UNIONID_RE.test(info.unionid)) {
        unionId = info.unionid;
        await this.model.updateOne({ openid }, { $set: { unionId } });
      }
    }
    this.ctx.logger.info('[follower] %s subscribed%s%s', openid, unionId ? '' : ' (no unionid)', applied ? '' : ' (stale event ignored)');
    return { outcome: applied ? 'applied' : 'stale', unionId };
  }

  /**
   * An official-account push from the inbox (app/service/inbox.ts): subscribe and unsubscribe
   * events update the store; any other message or event is ignored (null).
   */
  async handlePush(message: { msgType: string; event?: string; fromUser: string; createTime?: number }): Promise<EventResult | null> {
    if (message.msgType !== 'event' || (message.event !== 'subscribe' && message.event !== 'unsubscribe')) return null;
    return this.applyEvent(message.fromUser, message.event, message.createTime);
  }

  // -------------------------------------------------------------------------
  // Full sync (called by app/service/followerSync.ts)

  /**
   * Stores one batchget result (up to 100 users) as seen by sync run `runId`. `fetchedAt` is when
   * the batch was requested: a follower changed by an event after it keeps the event's state.
   * Returns the number of followers written.
   */
  async applySyncBatch(runId: string, users: OfficialAccountUser[], fetchedAt: Date): Promise<number> {
    const appid = this.appid();
    const now = new Date();
    const ops = users.filter(u => typeof u.openid === 'string' && u.openid !== '').map((u): AnyBulkWriteOperation<FollowerDoc> => {
      const following = u.subscribe === 1;
      const subscribeTime = Number(u.subscribe_time);
      const set: Partial<FollowerDoc> = { appid, subscribed: following, lastSyncRunId: runId, lastSyncedAt: now };
      if (following) {
        set.unsubscribedAt = null;
        if (subscribeTime > 0) set.subscribedAt = new Date(subscribeTime * 1000);
      } else {
        set.unsubscribedAt = fetchedAt;
      }
      if (typeof u.unionid === 'string' && UNIONID_RE.test(u.unionid)) set.unionId = u.unionid;
      return {
        updateOne: {
          filter: { openid: u.openid, $or: orNoNewerEvent(fetchedAt) },
          update: { $set: set },
          upsert: true,
        },
      };
    });
    if (ops.length === 0) return 0;
    try {
      await this.model.bulkWrite(ops, { ordered: false });
    } catch (err) {
      // A follower changed by a newer event does not match the filter, so its upsert collides
      // with the existing openid: the event's state stands. Anything else is a real failure.
      const writeErrors = bulkWriteErrors(err);
      const onlyNewerEvents = writeErrors.length > 0 && writeErrors.every(e => isDuplicateKeyError(e.code !== undefined ? e : e.err));
      if (!onlyNewerEvents) throw err;
    }
    return ops.length;
  }

  /**
   * End of a completed sync: every follower of the account this run did not list is no longer
   * following, unless an event since the run started says otherwise. Returns how many changed.
   */
  async markUnlisted(runId: string, runStartedAt: Date): Promise<number> {
    const appid = this.appid();
    const res = await this.model.updateMany(
      { appid, subscribed: true, lastSyncRunId: { $ne: runId }, $or: [{ eventAt: null }, { eventAt: { $lt: runStartedAt } }] },
      { $set: { subscribed: false, unsubscribedAt: new Date() } },
    );
    return res.modifiedCount;
  }

  /** updateOne with upsert, fenced by a filter; false when a newer event already stands. */
  private async upsertIfNewer(filter: Record<string, unknown>, update: Record<string, unknown>): Promise<boolean> {
    try {
      const res = await this.model.updateOne(filter, update, { upsert: true });
      return res.matchedCount + (res.upsertedCount ?? 0) > 0;
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
      // The upsert's insert hit the unique openid: either a newer event stands, or another writer
      // inserted the openid between our match and our insert. The server retries such a race only
      // for equality-only filters (MongoDB manual, "Upsert with Unique Index"), and this one has a
      // $or: the plain update tells the two apart.
      const res = await this.model.updateOne(filter, update);
      return res.matchedCount > 0;
    }
  }
}
