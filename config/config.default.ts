import { EggAppConfig, EggAppInfo, PowerPartial } from 'egg';
import { readEnv, EnvSettings, WechatAppSettings } from './env';
import { formatLogRecord } from '../app/lib/logFormat';

/**
 * This application's own settings, typed, read as `app.config.backend.<name>` (cnpmcore keeps its
 * own under `config.cnpmcore` the same way). egg's and its plugins' settings stay at the top level
 * where they read them; keeping ours apart means no name of ours can meet one of theirs
 * (`config.session` is egg-session's).
 */
export interface BizConfig {
  wechat: EnvSettings['wechat'] & {
    /** Timeout of every call to WeChat's API, in milliseconds */
    httpTimeoutMs: number;
  };
  officialAccount: WechatAppSettings;
  admin: { token: string };
  session: { ttlSeconds: number };
  /** Shared access_token manager (app/service/accessToken.ts) */
  accessToken: {
    /** Refresh when less than this remains of the token's lifetime */
    refreshAheadSeconds: number;
    /** How long one process may hold the refresh lease before another may take it over */
    leaseMs: number;
    /** How long a caller waits for another process's refresh before WECHAT_UNAVAILABLE */
    waitMs: number;
    /** Poll interval of waiting callers */
    pollMs: number;
  };
  rateLimit: EnvSettings['rateLimit'];
  /** Content security: text and media checks (docs/content-security.md) */
  contentSecurity: EnvSettings['contentSecurity'] & {
    /** Media checks are kept this long after they were asked for or answered (TTL) */
    retentionDays: number;
  };
  /** Stored images and their WeChat media_ids (app/service/media.ts), with the access_token's lease discipline */
  media: {
    /** Upload again when less than this remains of a media_id's 3 days */
    refreshAheadSeconds: number;
    /** How long one process may hold an image's upload lease (longer than an upload with its retry) */
    leaseMs: number;
    /** How long a caller waits for another process's upload before WECHAT_UNAVAILABLE */
    waitMs: number;
    pollMs: number;
  };
  /** Durable push inbox: retention, leases, retries (docs/message-push.md) */
  inbox: {
    ttlSeconds: number;
    /** How long a claimed item stays locked; must exceed wechat.httpTimeoutMs */
    leaseSeconds: number;
    /** Attempts before an item whose reply keeps failing transiently is given up */
    maxAttempts: number;
    /** Backoff before attempt n+1: min(base * 2^(n-1), max) seconds */
    backoffBaseSeconds: number;
    backoffMaxSeconds: number;
    /** Items the sweeper processes per run */
    sweepBatch: number;
    /** Per worker: received items processed (replies being sent) at once right after the acknowledgement */
    concurrency: number;
    /** Per worker: received items waiting for one of those slots; beyond it they stay pending in the inbox until there is room */
    queueLimit: number;
    /**
     * How long a push may wait for the database to store it (reconnecting, electing a primary).
     * Past it the push gets no answer, so WeChat retries it; well inside WeChat's 5 s deadline.
     */
    recordWaitMs: number;
  };
  autoReply: EnvSettings['autoReply'] & {
    /**
     * How long a worker reuses the enabled rules it read (ms; 0 = read them for every message).
     * A rule written through a worker applies there at once, in other workers within this time.
     */
    rulesCacheMs: number;
    /**
     * Regex matching time per message across all rules (ms, time inside regexes only). Regex
     * rules not reached by then count as no match; exact/contains/type rules are still tried.
     */
    matchBudgetMs: number;
  };
  /** Start-up's build or check of every declared index (app/service/databaseIndexes.ts) */
  databaseIndexes: {
    /** Refuse to start when one cannot be built (production); otherwise log it and report it in /health */
    failStartup: boolean;
  };
  /** Subscribe messages: template cache, durable sends (docs/subscribe-messages.md) */
  subscribeMessage: {
    /** How long the stored template list is used before getTemplateList is read again */
    templateCacheSeconds: number;
    /** A send naming a template the stored list lacks reads the list again, at most this often */
    unknownTemplateRefreshSeconds: number;
    /** How long a send being sent stays leased; must exceed wechat.httpTimeoutMs */
    leaseSeconds: number;
    /** A send stored but whose grant was never settled (a crash in between) is repaired after this */
    reserveSeconds: number;
    /** Attempts before a send WeChat keeps asking to retry is given up (its grant given back) */
    maxAttempts: number;
    /** Backoff before attempt n+1: min(base * 2^(n-1), max) seconds */
    backoffBaseSeconds: number;
    backoffMaxSeconds: number;
    /** Sends the sweeper handles per run */
    sweepBatch: number;
  };
  /**
   * GET /openapi.json (docs/openapi.yaml as JSON) and the reference page /docs: on in development
   * and tests, in production only with API_DOCS=true (the contract lists the admin API, which
   * production hides while ADMIN_TOKEN is unset). Off, they answer NOT_FOUND.
   */
  apiDocs: { enabled: boolean };
  /** Mini-program codes, cached in MongoDB (app/service/wxacode.ts, docs/wxacode.md) */
  wxacode: EnvSettings['wxacode'] & {
    /** Codes a session user may ask for per minute (only with sessionAccess; admins are not limited) */
    sessionPerUserPerMinute: number;
    /** How long one process may hold a code's lease (longer than the WeChat call with its retries) */
    leaseMs: number;
    /** How long a request waits for another process's call before WECHAT_UNAVAILABLE */
    waitMs: number;
    pollMs: number;
  };
  /** Full sync of the official account's followers (docs/official-account.md) */
  followerSync: {
    /** The schedule starts a run when none started within this many hours (it resumes interrupted runs at every tick) */
    everyHours: number;
    /** A run's lease; the executing process renews it every third of this. A crashed holder's run is resumable after it. */
    leaseSeconds: number;
    /** /cgi-bin/user/info/batchget calls in flight at once */
    batchConcurrency: number;
  };
}

