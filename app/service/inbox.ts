import { randomUUID } from 'node:crypto';
import { Service } from 'egg';
import { Types } from 'mongoose';
import { Filter } from 'mongodb';
import { OpenedPush, PushChannelName, PushRejectedError } from '../lib/pushEnvelope';
import { ReplyRule } from '../lib/replyRules';
import { isSubscribeEvent } from '../lib/subscribeMessages';
import { backoffSeconds, classifySendError, isPermanentFailure, isWechatApiError, replyWindowClosesAt } from '../lib/sendOutcome';
import { InboxMessageDoc, InboxStatus, ReplyState } from '../model/InboxMessage';
import { InboxLease, InboxRepository, InboxUpdate, NewInboxItem } from '../repository/InboxRepository';

export { INBOX_STATUSES, InboxStatus } from '../model/InboxMessage';

export interface RecordResult {
  id: string | null;
  duplicate: boolean;
  /**
   * The message is handed to human agents: stored so now, or (a duplicate delivery) stored so by
   * an earlier delivery, whose answer WeChat may not have received: it gets the same answer.
   */
  transferred: boolean;
  /** With `{ claimed: true }`: the stored item, already leased to this process, for `processClaimed` */
  claimed?: InboxItem;
}

export interface ProcessResult {
  /**
   * What happened to the item: sent, skipped (no rule), retry (transient failure), failed,
   * unknown, expired (its reply window closed before the reply could go out), lost (lease taken over)
   */
  outcome: 'sent' | 'skipped' | 'retry' | 'failed' | 'unknown' | 'expired' | 'lost';
}

export interface InboxItemView {
  id: string;
  channel: PushChannelName;
  msgType: string;
  event?: string;
  msgId?: string;
  fromUser: string;
  createTime?: number;
  content?: string;
  status: InboxStatus;
  attempts: number;
  nextAttemptAt?: Date;
  lastError?: string;
  reply: { state: ReplyState; ruleId?: string; msgtype?: string; errcode?: number; errmsg?: string; sentAt?: Date };
  createdAt: Date;
  processedAt?: Date;
}

const CONTENT_PREVIEW = 200;

/**
 * The rule matched while a claimed item's push was answered, by the claimed item `record` returns
 * (in memory only, never stored): processed at once, the item is not matched a second time.
 */
const matchedBeforeAnswer = new WeakMap<object, { rule: ReplyRule | null }>();

/** A stored item as processing sees it: claimed from the store, or stored claimed by `record`. */
export type InboxItem = InboxMessageDoc;

export interface RecordOptions {
  /** Store it already claimed by this process (a free processing slot) */
  claimed?: boolean;
  /** Handed to human agents by this rule (or `unmatched`): stored done, `reply.state: transferred` */
  transferRuleId?: string;
  /** The rule matched while deciding the hand-off, for processing a claimed item at once */
  matched?: { rule: ReplyRule | null };
}

function describe(err: unknown): string {
  if (isWechatApiError(err)) return `${err.reason}${err.errcode === null ? '' : ` ${err.errcode}`}: ${err.message}`.slice(0, 300);
  const { name, message }: { name?: unknown; message?: unknown } = typeof err === 'object' && err !== null ? err : {};
  return `${name ?? 'Error'}: ${String(message ?? err)}`.slice(0, 300);
}

/** WeChat's errmsg of a refused send, as stored on the item. */
function wechatErrmsg(err: unknown): string {
  return isWechatApiError(err) ? err.message.slice(0, 200) : '';
}

