import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';
import { hashToken, MAX_SESSIONS_PER_USER, pushSession } from '../../../app/service/session';

describe('test/app/service/session.test.ts', () => {
  let user: any;

  beforeEach(async () => {
    const now = new Date();
    user = (await app.model.User.create({ openId: 'o-session', createdAt: now, lastLoginAt: now })).toObject();
  });

  /** What the login's upsert does with a new session: push it onto the user. */
  async function issue(): Promise<string> {
    const { token, entry } = app.mockContext().service.session.create();
    await app.model.User.collection.updateOne({ _id: user._id }, pushSession(entry));
    return token;
  }

  async function storedSessions(): Promise<any[]> {
    return (await app.model.User.findById(user._id).select('+sessions').lean())!.sessions!;
  }

  it('creates random 32-byte base64url tokens; only their sha256 is stored', async () => {
    const a = await issue();
    const b = await issue();
    assert.notStrictEqual(a, b);
    assert.strictEqual(Buffer.from(a, 'base64url').length, 32);
    const stored = await storedSessions();
    assert.deepStrictEqual(stored.map(s => s.tokenHash), [ hashToken(a), hashToken(b) ]);
    assert(!JSON.stringify(stored).includes(a));
  });

  it('stamps and checks sessions by the same clock (Date.now), so moving it expires them', async () => {
    const realNow = Date.now;
    // Further ahead than a session lives: a session stamped by another clock would be dead at once.
    let offsetMs = app.config.backend.session.ttlSeconds * 1000 + 24 * 3600_000;
    mock(Date, 'now', () => realNow() + offsetMs);
    const ctx = app.mockContext();
    const token = await issue();
    assert(await ctx.service.session.authenticate(token), 'a session issued on the moved clock is live on it');
    offsetMs += app.config.backend.session.ttlSeconds * 1000 + 1000;
    assert.strictEqual(await ctx.service.session.authenticate(token), null);
  });

  it('authenticates a live token, not an unknown, malformed or expired one', async () => {
    const ctx = app.mockContext();
    const token = await issue();
    const found = await ctx.service.session.authenticate(token);
    assert.strictEqual(found!.user.openId, 'o-session');
    assert.strictEqual(String(found!.session.userId), String(user._id));
    assert.strictEqual(found!.session.openId, 'o-session');
    assert.strictEqual(found!.session.tokenHash, hashToken(token));
    // the user comes without its sessions and session_key
    assert.strictEqual((found!.user as any).sessions, undefined);
    assert.strictEqual((found!.user as any).sessionKey, undefined);
    assert.strictEqual(await ctx.service.session.authenticate(`${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`), null);
    assert.strictEqual(await ctx.service.session.authenticate(hashToken(token)), null);
    assert.strictEqual(await ctx.service.session.authenticate({ $ne: null } as any), null);
    // expired (another live session of the same user does not make it valid)
    const other = await issue();
    const expired = (await storedSessions()).map(s => (s.tokenHash === hashToken(token) ? { ...s, expiresAt: new Date(Date.now() - 1) } : s));
    await app.model.User.updateOne({ _id: user._id }, { $set: { sessions: expired } });
    assert.strictEqual(await ctx.service.session.authenticate(token), null);
    assert.strictEqual((await ctx.service.session.authenticate(other))!.user.openId, 'o-session');
  });

  it(`keeps a user's latest ${MAX_SESSIONS_PER_USER} sessions: the oldest token stops working`, async () => {
    const ctx = app.mockContext();
    const tokens: string[] = [];
    for (let i = 0; i <= MAX_SESSIONS_PER_USER; i++) tokens.push(await issue());
    const stored = await storedSessions();
    assert.deepStrictEqual(stored.map(s => s.tokenHash), tokens.slice(1).map(hashToken));
    assert.strictEqual(await ctx.service.session.authenticate(tokens[0]), null);
    assert((await ctx.service.session.authenticate(tokens[1]))!.user);
    assert((await ctx.service.session.authenticate(tokens[MAX_SESSIONS_PER_USER]))!.user);
  });

  it('declares the index that finds a user by token hash, and the unique openId', async () => {
    // Built before the app was ready (app.ts willReady), not in the background: no wait needed.
    const indexes = await app.model.User.collection.indexes();
    assert(indexes.some(i => i.key['sessions.tokenHash'] === 1 && Object.keys(i.key).length === 1), JSON.stringify(indexes));
    assert(indexes.some(i => i.key.openId === 1 && i.unique), JSON.stringify(indexes));
  });
});
