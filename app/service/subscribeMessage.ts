import { randomUUID } from 'node:crypto';
import { Service } from 'egg';
import { Types } from 'mongoose';
import { Filter } from 'mongodb';
import { AppError, InvalidParamError, NotFoundError } from '../lib/errors';
import { backoffSeconds, classifySendError, isWechatApiError } from '../lib/sendOutcome';
import {
  checkDataAgainstTemplate, isSubscribeEvent, normalizeSubscribeEvent, parseTemplateFields, sendFingerprint,
  SendInput, SubscribeEvent, SubscribeEventEntry, SubscribeStatus, TemplateField,
} from '../lib/subscribeMessages';
import { GrantKind, SendStatus, SubscribeMessageSendDoc } from '../model/SubscribeMessageSend';
import { GrantLastSent, SubscriptionGrantDoc } from '../model/SubscriptionGrant';
import { GrantChange, GrantHolder, SubscriptionGrantRepository } from '../repository/SubscriptionGrantRepository';
import { SendUpdate, SubscribeMessageSendRepository } from '../repository/SubscribeMessageSendRepository';
import { SubscribeTemplateCacheRepository } from '../repository/SubscribeTemplateCacheRepository';
import { SubscribeTemplate } from './wechatClient';

/** A template as the admin API shows it: WeChat's fields and the parsed data fields. */
export interface TemplateView {
  templateId: string;
  title: string;
  /** 'oneTime' (type 2) or 'longTerm' (type 3) */
  kind: GrantKind;
  type: number;
  content: string;
  example: string;
  fields: TemplateField[];
  /** Enum fields' allowed values, by data key */
  enums: Record<string, string[]>;
}

export interface GrantView {
  templateId: string;
  oneTimeAvailable: number;
  status: SubscribeStatus | null;
  statusAt: Date | null;
  lastPopupAt: Date | null;
  lastChangeAt: Date | null;
  lastSent: GrantLastSent | null;
  updatedAt: Date;
}

export interface SendView {
  id: string;
  idempotencyKey: string;
  openId: string;
  unionId?: string;
  templateId: string;
  page?: string;
  miniprogramState: string;
  lang: string;
  grant: GrantKind;
  grantReturned: boolean;
  status: SendStatus;
  attempts: number;
  nextAttemptAt?: Date;
  error?: string;
  errcode?: number;
  errmsg?: string;
  sentAt?: Date;
  finishedAt?: Date;
  createdAt: Date;
}

/** At most this many grants are shown to a user. */
const MAX_GRANTS_LISTED = 200;

function describe(err: unknown): string {
  if (isWechatApiError(err)) return `${err.reason}${err.errcode === null ? '' : ` ${err.errcode}`}: ${err.message}`.slice(0, 300);
  const { name, message }: { name?: unknown; message?: unknown } = typeof err === 'object' && err !== null ? err : {};
  return `${name ?? 'Error'}: ${String(message ?? err)}`.slice(0, 300);
}

/** The grant a send holds (or is about to take). */
function holderOf(send: Pick<SubscribeMessageSendDoc, '_id' | 'openid' | 'templateId' | 'grant'>): GrantHolder {
  return { sendId: String(send._id), openid: send.openid, templateId: send.templateId, grant: send.grant };
}

function templateView(t: SubscribeTemplate): TemplateView {
  const enums: Record<string, string[]> = {};
  for (const e of t.keywordEnumValueList ?? []) {
    if (typeof e?.keywordCode === 'string' && Array.isArray(e.enumValueList)) enums[e.keywordCode.replace(/\.DATA$/, '')] = e.enumValueList.map(String);
  }
  return {
    templateId: t.priTmplId,
    title: t.title,
    kind: t.type === 3 ? 'longTerm' : 'oneTime',
    type: t.type,
    content: t.content,
    example: t.example,
    fields: parseTemplateFields(t.content),
    enums,
  };
}

/**
 * Subscribe messages (订阅消息, docs/subscribe-messages.md):
 * - grants: the three subscribe events (from the inbox, app/service/inbox.ts) update one document
 *   per user and template; each event entry is applied once (its key is kept on the document);
 * - templates: getTemplateList read through a MongoDB cache shared by every worker and server;
 * - sends: stored under the caller's idempotency key (`reserving`), the grant taken atomically
 *   (the send's id pushed onto the grant's consumedBy), sent under a lease, the outcome recorded;
 *   a refusal WeChat says to retry is retried with backoff by the sweeper, a refusal that did not
 *   use the grant gives it back (conditional on consumedBy, so once), a send of unknown outcome is
 *   never repeated.
 * Time is read through `now()` only (tests move it with mock(Date, 'now')).
 */
