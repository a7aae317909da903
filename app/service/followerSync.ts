import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Service } from 'egg';
import { isDuplicateKeyError } from '../lib/databaseErrors';
import { Model, Types } from 'mongoose';
import { clock } from '../lib/clock';
import { WechatApiError } from '../lib/errors';
import { isWechatApiError } from '../lib/sendOutcome';
import { FollowerSyncRunDoc, SyncRunStatus, SyncRunTrigger } from '../model/FollowerSyncRun';
import { FollowerPage, OfficialAccountUser } from './wechatClient';

/** /cgi-bin/user/info/batchget takes at most 100 openids. */
export const BATCHGET_SIZE = 100;

export interface SyncRunView {
  runId: string;
  status: SyncRunStatus;
  trigger: SyncRunTrigger;
  pagesDone: number;
  followersSoFar: number;
  /** Followers according to WeChat's latest user/get reply */
  total: number | null;
  /** Set when the run completed */
  markedUnsubscribed: number | null;
  calls: { userGet: number; batchGet: number };
  attempts: number;
  lastError: string | null;
  startedAt: Date;
  finishedAt: Date | null;
  updatedAt: Date | null;
  /** While running: until when the executing process holds the run */
  leaseUntil: Date | null;
}

export interface StartResult {
  /** false: a run was already in progress elsewhere; `run` is that one */
  started: boolean;
  /** true: an interrupted run was taken up again from its checkpoint */
  resumed: boolean;
  run: SyncRunView;
}

interface Claim extends StartResult {
  /** This process's lease owner id, when started */
  owner: string | null;
}

/** WeChat no longer accepts the run's next_openid: the run cannot be resumed. */
class CursorRejectedError extends Error {
  constructor(readonly wechatError: WechatApiError) {
    super(`WeChat rejected the checkpoint next_openid: ${wechatError.message}`);
    this.name = 'CursorRejectedError';
  }
}

/** The run's lease went to another process: stop without touching the run. */
class LeaseLostError extends Error {
  constructor() {
    super('the sync run lease was taken over by another process');
    this.name = 'LeaseLostError';
  }
}

