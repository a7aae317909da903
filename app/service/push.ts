import { Application, Context, Service } from 'egg';
import { BoundedQueue } from '../lib/boundedQueue';
import { isDatabaseUnavailable } from '../lib/databaseErrors';
import { AppError, PushNotStoredError } from '../lib/errors';
import {
  authenticatePush, openAuthenticatedPush, OpenedPush, PushChannelConfig, PushChannelName, PushQuery, SUCCESS_REPLY, transferReply, verifyEcho,
} from '../lib/pushEnvelope';
import { InboxItem, RecordResult } from './inbox';

export interface ReceiveResult {
  /** The answer for WeChat: `success`, or the transfer_customer_service reply (agents) */
  reply: string;
  contentType: 'text/plain' | 'application/json' | 'text/xml';
  /** The message was handed to human agents (now or by an earlier delivery) */
  transferred: boolean;
  duplicate: boolean;
  inboxId: string | null;
}

/** Pause between two attempts to record a push while the database fails over. */
const RECORD_RETRY_PAUSE_MS = 100;

/** How `work` ended before `deadline` (epoch ms): its result, its error, or neither (still running). */
async function beforeDeadline<T>(work: Promise<T>, deadline: number): Promise<{ done: true; result: T } | { done: false; error?: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<{ done: false }>(resolve => {
    timer = setTimeout(() => resolve({ done: false }), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([ work.then(result => ({ done: true as const, result }), error => ({ done: false as const, error })), expired ]);
  } finally {
    clearTimeout(timer);
  }
}

/** An item of the processing queue: an inbox id to claim, or an item stored already claimed */
export type InboxWork = string | InboxItem;

/**
 * This worker's queue of received items to process right after their acknowledgement
 * (config.backend.inbox.concurrency at once, config.backend.inbox.queueLimit waiting, FIFO). Each item runs on
 * a fresh anonymous context, so the request's own context (request, response, body) is freed
 * as soon as WeChat has its `success`, not when the reply to the user has been sent. Items
 * refused while it is full stay pending in the inbox; once the queue has room again it reads
 * the due ones back (oldest first), and the sweeper remains the safety net.
 * Built once per app instance from config.backend.inbox as it is then: `app.processingQueue`
 * (app/extend/application.ts) holds it and builds it again only after a reset.
 */
export function createProcessingQueue(app: Application): BoundedQueue<InboxWork> {
  const { concurrency, queueLimit } = app.config.backend.inbox;
  return new BoundedQueue<InboxWork>({
    concurrency,
    maxQueued: queueLimit,
    run: work => new Promise<void>(resolve => {
      app.createAnonymousContext().runInBackground(async function processInboxItem(bg: Context) {
        try {
          await (typeof work === 'string' ? bg.service.inbox.processById(work) : bg.service.inbox.processClaimed(work));
        } finally {
          resolve();
        }
      });
    }),
    // Items refused while the queue was full are read back from the inbox once it has room.
    refill: room => app.createAnonymousContext().service.inbox.dueIds(room),
    onError: (err, work) => app.logger.error('[push] %s failed, left for the sweeper: %s',
      work === null ? 'refilling the processing queue' : `processing ${typeof work === 'string' ? work : work._id}`, (err as Error)?.message ?? err),
  });
}

/**
 * Message push channels: the mini-program's `/message/check` and the official
 * account's `/oa/message` share this code, each with its own token, key and appid.
 */
export default class PushService extends Service {
  channel(name: PushChannelName): PushChannelConfig {
    const { wechat, officialAccount } = this.app.config.backend;
    if (name === 'officialAccount') {
      if (!officialAccount.appid) throw new AppError('OA_NOT_CONFIGURED', 'the official account is not configured (OA_APPID)');
      return {
        name,
        appid: officialAccount.appid,
        token: officialAccount.msgToken,
        aesKey: officialAccount.msgAesKey,
        allowPlaintext: officialAccount.msgAllowPlaintext,
        maxAgeSeconds: wechat.msgMaxAgeSeconds,
      };
    }
    return {
      name,
      appid: wechat.appid,
      token: wechat.msgToken,
      aesKey: wechat.msgAesKey,
      allowPlaintext: wechat.msgAllowPlaintext,
      maxAgeSeconds: wechat.msgMaxAgeSeconds,
    };
  }

  /** GET verification: the `echostr` to send back, or SIGNATURE_INVALID / INVALID_PARAM. */
  verify(name: PushChannelName, query: PushQuery): string {
    return verifyEcho(this.channel(name), query);
  }

  /**
   * POST: verify, decrypt and parse, record durably in the inbox (deduplicated, replays refused),
   * and hand the item to this worker's bounded processing queue, which works after the reply.
   * Never waits on WeChat. An item the queue refuses (full) stays pending in the inbox until it
   * has room. `readBody` is called only once the URL signature, freshness and mode have passed:
   * nothing of an unauthenticated request is read, let alone parsed.
   */
  async receive(name: PushChannelName, query: PushQuery, readBody: () => Promise<string>): Promise<ReceiveResult> {
    const channel = this.channel(name);
    const authenticated = authenticatePush(channel, query);
    const opened = openAuthenticatedPush(channel, authenticated, await readBody());
    const recorded = await this.recordWithinWait(name, opened);
    if (recorded.duplicate) this.ctx.logger.info('[push] %s duplicate delivery of %s', name, opened.dedupeKey);
    const { duplicate, transferred } = recorded;
    if (!transferred) return { reply: SUCCESS_REPLY, contentType: 'text/plain', transferred, duplicate, inboxId: recorded.id };
    // A duplicate of a transferred message gets the transfer again: WeChat retries only when it
    // got no answer, so the first one was lost.
    const contentType = opened.format === 'json' ? 'application/json' : 'text/xml';
    return { reply: transferReply(channel, opened), contentType, transferred, duplicate, inboxId: recorded.id };
  }

  /**
   * Records the push, waiting up to config.backend.inbox.recordWaitMs while the database is unreachable or
   * failing over: mongoose holds commands while it reconnects, and a failover error (after the
   * driver's own retry) is tried again after a pause. Past the wait: PushNotStoredError, and the
   * push gets no answer, so WeChat retries it. An attempt still in flight then finishes on its own
   * (its queue slot is settled by recordAndQueue); if it stored the push, the retry is a duplicate.
   * The hand-off decision (autoReply.handOff) runs inside each attempt, so a cold rules cache is
   * read within the same wait.
   */
  private async recordWithinWait(name: PushChannelName, opened: OpenedPush): Promise<RecordResult> {
    // Real time, not app/lib/clock.ts: this waits on real timers while WeChat waits for the answer.
    const deadline = Date.now() + this.app.config.backend.inbox.recordWaitMs;
    for (;;) {
      const outcome = await beforeDeadline(this.recordAndQueue(name, opened), deadline);
      if (outcome.done) return outcome.result;
      if (outcome.error !== undefined && !isDatabaseUnavailable(outcome.error)) throw outcome.error;
      const reason = outcome.error === undefined ? 'no reply from the database' : (outcome.error as Error)?.message;
      if (outcome.error === undefined || Date.now() + RECORD_RETRY_PAUSE_MS >= deadline) {
        this.ctx.logger.warn('[push] %s %s not stored within %d ms (%s): no answer, WeChat retries it',
          name, opened.dedupeKey, this.app.config.backend.inbox.recordWaitMs, reason);
        throw new PushNotStoredError();
      }
      this.ctx.logger.warn('[push] %s %s not stored yet (%s), trying again', name, opened.dedupeKey, reason);
      await new Promise(resolve => setTimeout(resolve, RECORD_RETRY_PAUSE_MS));
    }
  }

  /**
   * One attempt to decide whether the message goes to agents and record the push. A free processing slot now: the item is stored already claimed
   * and starts in that slot (no separate claim). Otherwise it is stored pending and queued by id,
   * to be claimed when its turn comes.
   */
  private async recordAndQueue(name: PushChannelName, opened: OpenedPush): Promise<RecordResult> {
    const { message } = opened;
    const handOff = await this.ctx.service.autoReply.handOff({ channel: name, msgType: message.msgType, event: message.event, content: message.content });
    // A message handed to agents is stored done: nothing to process, no slot.
    if (handOff.transfer) return this.ctx.service.inbox.record(name, opened, { transferRuleId: handOff.ruleId });
    const queue = this.app.processingQueue;
    const slot = queue.reserve();
    let recorded: RecordResult;
    try {
      recorded = await this.ctx.service.inbox.record(name, opened, { claimed: slot, matched: handOff.matched });
    } catch (err) {
      if (slot) queue.release();
      throw err;
    }
    if (recorded.duplicate) {
      if (slot) queue.release();
    } else if (recorded.claimed) {
      queue.startReserved(recorded.claimed);
    } else if (queue.offer(recorded.id!) === 'refused') {
      this.ctx.logger.warn('[push] processing queue full (%d running, %d waiting): %s left pending for the sweeper', queue.running, queue.queued, recorded.id);
    }
    return recorded;
  }
}