export default class SubscribeMessageService extends Service {
  private now(): Date {
    return new Date(Date.now());
  }

  private readonly grants = new SubscriptionGrantRepository(this.ctx.model.SubscriptionGrant);
  private readonly sends = new SubscribeMessageSendRepository(this.ctx.model.SubscribeMessageSend);

  // -------------------------------------------------------------------------
  // Grants, from the push events

  /** An inbox item holding a subscribe event (its `nested` elements from app/lib/pushEnvelope.ts). */
  async applyEvent(item: { _id: unknown; fromUser: string; event?: string; createTime?: number; nested?: Record<string, unknown> }): Promise<{ applied: number; skipped: number }> {
    if (!isSubscribeEvent(item.event)) throw new InvalidParamError(`not a subscribe event: ${String(item.event).slice(0, 64)}`);
    const { entries, skipped } = normalizeSubscribeEvent(item.event, item.nested);
    if (skipped > 0) this.ctx.logger.warn('[subscribe] %s %s: %d entries without a valid TemplateId or status skipped', item.event, item._id, skipped);
    const at = typeof item.createTime === 'number' && item.createTime > 0 ? new Date(item.createTime * 1000) : this.now();
    let applied = 0;
    for (const [ index, entry ] of entries.entries()) {
      if (await this.applyEntry(item.fromUser, item.event, entry, `${String(item._id)}:${index}`, at)) applied++;
    }
    return { applied, skipped };
  }

  /** The update one event entry makes to its grant document. */
  private entryUpdate(event: SubscribeEvent, entry: SubscribeEventEntry, at: Date): GrantChange {
    switch (event) {
      case 'subscribe_msg_popup_event':
        // Each accept in the popup allows one send of a one-time template; for a long-term one the
        // accepted status is the grant.
        return {
          $set: { status: entry.status, statusAt: at, lastPopupAt: at },
          ...(entry.status === 'accept' ? { $inc: { oneTimeAvailable: 1 } } : {}),
        };
      case 'subscribe_msg_change_event':
        // The user switched the template off (or on) in the mini-program's settings: off takes
        // every grant away (WeChat would answer 43101); on restores a long-term subscription only.
        return { $set: { status: entry.status, statusAt: at, lastChangeAt: at, ...(entry.status === 'reject' ? { oneTimeAvailable: 0 } : {}) } };
      default: {
        const refused = /user refuse/i.test(entry.errorStatus ?? '');
        return {
          $set: {
            lastSent: { at, ...(entry.msgId ? { msgId: entry.msgId } : {}), ...(entry.errorCode === undefined ? {} : { errorCode: entry.errorCode }), ...(entry.errorStatus ? { errorStatus: entry.errorStatus } : {}) },
            ...(refused ? { status: 'reject', statusAt: at } : {}),
          },
        };
      }
    }
  }

  /** Applies one entry unless its key is already on the grant (app/repository/SubscriptionGrantRepository.ts). */
  private applyEntry(openid: string, event: SubscribeEvent, entry: SubscribeEventEntry, key: string, at: Date): Promise<boolean> {
    return this.grants.applyEntry({ openid, templateId: entry.templateId }, key, this.entryUpdate(event, entry, at), this.now());
  }

  /** GET /api/subscriptions/messages: the user's own grants. */
  async grantsOf(openid: string): Promise<GrantView[]> {
    const docs = await this.grants.ofUser(openid, MAX_GRANTS_LISTED);
    return docs.map((d: SubscriptionGrantDoc): GrantView => ({
      templateId: d.templateId,
      oneTimeAvailable: d.oneTimeAvailable ?? 0,
      status: d.status ?? null,
      statusAt: d.statusAt ?? null,
      lastPopupAt: d.lastPopupAt ?? null,
      lastChangeAt: d.lastChangeAt ?? null,
      lastSent: d.lastSent?.at ? d.lastSent : null,
      updatedAt: d.updatedAt,
    }));
  }

