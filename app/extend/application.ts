import { Application } from 'egg';
import { BoundedQueue } from '../lib/boundedQueue';
import { CachedRead, LocalCopies, SingleFlight } from '../lib/processState';
import type { ApiDocs } from '../service/apiDocs';
import type { ReplyRuleView } from '../service/autoReply';
import type { IndexReport } from '../service/databaseIndexes';
import type { MediaIdCopy } from '../service/media';
import { createProcessingQueue, InboxWork } from '../service/push';
import type { ServedCode } from '../service/wxacode';

/**
 * Everything one app instance (one worker process) keeps in memory, in one place. MongoDB stays
 * the source of truth: each piece is a copy, a cache or work in flight that a restart may drop.
 */
class ProcessState {
  /** access_token per appid, and the refreshes in flight (app/service/accessToken.ts) */
  readonly accessTokens = new LocalCopies<string>();
  /** WeChat media_id per stored image, and the uploads in flight (app/service/media.ts) */
  readonly mediaIds = new LocalCopies<MediaIdCopy, string>();
  /** Mini-program codes being asked of WeChat, per parameter hash (app/service/wxacode.ts) */
  readonly wxaCodeFlights = new SingleFlight<ServedCode>();
  /** The enabled reply rules (app/service/autoReply.ts); the ReplyRule model's write hooks invalidate it */
  readonly replyRules = new CachedRead<ReplyRuleView[]>();
  /** The contract and the reference page, read at start-up when config.backend.apiDocs.enabled (app.ts) */
  apiDocs: ApiDocs | null = null;
  /** What the start-up index check found (app.ts, read by /health) */
  indexReport: IndexReport = { checked: false, problems: [] };
  private queue: BoundedQueue<InboxWork> | null = null;

  constructor(private readonly app: Application) {}

  /**
   * Built from config.backend.inbox on first use, and never rebuilt behind a caller's back: a changed
   * config.backend.inbox takes effect after reset() (tests change it before their first push, after the
   * root hook's reset).
   */
  get processingQueue(): BoundedQueue<InboxWork> {
    this.queue ??= createProcessingQueue(this.app);
    return this.queue;
  }

  /**
   * Drops every copy, cache and flight, as a restart would, once the processing queue is idle.
   * The start-up results (apiDocs, indexReport) stay. Tests call it before each test
   * (test/.setup.ts) for every app instance they started.
   */
  async reset(): Promise<void> {
    this.accessTokens.reset();
    this.mediaIds.reset();
    this.wxaCodeFlights.clear();
    this.replyRules.invalidate();
    await this.queue?.idle();
    this.queue = null;
  }
}

// Keyed by the application object itself: egg-mock's proxy runs these getters with the real
// application as `this`, so every view of one app instance shares one state and another instance
// (a second mock app, like another server) has its own. Hence getters only, no methods.
const states = new WeakMap<Application, ProcessState>();

function stateOf(app: Application): ProcessState {
  let state = states.get(app);
  if (!state) {
    state = new ProcessState(app);
    states.set(app, state);
  }
  return state;
}

/** Per-process state (typed by egg-ts-helper into egg's Application). */
export default {
  get accessTokenCache(): LocalCopies<string> {
    return stateOf(this).accessTokens;
  },

  get mediaIdCache(): LocalCopies<MediaIdCopy, string> {
    return stateOf(this).mediaIds;
  },

  get wxaCodeFlights(): SingleFlight<ServedCode> {
    return stateOf(this).wxaCodeFlights;
  },

  get replyRulesCache(): CachedRead<ReplyRuleView[]> {
    return stateOf(this).replyRules;
  },

  /** This worker's queue of pushed items to process after their acknowledgement (app/service/push.ts) */
  get processingQueue(): BoundedQueue<InboxWork> {
    return stateOf(this).processingQueue;
  },

  get apiDocs(): ApiDocs | null {
    return stateOf(this).apiDocs;
  },
  set apiDocs(docs: ApiDocs | null) {
    stateOf(this).apiDocs = docs;
  },

  get indexReport(): IndexReport {
    return stateOf(this).indexReport;
  },
  set indexReport(report: IndexReport) {
    stateOf(this).indexReport = report;
  },

  /**
   * Drops this process's copies, caches and flights, as a restart would (tests: before each test).
   * A getter handing out the function, not a method: egg-mock's proxy calls a method with itself as
   * `this`, but a getter with the real application, which keys the state.
   */
  get resetProcessState(): () => Promise<void> {
    const state = stateOf(this);
    return () => state.reset();
  },
} satisfies ThisType<Application>;