/**
 * The durable push inbox. `record` runs before WeChat gets its `success`; everything else runs
 * afterwards, from the stored item:
 * - `claim` moves one due item to `processing` with one atomic findOneAndUpdate (a fresh
 *   lockToken, a lease until lockedUntil, attempts + 1). Due: pending with nextAttemptAt <= now,
 *   or processing with an expired lease (a crashed or restarted worker). A worker with a free
 *   processing slot has `record` store the item in that state directly (`processClaimed`).
 * - `process` matches a rule and sends the reply at most once: `reply.state` goes
 *   none -> sending (atomically, fenced by the lockToken) before the call, then sent / failed /
 *   unknown. A send proven not to have left goes back to none and pending with backoff; an
 *   item found in `sending` (its worker died mid-send) is marked unknown and never resent.
 * - A reply is never attempted after the window the item opened has closed (replyWindowClosesAt:
 *   48 h after a message, 1 minute after user_enter_tempsession): such an item, or one whose next
 *   retry would fall after it, is recorded as `expired` instead.
 * Time is read through `now()` only (tests move it with mock(Date, 'now')).
 */
export default class InboxService extends Service {
  private readonly store = new InboxRepository(this.ctx.model.InboxMessage);

  /** The inbox's one clock. */
  private now(): Date {
    return new Date(Date.now());
  }

  /**
   * Stores a verified push; a second delivery of the same message is reported as duplicate.
   * A signature set already stored with another message is a replay (REPLAYED_REQUEST).
   * One insert straight through the driver (app/repository/InboxRepository.ts): every value is
   * built here with its schema type (the envelope parser hands over strings and a number), so a
   * mongoose document (hydration, validation, save hooks) would only add CPU to the
   * acknowledgement WeChat waits for.
   */
  async record(channel: PushChannelName, opened: OpenedPush, options: RecordOptions = {}): Promise<RecordResult> {
    const { message } = opened;
    const now = this.now();
    const transferred = options.transferRuleId !== undefined;
    // Stored already claimed when this process has a free slot to process it at once: the
    // same lease a claim would take, without the claim's round trip to the database.
    // A message handed to agents is stored done: it is never auto-replied. Otherwise pending,
    // the schema's default.
    const lease: Partial<NewInboxItem> = transferred ? { status: 'done', attempts: 0, processedAt: now }
      : options.claimed ? { status: 'processing', attempts: 1, ...this.newLease(now) } : {};
    const result = await this.store.insert({
      channel,
      dedupeKey: opened.dedupeKey,
      replayKey: opened.replayKey,
      mode: opened.mode,
      format: opened.format,
      toUser: message.toUserName,
      fromUser: message.fromUserName,
      msgType: message.msgType,
      event: message.event,
      msgId: message.msgId,
      createTime: message.createTime,
      content: message.content,
      fields: message.fields,
      nested: message.nested,
      ...lease,
      nextAttemptAt: now,
      ...(transferred ? { reply: { state: 'transferred', ruleId: options.transferRuleId, msgtype: 'transfer_customer_service' } } : {}),
      expireAt: new Date(now.getTime() + this.retentionSeconds() * 1000),
    }, now);
    if ('stored' in result) {
      const claimed = options.claimed && !transferred ? { ...result.stored } : null;
      if (claimed && options.matched) matchedBeforeAnswer.set(claimed, options.matched);
      return { id: String(result.stored._id), duplicate: false, transferred, ...(claimed ? { claimed } : {}) };
    }
    // One query reads the item holding the key. On the replay key it tells WeChat's retry of
    // the same message from another body sent under a signature set that was already used.
    // Either way its reply state says whether the first delivery was handed to agents.
    const byReplayKey = result.duplicateKey === 'replayKey';
    const holder = await this.store.holder(byReplayKey ? { replayKey: opened.replayKey } : { dedupeKey: opened.dedupeKey });
    if (byReplayKey && holder?.dedupeKey !== opened.dedupeKey) {
      throw new PushRejectedError('REPLAYED_REQUEST', 'this signature, timestamp and nonce were already used for another message');
    }
    return { id: null, duplicate: true, transferred: holder?.reply?.state === 'transferred' };
  }

