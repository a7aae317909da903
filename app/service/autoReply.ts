import { Service } from 'egg';
import { clock } from '../lib/clock';
import { NotFoundError, InvalidParamError } from '../lib/errors';
import { isWechatApiError } from '../lib/sendOutcome';
import { holdsRawMediaId } from '../lib/media';
import {
  customSendBody, defaultLinkRule, MatchableMessage, regexRefusalReason, ReplyRule, ReplyRuleInput, RuleReply, ruleMatches, selectRule,
} from '../lib/replyRules';

/** At most this many rules exist, so matching one message stays cheap. */
export const MAX_RULES = 500;

/** The clock regex budgets are measured with (ms, monotonic); tests replace `now`. */
export const matchClock = { now: () => performance.now() };

export type ReplyRuleView = ReplyRule & {
  createdAt?: Date;
  updatedAt?: Date;
  /**
   * Why this stored rule never matches: its regex was stored before a stricter check and cannot
   * run now (backreference, lookaround, too complex). Shown in the admin API; fix or delete it.
   */
  problem?: string;
  /** Set on rules stored with a raw WeChat media_id: they fail once it expires (3 days after its upload) */
  needsImage?: true;
  warning?: string;
};

/** The inbox's ruleId of a message handed to agents by AUTO_REPLY_UNMATCHED=transfer (no rule matched). */
export const UNMATCHED_RULE_ID = 'unmatched';

/** A pushed message as the hand-off decision sees it. */
export interface HandOffMessage extends MatchableMessage {
  channel: string;
}

/**
 * The hand-off decision: to agents (with the rule id to record), or not, with the rule matched
 * on the way when there was matching (so processing the item right away does not match again).
 */
export type HandOff = { transfer: true; ruleId: string } | { transfer: false; matched?: { rule: ReplyRule | null } };

const RAW_MEDIA_WARNING = 'this rule holds a raw WeChat media_id, which expires 3 days after its upload (40007 then): ' +
  'upload the image with POST /admin/media and replace the rule with reply.image.mediaRef (or reply.miniprogrampage.thumbMediaRef)';

function toView(doc: any): ReplyRuleView {
  const match: any = { msgType: doc.match.msgType };
  if (doc.match.event) match.event = doc.match.event;
  if (doc.match.keyword) {
    match.keyword = { mode: doc.match.keyword.mode, value: doc.match.keyword.value, caseSensitive: !!doc.match.keyword.caseSensitive };
  }
  const base = { id: String(doc._id), name: doc.name, enabled: doc.enabled, priority: doc.priority, match, createdAt: doc.createdAt, updatedAt: doc.updatedAt };
  // Rules stored before actions existed are reply rules.
  if (doc.action === 'transfer') return { ...base, action: 'transfer' };
  return {
    ...base,
    action: 'reply',
    reply: doc.reply,
    ...(holdsRawMediaId(doc.reply) ? { needsImage: true, warning: RAW_MEDIA_WARNING } : {}),
  };
}

/** The admin's view: a stored regex that can no longer run is flagged (compiling is cached). */
function withProblem(view: ReplyRuleView): ReplyRuleView {
  const { keyword } = view.match;
  const refused = keyword?.mode === 'regex' ? regexRefusalReason(keyword.value, keyword.caseSensitive) : null;
  return refused ? { ...view, problem: `the regex cannot run, so this rule never matches: ${refused}` } : view;
}

/** Rules whose unusable regex was already logged by this process (id and pattern). */
const reportedRefusals = new Set<string>();

/** The stored image a reply refers to, with the field naming it. */
function mediaRefOf(reply: RuleReply): { field: string; id: string } | null {
  if (reply.msgtype === 'image' && 'mediaRef' in reply.image) return { field: 'reply.image.mediaRef', id: reply.image.mediaRef };
  if (reply.msgtype === 'miniprogrampage' && 'thumbMediaRef' in reply.miniprogrampage) {
    return { field: 'reply.miniprogrampage.thumbMediaRef', id: reply.miniprogrampage.thumbMediaRef };
  }
  return null;
}