  // -------------------------------------------------------------------------
  // Templates

  /**
   * The account's templates: the stored list while younger than templateCacheSeconds, else read
   * from WeChat and stored. `refresh` reads WeChat now.
   */
  async templates(options: { refresh?: boolean } = {}): Promise<{ templates: TemplateView[]; fetchedAt: Date }> {
    const { appid } = this.app.config.backend.wechat;
    const cache = new SubscribeTemplateCacheRepository(this.ctx.model.SubscribeTemplateCache);
    if (!options.refresh) {
      const stored = await cache.get(appid);
      const ageMs = stored ? this.now().getTime() - new Date(stored.fetchedAt).getTime() : Infinity;
      if (stored && ageMs >= 0 && ageMs < this.app.config.backend.subscribeMessage.templateCacheSeconds * 1000) {
        return { templates: stored.templates.map(templateView), fetchedAt: stored.fetchedAt };
      }
    }
    const templates = await this.ctx.service.wechatClient.getSubscribeTemplates();
    const fetchedAt = this.now();
    await cache.put(appid, templates, fetchedAt);
    return { templates: templates.map(templateView), fetchedAt };
  }

  /** One template; a template missing from a list older than unknownTemplateRefreshSeconds reads the list again. */
  private async template(templateId: string): Promise<TemplateView | null> {
    const { templates, fetchedAt } = await this.templates();
    const found = templates.find(t => t.templateId === templateId);
    if (found) return found;
    if (this.now().getTime() - new Date(fetchedAt).getTime() < this.app.config.backend.subscribeMessage.unknownTemplateRefreshSeconds * 1000) return null;
    return (await this.templates({ refresh: true })).templates.find(t => t.templateId === templateId) ?? null;
  }

  // -------------------------------------------------------------------------
  // Sends

  /**
   * POST /admin/subscribe-messages. Refusals before anything is stored: INVALID_PARAM (input,
   * template, data), NOT_FOUND (unionId of no user), NO_SUBSCRIPTION_GRANT. Otherwise the send
   * exists and its view says how far it got (sent, queued for a retry, failed, unknown).
   */
  async send(input: SendInput): Promise<SendView> {
    const fingerprint = sendFingerprint(input);
    const existing = await this.sends.byIdempotencyKey(input.idempotencyKey);
    if (existing) return this.replay(existing, fingerprint);

    const openid = input.openId ?? await this.openidOfUnionId(input.unionId as string);
    const template = await this.template(input.templateId);
    if (!template) {
      throw new InvalidParamError(`template_id ${input.templateId} is not a template of this mini-program`, [{ field: 'template_id', message: 'unknown template (GET /admin/subscribe-templates lists them)' }]);
    }
    checkDataAgainstTemplate(input.data, template.fields, template.enums);

    const now = this.now();
    const id = new Types.ObjectId();
    const doc = {
      _id: id,
      idempotencyKey: input.idempotencyKey,
      fingerprint,
      openid,
      ...(input.unionId ? { unionId: input.unionId } : {}),
      templateId: input.templateId,
      ...(input.page ? { page: input.page } : {}),
      data: input.data,
      miniprogramState: input.miniprogramState,
      lang: input.lang,
      grant: template.kind,
      status: 'reserving' as const,
      // If this process dies before the grant is settled, the sweeper repairs the send then.
      nextAttemptAt: new Date(now.getTime() + this.app.config.backend.subscribeMessage.reserveSeconds * 1000),
    };
    if (!await this.sends.insert(doc, now)) {
      // The same key, sent concurrently: that request's send is this one.
      const holder = await this.sends.byIdempotencyKey(input.idempotencyKey);
      if (holder) return this.replay(holder, fingerprint);
      throw new Error(`the send of idempotency key ${input.idempotencyKey} was stored and dropped concurrently`);
    }

    if (!await this.grants.take(holderOf(doc), this.now())) {
      await this.sends.dropReservation(id);
      throw new AppError('NO_SUBSCRIPTION_GRANT', template.kind === 'longTerm' ?
        'the user has not accepted this long-term template (or switched it off)' :
        'the user has no one-time grant left for this template: each accept in the subscribe popup allows one send', { templateId: input.templateId });
    }
    const claimed = await this.claim({ _id: id, status: 'reserving' });
    if (!claimed) return this.viewOf(id);
    return this.attempt(claimed);
  }

