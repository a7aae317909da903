import { Service } from 'egg';
import { isDuplicateKeyError } from '../lib/databaseErrors';
import {
  MEDIA_TYPES, MediaCheckInput, MediaTypeName, SCENES, SceneName, Suggest, VerdictDetail,
  mediaVerdictFromPush, textVerdict, validateTextCheck,
} from '../lib/contentSecurity';
import { NotFoundError, WechatApiError } from '../lib/errors';
import { MediaCheckDoc, MediaCheckStatus } from '../model/MediaCheck';

export interface TextCheckResult {
  suggest: Suggest;
  label: number;
  /** WeChat's id of this check (for an appeal), when the reply carried one */
  traceId: string | null;
}

export interface MediaCheckView {
  traceId: string;
  status: MediaCheckStatus;
  mediaType?: MediaTypeName;
  mediaUrl?: string;
  scene?: string;
  requestedAt?: Date;
  /** done: WeChat's overall verdict and each strategy's */
  suggest?: Suggest;
  label?: number;
  detail?: VerdictDetail[];
  /** failed: why WeChat could not check the media */
  errcode?: number;
  errmsg?: string;
  verdictAt?: Date;
  timedOutAt?: Date;
}

/** What recording a wxa_media_check push did. */
export type VerdictOutcome = 'recorded' | 'duplicate' | 'unrequested' | 'invalid';

/**
 * Content security (内容安全, docs/content-security.md): text checked synchronously through
 * msg_sec_check, images and audio asynchronously through media_check_async, whose verdicts arrive
 * as wxa_media_check pushes through the inbox. Time is read through `now()` only (tests move it
 * with mock(Date, 'now')).
 */
export default class ContentSecurityService extends Service {
  private get model() {
    return this.ctx.model.MediaCheck;
  }

  private now(): Date {
    return new Date(Date.now());
  }

  private expireAt(from: Date): Date {
    return new Date(from.getTime() + this.app.config.backend.contentSecurity.retentionDays * 86400_000);
  }

  /**
   * Checks text a user wrote (the openid's user must have opened the mini-program within two
   * hours, else WECHAT_USER_INACTIVE). For any code that stores user text; the input rules are
   * the API's (INVALID_PARAM).
   */
  async checkText(openid: string, content: string, scene: SceneName): Promise<TextCheckResult> {
    const input = validateTextCheck({ content, scene });
    const reply = await this.ctx.service.wechatClient.msgSecCheck({ openid, scene: SCENES[input.scene], content: input.content });
    const verdict = textVerdict(reply);
    if (!verdict) throw new WechatApiError('WECHAT_UNAVAILABLE', 'WeChat msgSecCheck: reply without a valid result', null, { op: 'msgSecCheck', delivery: 'unknown' });
    return verdict;
  }

  /** POST /api/security/text: checkText under the user's rate limit. */
  async checkTextForUser(openid: string, input: { content: string; scene: SceneName }): Promise<TextCheckResult> {
    await this.ctx.service.rateLimit.consume('security-text', openid, this.app.config.backend.rateLimit.securityTextPerUserPerMinute);
    return this.checkText(openid, input.content, input.scene);
  }

  /**
   * POST /api/security/media (input checked by MediaCheckRequest and mediaCheckInput): asks WeChat to check the
   * media, stores the pending check, returns its trace_id. Nothing is stored when WeChat refuses.
   */
  async submitMedia(openid: string, input: MediaCheckInput): Promise<{ traceId: string }> {
    await this.ctx.service.rateLimit.consume('security-media', openid, this.app.config.backend.rateLimit.securityMediaPerUserPerMinute);
    const traceId = await this.ctx.service.wechatClient.mediaCheckAsync({
      openid, scene: SCENES[input.scene], mediaUrl: input.mediaUrl, mediaType: MEDIA_TYPES[input.mediaType],
    });
    const now = this.now();
    const request = {
      openid,
      url: input.mediaUrl,
      mediaType: input.mediaType,
      scene: input.scene,
      requestedAt: now,
      deadlineAt: new Date(now.getTime() + this.app.config.backend.contentSecurity.mediaTimeoutSeconds * 1000),
    };
    try {
      await this.model.create({ traceId, ...request, status: 'pending', expireAt: this.expireAt(now) });
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
      // The verdict's push was stored first (it raced this insert): the request completes it.
      const res = await this.model.updateOne({ traceId, unrequested: true, openid }, { $set: request, $unset: { unrequested: 1 } });
      if (res.matchedCount !== 1) {
        this.ctx.logger.error('[contentSecurity] trace_id %s from media_check_async is already held by another check', traceId);
        throw new WechatApiError('WECHAT_UNAVAILABLE', 'WeChat mediaCheckAsync: trace_id already in use', null, { op: 'mediaCheckAsync', delivery: 'answered' });
      }
    }
    return { traceId };
  }

