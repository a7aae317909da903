/**
 * Every query the app runs against a collection that grows, next to the index meant to serve it.
 * An index serves a query when it reads only what the query asks for, in the order it asks for
 * (MongoDB manual, "The ESR (Equality, Sort, Range) Guideline"): the equality fields first (any
 * order), then the sort keys in order (or all reversed), then the range fields. An equality match
 * on every key of a unique index reads at most one document, whatever else the filter says.
 * `residual` names filter fields checked on the documents the index found, with why that is cheap.
 * A new query, or a changed filter or sort, belongs in this table; the test fails when no declared
 * index serves a shape.
 */
import assert from 'node:assert';
import { isDeepStrictEqual } from 'node:util';
import { app } from 'egg-mock/bootstrap';

type Direction = 1 | -1;

interface QueryShape {
  /** Where the query runs */
  query: string;
  model: string;
  equality: string[];
  sort?: Record<string, Direction>;
  range?: string[];
  /** The partial index filter the query's own equality conditions satisfy */
  partial?: Record<string, unknown>;
  residual?: { fields: string[]; why: string };
}

const SHAPES: QueryShape[] = [
  // inbox_messages: one document per push, kept INBOX_TTL_SECONDS
  { query: 'inbox.record: insert under the dedupe key', model: 'InboxMessage', equality: [ 'dedupeKey' ] },
  { query: 'inbox.claim / dueIds / sweep: due pending items, oldest first', model: 'InboxMessage', equality: [ 'status' ], range: [ 'nextAttemptAt' ], sort: { nextAttemptAt: 1, _id: 1 } },
  {
    query: 'inbox.claim / sweep: processing items whose lease expired, oldest first', model: 'InboxMessage', equality: [ 'status' ], sort: { nextAttemptAt: 1, _id: 1 },
    residual: { fields: [ 'lockedUntil' ], why: 'processing items are at most inbox.concurrency per worker' },
  },
  { query: 'inbox: claim one item, write an item under its lease', model: 'InboxMessage', equality: [ '_id' ], residual: { fields: [ 'status', 'lockToken', 'reply.state' ], why: 'one document by _id' } },
  { query: 'GET /admin/messages', model: 'InboxMessage', equality: [], sort: { createdAt: -1, _id: -1 } },
  { query: 'GET /admin/messages?status=', model: 'InboxMessage', equality: [ 'status' ], sort: { createdAt: -1, _id: -1 } },
  { query: 'TTL monitor: expired items', model: 'InboxMessage', equality: [], range: [ 'expireAt' ] },
  // users: one per mini-program user
  { query: 'user.login: upsert by openId', model: 'User', equality: [ 'openId' ] },
  { query: 'session.authenticate: the user holding a token', model: 'User', equality: [ 'sessions.tokenHash' ] },
  { query: 'user: profile, unionId and phone writes by _id', model: 'User', equality: [ '_id' ] },
  // oa_followers: one per follower of the official account
  { query: 'follower.lookup: follow state of a unionId', model: 'Follower', equality: [ 'appid', 'unionId' ], sort: { subscribed: -1, updatedAt: -1 } },
  { query: 'follower events and sync batches: upsert by openid', model: 'Follower', equality: [ 'openid' ], residual: { fields: [ 'eventAt' ], why: 'openid is unique' } },
  {
    query: 'follower.markUnlisted: followers the sync did not list', model: 'Follower', equality: [ 'appid', 'subscribed' ], range: [ 'lastSyncRunId' ],
    residual: { fields: [ 'eventAt' ], why: 'every match is written anyway' },
  },
  // oa_follower_sync_runs: one per sync (daily)
  { query: 'followerSync.latest / start: the latest run', model: 'FollowerSyncRun', equality: [ 'appid' ], sort: { startedAt: -1, _id: -1 } },
  { query: 'follower.lookup: the latest completed run', model: 'FollowerSyncRun', equality: [ 'appid', 'status' ], sort: { finishedAt: -1 } },
  {
    query: 'followerSync.start: the unfinished run (the lock)', model: 'FollowerSyncRun', equality: [ 'appid', 'active' ], partial: { active: true },
    residual: { fields: [ 'leaseUntil' ], why: 'at most one unfinished run per account' },
  },
  { query: 'followerSync: run writes under the lease', model: 'FollowerSyncRun', equality: [ '_id' ], residual: { fields: [ 'leaseOwner' ], why: 'one document by _id' } },
  // rate_limits: one per bucket, subject and minute
  { query: 'rateLimit.consume: the window counter', model: 'RateLimit', equality: [ 'key' ] },
  { query: 'TTL monitor: past windows', model: 'RateLimit', equality: [], range: [ 'expiresAt' ] },
  // subscription_grants: one per user and subscribe-message template
  { query: 'subscribeMessage.applyEntry / takeGrant / releaseGrant: the grant of a user and template', model: 'SubscriptionGrant', equality: [ 'openid', 'templateId' ], residual: { fields: [ 'appliedEvents', 'oneTimeAvailable', 'status', 'consumedBy' ], why: '(openid, templateId) is unique' } },
  { query: 'GET /api/subscriptions/messages: a user\'s grants in template order', model: 'SubscriptionGrant', equality: [ 'openid' ], sort: { templateId: 1 } },
  // subscribe_message_sends: one per send
  { query: 'subscribeMessage.send: the send of an idempotency key', model: 'SubscribeMessageSend', equality: [ 'idempotencyKey' ] },
  { query: 'subscribeMessage.sweep: due sends by status, oldest first', model: 'SubscribeMessageSend', equality: [ 'status' ], range: [ 'nextAttemptAt' ], sort: { nextAttemptAt: 1, _id: 1 } },
  { query: 'subscribeMessage: a send by _id (claims and writes under its lease)', model: 'SubscribeMessageSend', equality: [ '_id' ], residual: { fields: [ 'status', 'lockToken', 'nextAttemptAt' ], why: 'one document by _id' } },
  { query: 'subscribeMessage.templates: the cached template list', model: 'SubscribeTemplateCache', equality: [ 'appid' ] },
  { query: 'subscribeMessage.send: the user of a unionId', model: 'User', equality: [ 'unionId' ] },
  // media_checks: one per media check (content security), kept contentSecurity.retentionDays
  {
    query: 'contentSecurity: a check by trace_id (submit, view, verdict)', model: 'MediaCheck', equality: [ 'traceId' ],
    residual: { fields: [ 'status', 'openid', 'unrequested' ], why: 'traceId is unique' },
  },
  { query: 'contentSecurity.view: a check re-read or timed out by _id', model: 'MediaCheck', equality: [ '_id' ], residual: { fields: [ 'status' ], why: 'one document by _id' } },
  { query: 'contentSecurity.expireOverdue: pending checks past their deadline', model: 'MediaCheck', equality: [ 'status' ], range: [ 'deadlineAt' ] },
  { query: 'TTL monitor: old checks', model: 'MediaCheck', equality: [], range: [ 'expireAt' ] },
  // wxa_codes: one per set of code parameters, kept for good
  { query: 'wxacode.code: the stored code, the lease, the image write, the delete after a refusal', model: 'WxaCode', equality: [ 'key' ], residual: { fields: [ 'data', 'leaseOwner', 'leaseUntil' ], why: 'key is unique' } },
  // access_tokens: one per appid (does not grow; listed because every WeChat call reads it)
  { query: 'accessToken: the token and its lease', model: 'AccessToken', equality: [ 'appid' ], residual: { fields: [ 'leaseOwner', 'leaseUntil' ], why: 'appid is unique' } },
];