/** The reply with its stored image replaced by the WeChat media_id custom/send takes. */
function withMediaId(reply: RuleReply, mediaId: string): RuleReply {
  if (reply.msgtype === 'image') return { msgtype: 'image', image: { media_id: mediaId } };
  if (reply.msgtype === 'miniprogrampage') {
    const { title, pagepath } = reply.miniprogrampage;
    return { msgtype: 'miniprogrampage', miniprogrampage: { title, pagepath, thumb_media_id: mediaId } };
  }
  return reply;
}

/** Auto-reply rules in MongoDB plus the default rule from config. */
export default class AutoReplyService extends Service {
  private get model() {
    return this.ctx.model.ReplyRule;
  }

  /** The rule that answers `message`: stored rules by priority, then the configured default. */
  async match(message: MatchableMessage): Promise<ReplyRule | null> {
    const rules = await this.enabledRules();
    const selection = await selectRule<ReplyRuleView>(rules, message, { now: matchClock.now, budgetMs: this.app.config.backend.autoReply.matchBudgetMs });
    if (selection.regexesSkipped > 0) {
      // Counts only: the message text is the user's and stays out of the log.
      this.ctx.logger.warn('[autoReply] %d regex rules not tried: the %d ms regex budget of this message was spent after %d',
        selection.regexesSkipped, this.app.config.backend.autoReply.matchBudgetMs, selection.regexesRun);
    }
    for (const rule of selection.refused) {
      const key = `${rule.id}:${rule.match.keyword!.value}`;
      if (reportedRefusals.has(key)) continue;
      if (reportedRefusals.size >= 10_000) reportedRefusals.clear();
      reportedRefusals.add(key);
      this.ctx.logger.warn('[autoReply] rule %s never matches: %s', rule.id, withProblem(rule).problem);
    }
    if (selection.rule) return selection.rule;
    const fallback = defaultLinkRule(this.app.config.backend.autoReply.defaultLink);
    return fallback && ruleMatches(fallback, message) ? fallback : null;
  }

  /**
   * Whether a pushed message goes to human agents, decided before the push is answered (the
   * answer is then transfer_customer_service): the first matching rule is a transfer rule, or no
   * rule answers it and config.backend.autoReply.unmatched is `transfer`. Only a user's message on the
   * mini-program channel, never an event (转发客服消息). No WeChat call: the rules come from this
   * worker's cache (a cold cache is one indexed query, bounded by the push's wait for the database,
   * config.backend.inbox.recordWaitMs, like the insert that follows it).
   * A transfer records the rule id (`unmatched` for the setting) and is answered with
   * transfer_customer_service; otherwise the answer is `success`.
   */
  async handOff(message: HandOffMessage): Promise<HandOff> {
    if (message.channel !== 'miniprogram' || message.msgType === 'event') return { transfer: false };
    // Without a transfer rule or setting nothing can be handed off: the answer does not wait for
    // matching (up to config.backend.autoReply.matchBudgetMs of regexes), which processing does after it.
    if (this.app.config.backend.autoReply.unmatched !== 'transfer' && !(await this.enabledRules()).some(r => r.action === 'transfer')) {
      return { transfer: false };
    }
    const rule = await this.match(message);
    if (rule?.action === 'transfer') return { transfer: true, ruleId: rule.id };
    if (!rule && this.app.config.backend.autoReply.unmatched === 'transfer') return { transfer: true, ruleId: UNMATCHED_RULE_ID };
    return { transfer: false, matched: { rule } };
  }