/**
 * What an env file may set: any part of the config. egg's PowerPartial keeps an optional object
 * property whole (`mongoose.client` would need its `url`); this goes all the way down.
 */
type DeepPartial<T> = {
  [K in keyof T]?: NonNullable<T[K]> extends (...args: never[]) => unknown ? T[K]
    : NonNullable<T[K]> extends object ? DeepPartial<NonNullable<T[K]>> : T[K];
};
export type DefaultConfig = DeepPartial<EggAppConfig & { backend: BizConfig }>;

/** How long a write waits for a majority of the replica set before it fails (MongoWriteConcernError). */
export const DEFAULT_WTIMEOUT_MS = 5000;

/**
 * The write concern the connection asks for unless its connection string names one: `w: 'majority'`,
 * so an acknowledged push, claim or lease survives a primary stepping down (a w:1 write can be rolled
 * back, MongoDB manual "Write Concern"). The driver prefers the options object over the URI
 * (mongodb connection_string.js, parseOptions), so the default is only set where the URI is silent.
 */
export function writeConcernDefaults(uri: string): { w?: 'majority'; wtimeoutMS?: number } {
  const query = uri.includes('?') ? uri.slice(uri.indexOf('?') + 1) : '';
  const named = new Set([ ...new URLSearchParams(query).keys() ].map(key => key.toLowerCase()));
  return {
    ...(named.has('w') ? {} : { w: 'majority' as const }),
    ...(named.has('wtimeoutms') || named.has('wtimeout') ? {} : { wtimeoutMS: DEFAULT_WTIMEOUT_MS }),
  };
}

