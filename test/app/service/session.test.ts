import assert from 'node:assert';
import { app } from 'egg-mock/bootstrap';
import { hashToken } from '../../../app/service/session';

describe('test/app/service/session.test.ts', () => {
  let user: any;

  beforeEach(async () => {
    await Promise.all([ app.model.Session.deleteMany({}), app.model.User.deleteMany({}) ]);
    const now = new Date();
    user = (await app.model.User.create({ openId: 'o-session', createdAt: now, lastLoginAt: now })).toObject();
  });

  it('issues random 32-byte base64url tokens and stores only their sha256', async () => {
    const ctx = app.mockContext();
    const a = await ctx.service.session.issue(user);
    const b = await ctx.service.session.issue(user);
    assert.notStrictEqual(a.token, b.token);
    assert.strictEqual(Buffer.from(a.token, 'base64url').length, 32);
    const stored = await app.model.Session.find({}).lean();
    assert.deepStrictEqual(stored.map(s => s.tokenHash).sort(), [ hashToken(a.token), hashToken(b.token) ].sort());
    assert(!JSON.stringify(stored).includes(a.token));
  });

  it('authenticates a live token, not an unknown, malformed or expired one', async () => {
    const ctx = app.mockContext();
    const { token } = await ctx.service.session.issue(user);
    const found = await ctx.service.session.authenticate(token);
    assert.strictEqual(found!.user.openId, 'o-session');
    assert.strictEqual(String(found!.session.userId), String(user._id));
    assert.strictEqual(await ctx.service.session.authenticate(`${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`), null);
    assert.strictEqual(await ctx.service.session.authenticate(hashToken(token)), null);
    assert.strictEqual(await ctx.service.session.authenticate({ $ne: null } as any), null);
    // expired, and not yet removed by the TTL monitor
    await app.model.Session.updateOne({ tokenHash: hashToken(token) }, { $set: { expiresAt: new Date(Date.now() - 1) } });
    assert.strictEqual(await ctx.service.session.authenticate(token), null);
  });

  it('declares a unique index on tokenHash and a TTL index on expiresAt', async () => {
    const indexes = await app.model.Session.collection.indexes();
    assert(indexes.some(i => i.key.tokenHash === 1 && i.unique), JSON.stringify(indexes));
    assert(indexes.some(i => i.key.expiresAt === 1 && i.expireAfterSeconds === 0), JSON.stringify(indexes));
    const userIndexes = await app.model.User.collection.indexes();
    assert(userIndexes.some(i => i.key.openId === 1 && i.unique), JSON.stringify(userIndexes));
  });
});