  /** The stored send for a repeated key; the same key with another request is refused. */
  private replay(existing: SubscribeMessageSendDoc, fingerprint: string): SendView {
    if (existing.fingerprint !== fingerprint) {
      throw new InvalidParamError('idempotencyKey was already used for another send', [{ field: 'idempotencyKey', message: 'already used with other parameters' }]);
    }
    return this.view(existing);
  }

  private async openidOfUnionId(unionId: string): Promise<string> {
    const user = await this.ctx.model.User.findOne({ unionId }).setOptions({ sanitizeFilter: true }).select({ openId: 1 })
      .lean();
    if (!user) throw new NotFoundError('no user with this unionId (a unionId is known once the user logged in with a bound mini-program)');
    return user.openId;
  }

  /** Lets go of the send's hold on its grant (once); `giveBack` returns a one-time grant WeChat did not use. */
  private releaseGrant(send: SubscribeMessageSendDoc, giveBack: boolean): Promise<boolean> {
    return this.grants.release(holderOf(send), giveBack, this.now());
  }

  /** Leases a send for one attempt (attempts + 1); null when someone else has it. */
  private claim(filter: Filter<SubscribeMessageSendDoc>): Promise<SubscribeMessageSendDoc | null> {
    const now = this.now();
    const lockedUntil = new Date(now.getTime() + this.app.config.backend.subscribeMessage.leaseSeconds * 1000);
    return this.sends.claim(filter, { lockToken: randomUUID(), lockedUntil }, now);
  }

  /** One attempt of a leased send, and its outcome recorded (fenced by the lease's token). */
  private async attempt(send: SubscribeMessageSendDoc): Promise<SendView> {
    const { ctx } = this;
    const mine = { _id: send._id, lockToken: send.lockToken };
    const release = { lockToken: 1, lockedUntil: 1 } as const;
    try {
      await ctx.service.wechatClient.subscribeSend({
        touser: send.openid,
        template_id: send.templateId,
        ...(send.page ? { page: send.page } : {}),
        data: Object.fromEntries(Object.entries(send.data).map(([ k, value ]) => [ k, { value }])),
        miniprogram_state: send.miniprogramState,
        lang: send.lang,
      });
    } catch (err) {
      const outcome = classifySendError(err);
      const refusal = isWechatApiError(err) && err.errcode !== null ? { errcode: err.errcode, errmsg: String(err.message).slice(0, 200) } : {};
      const recorded = { lastError: describe(err), ...refusal };
      const { maxAttempts, backoffBaseSeconds, backoffMaxSeconds } = this.app.config.backend.subscribeMessage;
      if (outcome === 'unsent' && send.attempts < maxAttempts) {
        const delay = backoffSeconds(send.attempts, backoffBaseSeconds, backoffMaxSeconds);
        await this.update(mine, { $set: { status: 'queued', nextAttemptAt: new Date(this.now().getTime() + delay * 1000), ...recorded }, $unset: release });
        ctx.logger.warn('[subscribe] send %s not taken (attempt %d), retry in %ds: %s', send._id, send.attempts, delay, recorded.lastError);
      } else if (outcome === 'unknown') {
        // WeChat may have delivered it: never sent again, and the grant counts as used.
        await this.releaseGrant(send, false);
        await this.update(mine, { $set: { status: 'unknown', error: 'WECHAT_UNAVAILABLE', finishedAt: this.now(), ...recorded }, $unset: release });
        ctx.logger.warn('[subscribe] send %s has an unknown outcome; not resent: %s', send._id, recorded.lastError);
      } else {
        // WeChat refused it (or never took it): the grant was not used. Given back first, so a
        // crash before the send is marked leaves the grant right.
        const returned = await this.releaseGrant(send, true);
        await this.update(mine, {
          $set: { status: 'failed', error: isWechatApiError(err) ? err.reason : 'WECHAT_UNAVAILABLE', grantReturned: returned, finishedAt: this.now(), ...recorded },
          $unset: release,
        });
        ctx.logger.warn('[subscribe] send %s failed after %d attempt(s), grant %s: %s', send._id, send.attempts, returned ? 'given back' : 'already settled', recorded.lastError);
      }
      return this.viewOf(send._id);
    }
    await this.update(mine, { $set: { status: 'sent', sentAt: this.now(), finishedAt: this.now() }, $unset: { ...release, error: 1, lastError: 1 } });
    await this.releaseGrant(send, false);
    return this.viewOf(send._id);
  }