  /**
   * INBOX_TTL_SECONDS, but never shorter than the replay rule needs: a timestamp accepted now
   * stays fresh for up to twice the freshness window, and its replay key must outlive that.
   */
  private retentionSeconds(): number {
    return Math.max(this.app.config.backend.inbox.ttlSeconds, 2 * this.app.config.backend.wechat.msgMaxAgeSeconds);
  }

  /** Claims one due item (or the given one if it is due); null when there is none. */
  async claim(id?: string): Promise<InboxItem | null> {
    const now = this.now();
    // Ids come from this service (insert results, dueIds), never from a request.
    return this.store.claim(now, this.newLease(now), id === undefined ? undefined : new Types.ObjectId(id));
  }

  /** A fresh lease on an item from `now`: whoever holds the lockToken may process it until lockedUntil. */
  private newLease(now: Date): InboxLease {
    return { lockToken: randomUUID(), lockedUntil: new Date(now.getTime() + this.app.config.backend.inbox.leaseSeconds * 1000) };
  }

  /** One write to an item (app/repository/InboxRepository.ts), at the inbox's time. */
  private updateItem(filter: Filter<InboxMessageDoc>, update: InboxUpdate) {
    return this.store.update(filter, update, this.now());
  }

  /**
   * Ids of up to `limit` items that are due, oldest first: pending ones whose time has come
   * (the processing queue's refill), and with `expiredLeases` also leased ones whose lease ran
   * out (the sweeper: a worker crashed or restarted mid-processing).
   */
  async dueIds(limit: number, options: { expiredLeases?: boolean } = {}): Promise<string[]> {
    const ids = await this.store.dueIds(this.now(), limit, options);
    return ids.map(id => String(id));
  }

  /** Right after recording (in the background): process this item if nobody else has. */
  async processById(id: string): Promise<ProcessResult | null> {
    return this.processInBackground(id, async () => {
      const item = await this.claim(id);
      return item ? await this.process(item) : null;
    });
  }

  /** Right after recording (in the background): process an item `record` stored already claimed. */
  async processClaimed(item: InboxItem): Promise<ProcessResult | null> {
    return this.processInBackground(String(item._id), () => this.process(item));
  }

  private async processInBackground(id: string, work: () => Promise<ProcessResult | null>): Promise<ProcessResult | null> {
    try {
      return await work();
    } catch (err) {
      // The item stays pending or leased; the sweeper picks it up again.
      this.ctx.logger.error('[inbox] processing %s failed, left for the sweeper: %s', id, describe(err));
      return null;
    }
  }