function chunk<T>(list: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

function describe(err: any): string {
  if (isWechatApiError(err)) return `${err.reason}${err.errcode === null ? '' : ` ${err.errcode}`}: ${err.message}`.slice(0, 300);
  return `${err?.reason ?? err?.name ?? 'Error'}: ${String(err?.message ?? err)}`.slice(0, 300);
}

/** The executing process's view of a run: progress, call counts, and fenced writes. */
class RunState {
  readonly runId: string;
  readonly mine: { _id: Types.ObjectId; leaseOwner: string };
  lost = false;
  cursor: string;
  pagesDone: number;
  followersSoFar: number;
  /** WeChat calls not yet added to the run document */
  readonly calls = { userGet: 0, batchGet: 0 };

  constructor(private readonly model: Model<FollowerSyncRunDoc>, doc: FollowerSyncRunDoc, owner: string) {
    this.runId = String(doc._id);
    this.mine = { _id: doc._id, leaseOwner: owner };
    this.cursor = doc.pageCursor ?? '';
    this.pagesDone = doc.pagesDone ?? 0;
    this.followersSoFar = doc.followersSoFar ?? 0;
  }

  /** The pending call counts as an $inc (and resets them). */
  flushCalls(): Record<string, number> {
    const inc = { 'calls.userGet': this.calls.userGet, 'calls.batchGet': this.calls.batchGet };
    this.calls.userGet = 0;
    this.calls.batchGet = 0;
    return inc;
  }

  /** Writes the run only while this process holds its lease; otherwise stops the run. */
  async write(update: Record<string, any>): Promise<void> {
    if (this.lost) throw new LeaseLostError();
    const res = await this.model.updateOne(this.mine, { ...update, $inc: this.flushCalls() });
    if (res.matchedCount !== 1) {
      this.lost = true;
      throw new LeaseLostError();
    }
  }
}

export function toView(doc: FollowerSyncRunDoc): SyncRunView {
  return {
    runId: String(doc._id),
    status: doc.status,
    trigger: doc.trigger,
    pagesDone: doc.pagesDone ?? 0,
    followersSoFar: doc.followersSoFar ?? 0,
    total: doc.total ?? null,
    markedUnsubscribed: doc.markedUnsubscribed ?? null,
    calls: { userGet: doc.calls?.userGet ?? 0, batchGet: doc.calls?.batchGet ?? 0 },
    attempts: doc.attempts ?? 1,
    lastError: doc.lastError ?? null,
    startedAt: doc.startedAt,
    finishedAt: doc.finishedAt ?? null,
    updatedAt: doc.updatedAt ?? null,
    leaseUntil: doc.status === 'running' ? doc.leaseUntil ?? null : null,
  };
}

/**
 * Full sync of the official account's followers (docs/official-account.md):
 * /cgi-bin/user/get pages (10,000 openids, next_openid) -> /cgi-bin/user/info/batchget (100 a
 * call, `config.backend.followerSync.batchConcurrency` calls in flight) -> bulkWrite into the follower
 * store; when the listing ends, followers the run did not list are marked unsubscribed.
 *
 * - One unfinished run per account (unique partial index, see app/model/FollowerSyncRun.ts); the
 *   process executing it holds a lease that a heartbeat renews; every checkpoint write is fenced
 *   by the lease owner, so a process that lost its lease stops.
 * - Resumable: after a failure (status failed) or a crash (lease expired) the next start takes
 *   the same run up from its checkpoint (the page's cursor and the last stored openid in it),
 *   repeating at most the batches that were in flight.
 * - Idempotent: every write is an upsert keyed by openid.
 * - Leases, their heartbeat and the schedule's due time follow app/lib/clock.ts (tests move it).
 */
export default class FollowerSyncService extends Service {
  private get model() {
    return this.ctx.model.FollowerSyncRun;
  }

  /** The latest run of the configured account (GET /admin/oa/sync), or null. */
  async latest(): Promise<SyncRunView | null> {
    const appid = this.ctx.service.follower.appid();
    const doc = await this.model.findOne({ appid }).sort({ startedAt: -1, _id: -1 }).lean<FollowerSyncRunDoc>();
    return doc ? toView(doc) : null;
  }

  /**
   * POST /admin/oa/sync: starts a run (or resumes an interrupted one) in the background and
   * returns at once; if a run is in progress elsewhere, reports that one.
   */
  async startInBackground(trigger: SyncRunTrigger = 'admin'): Promise<StartResult> {
    const claim = await this.claim(trigger);
    if (claim.owner) {
      const { runId } = claim.run;
      const owner = claim.owner;
      this.ctx.runInBackground(async (bg: any) => {
        await bg.service.followerSync.execute(runId, owner);
      });
    }
    return { started: claim.started, resumed: claim.resumed, run: claim.run };
  }

  /** Starts (or resumes) a run and waits for its end: the schedule, scripts, tests. */
  async runNow(trigger: SyncRunTrigger = 'schedule'): Promise<StartResult> {
    const claim = await this.claim(trigger);
    if (!claim.owner) return { started: false, resumed: false, run: claim.run };
    const run = await this.execute(claim.run.runId, claim.owner);
    return { started: true, resumed: claim.resumed, run };
  }

  /**
   * The schedule's tick: resumes an interrupted run; otherwise starts one when none started within
   * `config.backend.followerSync.everyHours`. Does nothing (and says so) without OA_APPID.
   */
  async runScheduled(): Promise<StartResult | null> {
    if (!this.app.config.backend.officialAccount.appid) {
      this.ctx.logger.info('[followerSync] official account not configured (OA_APPID): nothing to sync');
      return null;
    }
    const appid = this.ctx.service.follower.appid();
    const unfinished = await this.model.findOne({ appid, active: true }).lean<FollowerSyncRunDoc>();
    if (!unfinished) {
      const last = await this.model.findOne({ appid }).sort({ startedAt: -1 }).lean<FollowerSyncRunDoc>();
      const dueAt = last ? new Date(last.startedAt).getTime() + this.app.config.backend.followerSync.everyHours * 3600_000 : 0;
      if (clock.now() < dueAt) return null;
    }
    const result = await this.runNow('schedule');
    if (!result.started) this.ctx.logger.info('[followerSync] run %s is in progress elsewhere', result.run.runId);
    return result;
  }

  // -------------------------------------------------------------------------
  // Claiming a run

  private async claim(trigger: SyncRunTrigger): Promise<Claim> {
    const appid = this.ctx.service.follower.appid();
    const owner = `${hostname()}:${process.pid}:${randomUUID()}`;
    const leaseMs = this.app.config.backend.followerSync.leaseSeconds * 1000;
    for (let attempt = 0; attempt < 5; attempt++) {
      const now = new Date(clock.now());
      const lease = { status: 'running', leaseOwner: owner, leaseUntil: new Date(now.getTime() + leaseMs), heartbeatAt: now };
      // An unfinished run nobody holds (it failed, or its holder crashed): take it up again.
      const resumed = await this.model.findOneAndUpdate(
        { appid, active: true, $or: [{ leaseUntil: null }, { leaseUntil: { $lte: now } }] },
        { $set: lease, $inc: { attempts: 1 } },
        { new: true },
      ).lean<FollowerSyncRunDoc>();
      if (resumed) {
        this.ctx.logger.info('[followerSync] resuming run %s from page %d (%d followers so far)', resumed._id, resumed.pagesDone, resumed.followersSoFar);
        return { started: true, resumed: true, run: toView(resumed), owner };
      }
      const current = await this.model.findOne({ appid, active: true }).lean<FollowerSyncRunDoc>();
      if (current) return { started: false, resumed: false, run: toView(current), owner: null };
      try {
        const doc = await this.model.create({
          appid, active: true, trigger, ...lease,
          pageCursor: '', doneThroughOpenid: '', pagesDone: 0, followersSoFar: 0,
          calls: { userGet: 0, batchGet: 0 }, attempts: 1, startedAt: now,
        });
        const run = doc.toObject() as FollowerSyncRunDoc;
        this.ctx.logger.info('[followerSync] run %s started (%s)', run._id, trigger);
        return { started: true, resumed: false, run: toView(run), owner };
      } catch (err) {
        // Another process created the account's unfinished run between our two reads: report it.
        if (!isDuplicateKeyError(err)) throw err;
      }
    }
    throw new Error('could not claim or read the follower sync run (concurrent starts kept colliding)');
  }

  // -------------------------------------------------------------------------
  // Executing a run (holding its lease)

  /** Runs (the rest of) a claimed run to its end or to a failure; returns its final view. */
  async execute(runId: string, owner: string): Promise<SyncRunView> {
    const { ctx } = this;
    const leaseMs = this.app.config.backend.followerSync.leaseSeconds * 1000;
    const id = new Types.ObjectId(runId);
    const doc = await this.model.findOne({ _id: id, leaseOwner: owner }).lean<FollowerSyncRunDoc>();
    if (!doc) throw new LeaseLostError();
    const run = new RunState(this.model, doc, owner);

    const stopHeartbeat = clock.every(Math.max(50, Math.floor(leaseMs / 3)), () => {
      const now = clock.now();
      return this.model.updateOne(run.mine, { $set: { leaseUntil: new Date(now + leaseMs), heartbeatAt: new Date(now) } })
        .then(res => {
          if (res.matchedCount !== 1) run.lost = true;
        })
        .catch(err => ctx.logger.warn('[followerSync] run %s: lease renewal failed: %s', runId, describe(err)));
    });

    try {
      let skipThrough = doc.doneThroughOpenid ?? '';
      for (;;) {
        if (run.lost) throw new LeaseLostError();
        const page = await this.listPage(run);
        if (page.openids.length === 0 && run.pagesDone === 0 && run.followersSoFar === 0 && page.total > 0) {
          throw new WechatApiError('WECHAT_UNAVAILABLE', `WeChat user/get listed no openids but a total of ${page.total}`);
        }
        let openids = page.openids;
        if (skipThrough) {
          // Resuming inside this page: skip what is stored (if that openid left the list, redo the page).
          const at = openids.indexOf(skipThrough);
          if (at >= 0) openids = openids.slice(at + 1);
          skipThrough = '';
        }
        await this.syncOpenids(run, openids);

        const end = page.openids.length === 0 || page.nextOpenid === '';
        if (page.openids.length > 0) run.pagesDone++;
        if (!end) run.cursor = page.nextOpenid;
        await run.write({
          $set: { pageCursor: run.cursor, doneThroughOpenid: '', pagesDone: run.pagesDone, followersSoFar: run.followersSoFar, total: page.total },
        });
        if (page.openids.length > 0) {
          ctx.logger.info('[followerSync] run %s: %d page(s) done, %d followers so far (WeChat total %d)',
            runId, run.pagesDone, run.followersSoFar, page.total);
        }
        if (end) break;
      }

      const markedUnsubscribed = await ctx.service.follower.markUnlisted(runId, new Date(doc.startedAt));
      const finishedAt = new Date();
      await run.write({
        $set: { status: 'completed', finishedAt, markedUnsubscribed, leaseOwner: null, leaseUntil: null, lastError: null },
        $unset: { active: 1 },
      });
      ctx.logger.info('[followerSync] run %s completed: %d followers in %d page(s), %d marked unsubscribed, %d ms since it started',
        runId, run.followersSoFar, run.pagesDone, markedUnsubscribed, finishedAt.getTime() - new Date(doc.startedAt).getTime());
    } catch (err: any) {
      if (err instanceof LeaseLostError) {
        ctx.logger.warn('[followerSync] run %s: lease lost, stopping (another process continues it)', runId);
      } else {
        // A next_openid WeChat no longer accepts cannot be resumed: close the run so the next start begins afresh.
        const cursorRejected = err instanceof CursorRejectedError;
        const status: SyncRunStatus = cursorRejected ? 'abandoned' : 'failed';
        ctx.logger.error('[followerSync] run %s %s at page %d (%d followers so far): %s',
          runId, status, run.pagesDone + 1, run.followersSoFar, describe(err));
        await this.model.updateOne(run.mine, {
          $set: { status, lastError: describe(err), leaseOwner: null, leaseUntil: null, ...(cursorRejected ? { finishedAt: new Date() } : {}) },
          ...(cursorRejected ? { $unset: { active: 1 } } : {}),
          $inc: run.flushCalls(),
        }).catch(e => ctx.logger.error('[followerSync] run %s: could not record the failure: %s', runId, describe(e)));
      }
    } finally {
      stopHeartbeat();
    }
    const final = await this.model.findById(id).lean<FollowerSyncRunDoc>();
    return toView(final as FollowerSyncRunDoc);
  }

  /** One /cgi-bin/user/get page after the run's cursor. */
  private async listPage(run: RunState): Promise<FollowerPage> {
    try {
      return await this.ctx.service.wechatClient.listOfficialAccountFollowers(run.cursor);
    } catch (err) {
      if (isWechatApiError(err) && err.errcode === 40003 && run.cursor !== '') throw new CursorRejectedError(err);
      throw err;
    } finally {
      run.calls.userGet++;
    }
  }

  /**
   * batchget + store the openids of one page, 100 a call, `batchConcurrency` calls in flight. The
   * checkpoint (doneThroughOpenid) follows the prefix of batches that are stored, so a resume
   * repeats at most the batches that were in flight.
   */
  private async syncOpenids(run: RunState, openids: string[]): Promise<void> {
    const client = this.ctx.service.wechatClient;
    const followers = this.ctx.service.follower;
    const batches = chunk(openids, BATCHGET_SIZE);
    const stored: number[] = new Array(batches.length).fill(-1);
    let prefix = 0;
    let next = 0;
    let failure: unknown = null;
    let checkpoints = Promise.resolve();

    const advance = () => {
      let n = 0;
      while (prefix < batches.length && stored[prefix] >= 0) n += stored[prefix++];
      if (n === 0) return;
      run.followersSoFar += n;
      const last = batches[prefix - 1];
      const update = { $set: { doneThroughOpenid: last[last.length - 1], followersSoFar: run.followersSoFar, pageCursor: run.cursor } };
      checkpoints = checkpoints.then(() => run.write(update));
      // Awaited after the page; a failure meanwhile must not count as an unhandled rejection.
      checkpoints.catch(() => undefined);
    };
    const worker = async () => {
      while (failure === null && !run.lost && next < batches.length) {
        const i = next++;
        try {
          const fetchedAt = new Date();
          let users: OfficialAccountUser[];
          try {
            users = await client.batchGetOfficialAccountUsers(batches[i]);
          } finally {
            run.calls.batchGet++;
          }
          stored[i] = await followers.applySyncBatch(run.runId, users, fetchedAt);
          advance();
        } catch (err) {
          if (failure === null) failure = err;
        }
      }
    };
    const { batchConcurrency } = this.app.config.backend.followerSync;
    await Promise.all(Array.from({ length: Math.max(1, batchConcurrency) }, worker));
    await checkpoints;
    if (failure !== null) throw failure;
    if (run.lost) throw new LeaseLostError();
  }
}