  private update(filter: Filter<SubscribeMessageSendDoc>, update: SendUpdate) {
    return this.sends.update(filter, update, this.now());
  }

  private async viewOf(id: Types.ObjectId): Promise<SendView> {
    const doc = await this.sends.byId(id);
    if (!doc) throw new NotFoundError('no subscribe-message send with this id');
    return this.view(doc);
  }

  /** GET /admin/subscribe-messages/:id */
  async get(id: string): Promise<SendView> {
    if (!Types.ObjectId.isValid(id) || !/^[0-9a-f]{24}$/.test(id)) throw new NotFoundError('no subscribe-message send with this id');
    return this.viewOf(new Types.ObjectId(id));
  }

  /**
   * The sweeper (app/schedule/subscribeMessageSweeper.ts): due retries, sends whose worker died
   * mid-send (lease over: unknown outcome, never resent) and reservations never settled.
   */
  async sweep(limit = this.app.config.backend.subscribeMessage.sweepBatch): Promise<Record<string, number>> {
    const now = this.now();
    const counts: Record<string, number> = {};
    const count = (what: string) => { counts[what] = (counts[what] ?? 0) + 1; };
    for (const status of [ 'queued', 'sending', 'reserving' ] as const) {
      const due = await this.sends.due(status, now, limit);
      for (const send of due) {
        try {
          count(await this.sweepOne(send));
        } catch (err) {
          this.ctx.logger.error('[subscribe] sweeping send %s failed, left for a later sweep: %s', send._id, describe(err));
          count('error');
        }
      }
    }
    if (Object.keys(counts).length > 0) this.ctx.logger.info('[subscribe] sweep: %j', counts);
    return counts;
  }

  private async sweepOne(send: SubscribeMessageSendDoc): Promise<string> {
    const now = this.now();
    if (send.status === 'queued') {
      const claimed = await this.claim({ _id: send._id, status: 'queued', nextAttemptAt: { $lte: now } });
      return claimed ? (await this.attempt(claimed)).status : 'lost';
    }
    if (send.status === 'sending') {
      const res = await this.update({ _id: send._id, status: 'sending', lockToken: send.lockToken }, {
        $set: { status: 'unknown', error: 'WECHAT_UNAVAILABLE', lastError: 'SEND_OUTCOME_UNKNOWN: a send was interrupted; not resent', finishedAt: now },
        $unset: { lockToken: 1, lockedUntil: 1 },
      });
      if (res.modifiedCount === 1) await this.releaseGrant(send, false);
      return res.modifiedCount === 1 ? 'unknown' : 'lost';
    }
    // reserving: the process died between storing the send and settling its grant.
    if (!await this.grants.isHeldBy(holderOf(send))) {
      await this.sends.dropReservation(send._id);
      return 'dropped';
    }
    const claimed = await this.claim({ _id: send._id, status: 'reserving' });
    return claimed ? (await this.attempt(claimed)).status : 'lost';
  }

  private view(d: SubscribeMessageSendDoc): SendView {
    return {
      id: String(d._id),
      idempotencyKey: d.idempotencyKey,
      openId: d.openid,
      ...(d.unionId ? { unionId: d.unionId } : {}),
      templateId: d.templateId,
      ...(d.page ? { page: d.page } : {}),
      miniprogramState: d.miniprogramState,
      lang: d.lang,
      grant: d.grant,
      grantReturned: !!d.grantReturned,
      status: d.status,
      attempts: d.attempts ?? 0,
      ...(d.status === 'queued' ? { nextAttemptAt: d.nextAttemptAt } : {}),
      ...(d.error ? { error: d.error } : {}),
      ...(typeof d.errcode === 'number' ? { errcode: d.errcode } : {}),
      ...(d.errmsg ? { errmsg: d.errmsg } : {}),
      ...(d.sentAt ? { sentAt: d.sentAt } : {}),
      ...(d.finishedAt ? { finishedAt: d.finishedAt } : {}),
      createdAt: d.createdAt,
    };
  }
}