  /**
   * The sweeper: processes due items (pending and due, or leased with an expired lease), at most
   * `limit` per run, oldest first. One query finds them; each is then claimed by id, atomically,
   * so an item another process took meanwhile is skipped. (Claiming "the oldest due item" once
   * per item instead would sort every due item again for each one: during a backlog, a long
   * stall of the database for every item swept.)
   */
  async sweep(limit = this.app.config.backend.inbox.sweepBatch): Promise<{ processed: number; outcomes: Record<string, number> }> {
    const outcomes: Record<string, number> = {};
    let processed = 0;
    for (const id of await this.dueIds(limit, { expiredLeases: true })) {
      const item = await this.claim(id);
      if (!item) continue;
      processed++;
      let outcome = 'error';
      try {
        outcome = (await this.process(item)).outcome;
      } catch (err) {
        this.ctx.logger.error('[inbox] processing %s failed, left for a later sweep: %s', item._id, describe(err));
      }
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    if (processed > 0) this.ctx.logger.info('[inbox] sweep processed %d: %j', processed, outcomes);
    return { processed, outcomes };
  }

  /** Processes one claimed item (see the class comment for the states). */
  async process(item: InboxItem): Promise<ProcessResult> {
    const { ctx } = this;
    const fence: Filter<InboxMessageDoc> = { _id: item._id, lockToken: item.lockToken, status: 'processing' };
    const now = this.now();

    if (item.reply?.state === 'sending') {
      // The worker that was sending died or lost its lease: WeChat may have the message.
      const res = await this.updateItem(fence, {
        $set: { status: 'failed', 'reply.state': 'unknown', lastError: 'SEND_OUTCOME_UNKNOWN: a send was interrupted; not resent', processedAt: now },
        $unset: { lockedUntil: 1, lockToken: 1 },
      });
      return { outcome: res.modifiedCount === 1 ? 'unknown' : 'lost' };
    }

    // Official-account items feed the follower store; they are never answered.
    if (item.channel === 'officialAccount') {
      return this.processWithoutReply(item, fence, 'official-account', () => ctx.service.follower.handlePush(
        { msgType: item.msgType, event: item.event, fromUser: item.fromUser, createTime: item.createTime }));
    }
    // Subscribe-message events feed the user's grants (app/service/subscribeMessage.ts); never answered.
    if (item.channel === 'miniprogram' && isSubscribeEvent(item.event)) {
      return this.processWithoutReply(item, fence, 'subscribe-event', () => ctx.service.subscribeMessage.applyEvent(item));
    }
    // Media-check verdicts are recorded, never answered (docs/content-security.md).
    if (item.event === 'wxa_media_check') return this.processMediaCheck(item, fence);

    const matched = matchedBeforeAnswer.get(item);
    const rule = matched ? matched.rule : await ctx.service.autoReply.match({ msgType: item.msgType, event: item.event, content: item.content });
    if (rule?.action === 'transfer') {
      // Hand-offs are decided before the push is answered (autoReply.handOff). A transfer rule
      // matching here was written after that answer, or matches an event (never transferred):
      // this message is then left to the agents and to nobody's auto-reply.
      const res = await this.updateItem(fence, {
        $set: { status: 'done', 'reply.state': 'skipped', 'reply.ruleId': rule.id, processedAt: now },
        $unset: { lockedUntil: 1, lockToken: 1 },
      });
      ctx.logger.info('[inbox] %s matches transfer rule %s after its push was answered: not auto-replied', item._id, rule.id);
      return { outcome: res.modifiedCount === 1 ? 'skipped' : 'lost' };
    }
    if (!rule) {
      const res = await this.updateItem(fence, {
        $set: { status: 'done', 'reply.state': 'skipped', processedAt: now },
        $unset: { lockedUntil: 1, lockToken: 1 },
      });
      return { outcome: res.modifiedCount === 1 ? 'skipped' : 'lost' };
    }

    // WeChat would refuse a reply past the window with 45015: none is attempted then.
    const windowClosesAt = replyWindowClosesAt(item, new Date(item.createdAt ?? now).getTime());
    const replyFields = { 'reply.ruleId': rule.id, 'reply.msgtype': rule.reply.msgtype };
    if (now.getTime() > windowClosesAt) {
      return this.expire({ ...fence, 'reply.state': 'none' }, replyFields, windowClosesAt, 'the reply could not be sent before then');
    }

    const sendToken = randomUUID();
    const marked = await this.updateItem({ ...fence, 'reply.state': 'none' }, {
      $set: { 'reply.state': 'sending', 'reply.ruleId': rule.id, 'reply.msgtype': rule.reply.msgtype, 'reply.sendToken': sendToken, 'reply.sendStartedAt': now },
    });
    if (marked.modifiedCount !== 1) return { outcome: 'lost' };

    // Later writes are fenced by sendToken, not by the lease: the truth about this send wins
    // even if another worker has meanwhile marked it unknown.
    const mine = { _id: item._id, 'reply.sendToken': sendToken };
    try {
      await ctx.service.autoReply.send(rule.reply, item.fromUser);
    } catch (err) {
      const outcome = classifySendError(err);
      const errcode = isWechatApiError(err) ? err.errcode : null;
      const lastError = describe(err);
      const { maxAttempts, backoffBaseSeconds, backoffMaxSeconds } = this.app.config.backend.inbox;
      if (outcome === 'unsent' && item.attempts < maxAttempts) {
        const delay = backoffSeconds(item.attempts, backoffBaseSeconds, backoffMaxSeconds);
        const retryAt = this.now().getTime() + delay * 1000;
        if (retryAt > windowClosesAt) {
          const sendError = errcode === null ? {} : { 'reply.errcode': errcode, 'reply.errmsg': wechatErrmsg(err) };
          return this.expire(mine, sendError, windowClosesAt, `attempt ${item.attempts} was not sent (${lastError}) and the next would come too late`);
        }
        await this.updateItem(mine, {
          $set: {
            status: 'pending', 'reply.state': 'none', nextAttemptAt: new Date(retryAt), lastError,
            ...(errcode === null ? {} : { 'reply.errcode': errcode }),
          },
          $unset: { lockedUntil: 1, lockToken: 1, 'reply.sendToken': 1 },
        });
        ctx.logger.warn('[inbox] reply to %s not sent (attempt %d), retry in %ds: %s', item._id, item.attempts, delay, lastError);
        return { outcome: 'retry' };
      }
      const state = outcome === 'unknown' ? 'unknown' : 'failed';
      await this.updateItem(mine, {
        $set: {
          status: 'failed', 'reply.state': state, processedAt: this.now(),
          lastError: outcome === 'unknown' ? `SEND_OUTCOME_UNKNOWN: ${lastError}` : lastError,
          ...(errcode === null ? {} : { 'reply.errcode': errcode, 'reply.errmsg': wechatErrmsg(err) }),
        },
        $unset: { lockedUntil: 1, lockToken: 1 },
      });
      ctx.logger.warn('[inbox] reply to %s %s after %d attempt(s): %s', item._id, state === 'unknown' ? 'has an unknown outcome' : 'failed', item.attempts, lastError);
      return { outcome: state };
    }
    await this.updateItem(mine, {
      $set: { status: 'done', 'reply.state': 'sent', 'reply.errcode': 0, 'reply.sentAt': this.now(), processedAt: this.now() },
      $unset: { lockedUntil: 1, lockToken: 1, lastError: 1 },
    });
    return { outcome: 'sent' };
  }

  /** Records that the item's reply window closed at `closesAt` before its reply could go out. */
  private async expire(filter: Filter<InboxMessageDoc>, set: Record<string, unknown>, closesAt: number, why: string): Promise<ProcessResult> {
    const lastError = `REPLY_WINDOW_CLOSED: the reply window closed at ${new Date(closesAt).toISOString()}; ${why}`.slice(0, 300);
    const res = await this.updateItem(filter, {
      $set: { status: 'failed', 'reply.state': 'expired', processedAt: this.now(), lastError, ...set },
      $unset: { lockedUntil: 1, lockToken: 1, 'reply.sendToken': 1 },
    });
    this.ctx.logger.warn('[inbox] reply to %s expired: %s', filter._id, lastError);
    return { outcome: res.modifiedCount === 1 ? 'expired' : 'lost' };
  }

  /**
   * An item handled by another service and never answered: official-account items
   * (subscribe/unsubscribe update the follower store, app/service/follower.ts,
   * docs/official-account.md; other messages are only recorded) and subscribe-message events.
   * A failure (e.g. /cgi-bin/user/info unavailable) is retried with backoff, like a send; a
   * permanent one (an invalid event, an errcode WeChat never takes back such as 40003) is not.
   * Handlers must be idempotent: a retried item (after a crash or a transient failure) runs again.
   */
  private async processWithoutReply(item: InboxItem, fence: Filter<InboxMessageDoc>, label: string, handle: () => Promise<unknown>): Promise<ProcessResult> {
    const { ctx } = this;
    const release = { lockedUntil: 1, lockToken: 1 } as const;
    try {
      await handle();
    } catch (err) {
      const lastError = describe(err);
      const { maxAttempts, backoffBaseSeconds, backoffMaxSeconds } = this.app.config.backend.inbox;
      if (!isPermanentFailure(err) && item.attempts < maxAttempts) {
        const delay = backoffSeconds(item.attempts, backoffBaseSeconds, backoffMaxSeconds);
        const res = await this.updateItem(fence, {
          $set: { status: 'pending', nextAttemptAt: new Date(this.now().getTime() + delay * 1000), lastError },
          $unset: release,
        });
        ctx.logger.warn('[inbox] %s item %s failed (attempt %d), retry in %ds: %s', label, item._id, item.attempts, delay, lastError);
        return { outcome: res.modifiedCount === 1 ? 'retry' : 'lost' };
      }
      const res = await this.updateItem(fence, {
        $set: { status: 'failed', 'reply.state': 'skipped', processedAt: this.now(), lastError },
        $unset: release,
      });
      ctx.logger.warn('[inbox] %s item %s failed after %d attempt(s): %s', label, item._id, item.attempts, lastError);
      return { outcome: res.modifiedCount === 1 ? 'failed' : 'lost' };
    }
    const res = await this.updateItem(fence, {
      $set: { status: 'done', 'reply.state': 'skipped', processedAt: this.now() },
      $unset: { ...release, lastError: 1 },
    });
    return { outcome: res.modifiedCount === 1 ? 'skipped' : 'lost' };
  }

  /** A wxa_media_check verdict onto its media check; a throw leaves the item leased, for the sweeper. */
  private async processMediaCheck(item: InboxItem, fence: Filter<InboxMessageDoc>): Promise<ProcessResult> {
    const recorded = await this.ctx.service.contentSecurity.recordVerdict({ fromUser: item.fromUser, fields: item.fields ?? {}, nested: item.nested });
    const lastError = recorded === 'invalid' ? { lastError: 'INVALID_VERDICT: the push carries no usable verdict (logged)' } : {};
    const res = await this.updateItem(fence, {
      $set: { status: 'done', 'reply.state': 'skipped', processedAt: this.now(), ...lastError },
      $unset: { lockedUntil: 1, lockToken: 1 },
    });
    return { outcome: res.modifiedCount === 1 ? 'skipped' : 'lost' };
  }

  /** Recent items for the admin API: no lock tokens, no raw fields. */
  async list(options: { status?: InboxStatus; limit: number }): Promise<InboxItemView[]> {
    const docs = await this.store.list(options);
    return docs.map((d): InboxItemView => ({
      id: String(d._id),
      channel: d.channel,
      msgType: d.msgType,
      ...(d.event ? { event: d.event } : {}),
      ...(d.msgId ? { msgId: d.msgId } : {}),
      fromUser: d.fromUser,
      createTime: d.createTime,
      ...(d.content !== undefined ? { content: String(d.content).slice(0, CONTENT_PREVIEW) } : {}),
      status: d.status,
      attempts: d.attempts,
      nextAttemptAt: d.status === 'pending' ? d.nextAttemptAt : undefined,
      ...(d.lastError ? { lastError: d.lastError } : {}),
      reply: {
        state: d.reply?.state ?? 'none',
        ...(d.reply?.ruleId ? { ruleId: d.reply.ruleId } : {}),
        ...(d.reply?.msgtype ? { msgtype: d.reply.msgtype } : {}),
        ...(typeof d.reply?.errcode === 'number' ? { errcode: d.reply.errcode } : {}),
        ...(d.reply?.errmsg ? { errmsg: d.reply.errmsg } : {}),
        ...(d.reply?.sentAt ? { sentAt: d.reply.sentAt } : {}),
      },
      createdAt: d.createdAt,
      ...(d.processedAt ? { processedAt: d.processedAt } : {}),
    }));
  }
}