  /**
   * GET /api/security/media/:traceId: the check as its user sees it; NOT_FOUND for anyone else.
   * A pending check past its deadline is marked timed_out here (the schedule does the same for
   * checks nobody reads).
   */
  async view(openid: string, traceId: string): Promise<MediaCheckView> {
    let doc = await this.model.findOne({ traceId }).lean<MediaCheckDoc>();
    if (!doc || doc.openid !== openid || doc.unrequested) throw new NotFoundError('no such media check');
    const now = this.now();
    if (doc.status === 'pending' && doc.deadlineAt && doc.deadlineAt.getTime() <= now.getTime()) {
      await this.model.updateOne({ _id: doc._id, status: 'pending' }, { $set: { status: 'timed_out', timedOutAt: now } });
      doc = await this.model.findOne({ _id: doc._id }).lean<MediaCheckDoc>() ?? doc;
    }
    return present(doc);
  }

  /** The schedule: marks every pending check past its deadline timed_out. */
  async expireOverdue(): Promise<number> {
    const now = this.now();
    const res = await this.model.updateMany({ status: 'pending', deadlineAt: { $lte: now } }, { $set: { status: 'timed_out', timedOutAt: now } });
    if (res.modifiedCount > 0) this.ctx.logger.warn('[contentSecurity] %d media check(s) got no verdict in time: timed_out', res.modifiedCount);
    return res.modifiedCount;
  }

  /**
   * A wxa_media_check push (from the inbox): records its verdict on the pending (or timed-out)
   * check, once; a repeated push changes nothing. A verdict for a trace_id nobody asked for here
   * is kept as `unrequested` under the push's openid rather than dropped: the push may have raced
   * the request's own insert (which then completes it), and otherwise it is evidence of a check
   * asked for elsewhere with this appid; either way it is logged and expires like any check.
   * A malformed push (no trace_id, another appid, no result) is logged and not recorded.
   */
  async recordVerdict(push: { fromUser: string; fields: Record<string, string>; nested?: Record<string, unknown> }): Promise<VerdictOutcome> {
    const parsed = mediaVerdictFromPush(push.fields ?? {}, push.nested ?? {});
    if (!parsed.ok) {
      this.ctx.logger.warn('[contentSecurity] wxa_media_check push ignored (trace_id %s): %s', parsed.traceId ?? '-', parsed.why);
      return 'invalid';
    }
    const { traceId } = parsed;
    if (parsed.appid !== null && parsed.appid !== this.app.config.backend.wechat.appid) {
      this.ctx.logger.warn('[contentSecurity] wxa_media_check push for trace_id %s names another appid; ignored', traceId);
      return 'invalid';
    }
    const now = this.now();
    const verdict = parsed.outcome === 'done'
      ? { status: 'done', result: parsed.verdict, detail: parsed.detail }
      : { status: 'failed', errcode: parsed.errcode, errmsg: parsed.errmsg, detail: parsed.detail };
    const set = { ...verdict, verdictAt: now, expireAt: this.expireAt(now) };
    const res = await this.model.updateOne({ traceId, status: { $in: [ 'pending', 'timed_out' ] } }, { $set: set });
    if (res.modifiedCount === 1) return 'recorded';
    try {
      await this.model.create({ traceId, openid: push.fromUser, unrequested: true, ...set });
    } catch (err) {
      if (isDuplicateKeyError(err)) return 'duplicate';
      throw err;
    }
    this.ctx.logger.warn('[contentSecurity] verdict for unknown trace_id %s kept as unrequested', traceId);
    return 'unrequested';
  }
}

function present(doc: MediaCheckDoc): MediaCheckView {
  const view: MediaCheckView = {
    traceId: doc.traceId,
    status: doc.status,
    mediaType: doc.mediaType,
    mediaUrl: doc.url,
    scene: doc.scene,
    requestedAt: doc.requestedAt,
  };
  if (doc.status === 'done' && doc.result) Object.assign(view, { suggest: doc.result.suggest, label: doc.result.label });
  if (doc.status === 'failed') Object.assign(view, { errcode: doc.errcode, errmsg: doc.errmsg });
  if (doc.verdictAt) Object.assign(view, { detail: doc.detail ?? [], verdictAt: doc.verdictAt });
  if (doc.status === 'timed_out') view.timedOutAt = doc.timedOutAt;
  return view;
}