export default (appInfo: EggAppInfo) => {
  const env = readEnv();
  const config = {} as PowerPartial<EggAppConfig>;

  // Overridden by EGG_KEYS; production refuses to start without it (config.prod.ts).
  config.keys = env.eggKeys || `${appInfo.name}_dev_keys`;

  // Outermost, so that it also sees body-parser failures (see app.ts).
  config.middleware = [];

  // egg-cluster listens on every interface unless given a hostname.
  config.cluster = { listen: { port: env.port, ...(env.host ? { hostname: env.host } : {}) } };

  // Every record without the request's query string (signatures, tokens) and with control
  // and bidi characters escaped: one record, one line (app/lib/logFormat.ts).
  config.logger = {
    formatter: formatLogRecord,
    contextFormatter: formatLogRecord,
  };

  // The API authenticates with bearer tokens, never cookies, and WeChat's servers cannot
  // send a CSRF token: CSRF protection has nothing to protect here and would block them.
  config.security = {
    csrf: { enable: false },
  };

  config.bodyParser = {
    enable: true,
    encoding: 'utf8',
    jsonLimit: '64kb',
    formLimit: '16kb',
    textLimit: '64kb',
    strict: true,
    // WeChat's pushes are read by their controller only once their URL signature has passed, and
    // parsed by app/lib (XML without entity expansion, JSON without 64-bit precision loss).
    ignore: /^\/(?:message\/check|oa\/message)$/,
    enableTypes: [ 'json', 'form', 'text' ],
    extendTypes: {
      text: [ 'text/xml', 'application/xml' ],
    },
  };

  // Images for replies (POST /admin/media) arrive as multipart/form-data, read as a stream by
  // app/controller/media.ts with WeChat's 2 MB limit; the body parser above leaves multipart
  // alone, so its limits for every other route are unchanged.
  config.multipart = {
    mode: 'stream',
    fileSize: '2mb',
    files: 1,
  };

  config.mongoose = {
    client: {
      url: env.mongodbUri,
      options: {
        // Fail a request (and start-up) within seconds when MongoDB is unreachable,
        // instead of the driver's 30 s default.
        serverSelectionTimeoutMS: 5000,
        maxPoolSize: 20,
        ...writeConcernDefaults(env.mongodbUri),
        // Start-up builds or verifies every index and waits for the result (app.ts); mongoose's
        // background build would report nothing.
        autoIndex: false,
      },
    },
  };

  // egg's next HttpClient (urllib 4 on undici) for ctx.curl: a keep-alive pool that costs about
  // half the CPU per call of the default urllib 2, on both ends (`npm run bench`, docs/performance.md).
  // Connecting gets its own bound; app/service/wechatClient.ts puts a deadline of
  // `backend.wechat.httpTimeoutMs` on each whole call.
  config.httpclient = {
    useHttpClientNext: true,
    connect: { timeout: 3000 },
  };

  // At every start egg writes the whole config to run/application_config.json and
  // run/agent_config.json. It masks keys named like a password, `keys` and /secret/i (EGG_KEYS,
  // the WeChat secrets); these paths hold the other secrets. MONGODB_URI is masked whole, since
  // it may carry a password. (egg's d.ts knows only `dump.ignore`; its dumper reads ignoreKeyPaths too.)
  config.dump = {
    ignoreKeyPaths: {
      'config.backend.wechat.msgToken': true,
      'config.backend.wechat.msgAesKey': true,
      'config.backend.officialAccount.msgToken': true,
      'config.backend.officialAccount.msgAesKey': true,
      'config.backend.admin.token': true,
      'config.mongoose.client.url': true,
    },
  } as PowerPartial<EggAppConfig['dump']>;

  config.onerror = {
    // The error middleware answers every API failure; this only covers what escapes it.
    accepts: () => 'json',
  };

  const bizConfig: BizConfig = {
    wechat: {
      ...env.wechat,
      httpTimeoutMs: 5000,
    },
    officialAccount: env.officialAccount,
    admin: { token: env.adminToken },
    session: { ttlSeconds: env.sessionTtlSeconds },
    accessToken: {
      refreshAheadSeconds: 300,
      // Longer than one stable_token call with its retry (2 x httpTimeoutMs + backoff).
      leaseMs: 15000,
      waitMs: 20000,
      pollMs: 100,
    },
    rateLimit: env.rateLimit,
    contentSecurity: { ...env.contentSecurity, retentionDays: 30 },
    media: {
      refreshAheadSeconds: 12 * 3600,
      leaseMs: 15000,
      waitMs: 20000,
      pollMs: 100,
    },
    inbox: {
      ttlSeconds: env.inbox.ttlSeconds,
      leaseSeconds: 60,
      maxAttempts: 8,
      backoffBaseSeconds: 10,
      backoffMaxSeconds: 1800,
      sweepBatch: 50,
      concurrency: 64,
      queueLimit: 5000,
      recordWaitMs: 3000,
    },
    autoReply: { ...env.autoReply, rulesCacheMs: 2000, matchBudgetMs: 50 },
    databaseIndexes: { failStartup: false },
    subscribeMessage: {
      templateCacheSeconds: 600,
      unknownTemplateRefreshSeconds: 60,
      leaseSeconds: 60,
      reserveSeconds: 60,
      maxAttempts: 5,
      backoffBaseSeconds: 10,
      backoffMaxSeconds: 600,
      sweepBatch: 50,
    },
    wxacode: {
      ...env.wxacode,
      sessionPerUserPerMinute: 30,
      // Three attempts of httpTimeoutMs with their backoff.
      leaseMs: 20000,
      waitMs: 25000,
      pollMs: 100,
    },
    apiDocs: { enabled: env.apiDocs ?? appInfo.env !== 'prod' },
    followerSync: {
      everyHours: 24,
      leaseSeconds: 60,
      batchConcurrency: 4,
    },
  };

  return {
    ...(config as {}),
    backend: bizConfig,
  };
};