type IndexSpec = [ Record<string, Direction>, Record<string, any> ];

/** Why `index` cannot serve `shape`, or null when it does. */
function whyNotServed(shape: QueryShape, [ fields, options ]: IndexSpec): string | null {
  if (options.partialFilterExpression && !isDeepStrictEqual(options.partialFilterExpression, shape.partial)) return 'partial index the query does not match';
  const keys = Object.keys(fields);
  if (options.unique && keys.every(k => shape.equality.includes(k))) return null;
  const equality = shape.equality.filter(f => !(shape.partial && f in shape.partial));
  if (!isDeepStrictEqual(keys.slice(0, equality.length).sort(), [ ...equality ].sort())) return 'equality fields are not its prefix';
  let at = equality.length;
  const sort = Object.entries(shape.sort ?? {});
  if (sort.length > 0) {
    const flip = fields[sort[0][0]] === -sort[0][1] ? -1 : 1;
    for (const [ key, dir ] of sort) {
      if (keys[at] !== key || fields[key] !== dir * flip) return `sort key ${key} is not next in the same direction`;
      at++;
    }
  }
  const range = (shape.range ?? []).filter(f => !(f in (shape.sort ?? {})));
  if (!isDeepStrictEqual(keys.slice(at, at + range.length).sort(), [ ...range ].sort())) return 'range fields do not follow';
  return null;
}

/** Declared indexes of a model, and the _id index every collection has. */
function declaredIndexes(model: any): IndexSpec[] {
  return [[{ _id: 1 }, { unique: true }], ...model.schema.indexes() ];
}

describe('test/app/model/queryIndexes.test.ts', () => {
  for (const shape of SHAPES) {
    it(`${shape.query} (${shape.model}) has an index`, () => {
      const model = (app.model as any)[shape.model];
      assert(model, `model ${shape.model}`);
      const reasons = declaredIndexes(model).map(index => `${JSON.stringify(index[0])}: ${whyNotServed(shape, index) ?? 'serves'}`);
      assert(reasons.some(r => r.endsWith(': serves')), `no index serves ${JSON.stringify(shape)}:\n${reasons.join('\n')}`);
    });
  }

  it('the checker refuses what an index cannot serve', () => {
    const listing: QueryShape = { query: 'q', model: 'InboxMessage', equality: [], sort: { createdAt: -1, _id: -1 } };
    assert.match(String(whyNotServed(listing, [{ createdAt: -1 }, {}])), /sort key _id/);
    assert.strictEqual(whyNotServed(listing, [{ createdAt: 1, _id: 1 }, {}]), null, 'read backwards');
    assert.match(String(whyNotServed(listing, [{ createdAt: -1, _id: 1 }, {}])), /sort key _id/);
    const due: QueryShape = { query: 'q', model: 'InboxMessage', equality: [ 'status' ], range: [ 'lockedUntil' ], sort: { nextAttemptAt: 1 } };
    assert.match(String(whyNotServed(due, [{ status: 1, lockedUntil: 1 }, {}])), /sort key nextAttemptAt/);
    assert.match(String(whyNotServed(due, [{ nextAttemptAt: 1 }, {}])), /equality/);
    assert.match(String(whyNotServed({ query: 'q', model: 'X', equality: [ 'appid' ] }, [{ appid: 1 }, { unique: true, partialFilterExpression: { active: true } }])), /partial/);
  });
});