  /**
   * The enabled rules in priority order, read at most once per config.backend.autoReply.rulesCacheMs by
   * each worker (every push used to read and convert them), and again after any write through
   * this process (the ReplyRule model's write hooks invalidate `app.replyRulesCache`,
   * app/extend/application.ts). Concurrent callers share one read; a failed read is not kept.
   */
  private enabledRules(): Promise<ReplyRuleView[]> {
    return this.app.replyRulesCache.get(clock.now(), this.app.config.backend.autoReply.rulesCacheMs, () => this.model.find({ enabled: true })
      .sort({ priority: -1, createdAt: 1, _id: 1 })
      .limit(MAX_RULES)
      .lean()
      .then(docs => docs.map(toView)));
  }

  /**
   * Sends a rule's reply to `touser` through custom/send. A stored image becomes a WeChat
   * media_id first (uploaded when due, app/service/media.ts); when WeChat answers 40007 (the
   * media_id is unknown or expired, so nothing was sent) the image is uploaded again and the
   * send repeated once.
   */
  async send(reply: RuleReply, touser: string): Promise<void> {
    const { media, wechatClient } = this.ctx.service;
    const ref = mediaRefOf(reply);
    if (!ref) return wechatClient.customSend(customSendBody(reply, touser));
    const mediaId = await media.mediaIdFor(ref.id);
    try {
      await wechatClient.customSend(customSendBody(withMediaId(reply, mediaId), touser));
    } catch (err) {
      if (!isWechatApiError(err) || err.errcode !== 40007) throw err;
      this.ctx.logger.warn('[autoReply] media_id of stored image %s refused (40007): uploading again, sending once more', ref.id);
      const fresh = await media.invalidate(ref.id, mediaId);
      await wechatClient.customSend(customSendBody(withMediaId(reply, fresh), touser));
    }
  }

  async list(): Promise<ReplyRuleView[]> {
    const docs = await this.model.find({}).sort({ priority: -1, createdAt: 1, _id: 1 }).limit(MAX_RULES)
      .lean();
    return docs.map(doc => withProblem(toView(doc)));
  }

  async get(id: string): Promise<ReplyRuleView> {
    const doc = await this.model.findOne({ _id: id }).setOptions({ sanitizeFilter: true }).lean();
    if (!doc) throw new NotFoundError(`no reply rule ${id}`);
    return withProblem(toView(doc));
  }

  async create(input: ReplyRuleInput): Promise<ReplyRuleView> {
    const count = await this.model.countDocuments({});
    if (count >= MAX_RULES) throw new InvalidParamError(`at most ${MAX_RULES} reply rules can exist; delete some first`);
    await this.assertImageStored(input);
    const doc = await this.model.create(input);
    return toView(doc.toObject());
  }

  /** Replaces a rule entirely (PUT semantics). */
  async replace(id: string, input: ReplyRuleInput): Promise<ReplyRuleView> {
    await this.assertImageStored(input);
    // `match` and `reply` are replaced whole, so a dropped keyword or event disappears too.
    const fields = { name: input.name, enabled: input.enabled, priority: input.priority, action: input.action, match: input.match };
    const update = input.action === 'transfer' ? { $set: fields, $unset: { reply: 1 } } : { $set: { ...fields, reply: input.reply } };
    const doc = await this.model
      .findOneAndUpdate({ _id: id }, update, { new: true, runValidators: true })
      .setOptions({ sanitizeFilter: true })
      .lean();
    if (!doc) throw new NotFoundError(`no reply rule ${id}`);
    return toView(doc);
  }

  private async assertImageStored(input: ReplyRuleInput): Promise<void> {
    if (input.action !== 'reply') return;
    const ref = mediaRefOf(input.reply);
    if (ref) await this.ctx.service.media.assertStored([ ref ]);
  }

  async remove(id: string): Promise<{ id: string; deleted: true }> {
    const res = await this.model.deleteOne({ _id: id }).setOptions({ sanitizeFilter: true });
    if (res.deletedCount !== 1) throw new NotFoundError(`no reply rule ${id}`);
    return { id, deleted: true };
  }
}
