import assert from 'node:assert';
import { app } from 'egg-mock/bootstrap';
import { SessionEntry } from '../../../app/model/User';
import { UserRepository } from '../../../app/repository/UserRepository';

function session(at: string, tokenHash = `hash-${at}`): SessionEntry {
  const createdAt = new Date(at);
  return { tokenHash, createdAt, expiresAt: new Date(createdAt.getTime() + 3600_000) };
}

describe('test/app/repository/UserRepository.test.ts', () => {
  const store = () => new UserRepository(app.model.User);

  it('inserts a first login as mongoose would (the schema\'s defaults, createdAt), with its session, and hides the secrets', async () => {
    const first = session('2026-12-01T08:00:00Z');
    const { user, isNewUser } = await store().upsertOnLogin({ openId: 'oRepo1', sessionKey: 'key-1' }, first);
    assert.strictEqual(isNewUser, true);
    assert.strictEqual(user.sessionKey, undefined);
    assert.strictEqual(user.sessions, undefined);

    const stored = await app.model.User.findById(user._id).select('+sessionKey +sessions').lean();
    // The same user created through mongoose: every field the store wrote by hand matches.
    const viaMongoose = (await app.model.User.create({ openId: 'oRepo2', sessionKey: 'key-1', createdAt: first.createdAt, lastLoginAt: first.createdAt }))
      .toObject();
    const { _id, openId, sessions, ...rest } = stored!;
    const { _id: otherId, openId: otherOpenId, ...expected } = viaMongoose;
    assert.deepStrictEqual(rest, expected);
    assert.strictEqual(openId, 'oRepo1');
    assert.deepStrictEqual(sessions, [ first ]);
    assert(_id && otherId && otherOpenId);
  });

  it('updates a known user: session_key replaced, unionId kept unless WeChat sends one, sessions appended, createdAt kept', async () => {
    const first = session('2026-12-01T08:00:00Z');
    await store().upsertOnLogin({ openId: 'oRepo3', sessionKey: 'key-1', unionId: 'uRepo3' }, first);
    const second = session('2026-12-01T09:00:00Z');
    const { user, isNewUser } = await store().upsertOnLogin({ openId: 'oRepo3', sessionKey: 'key-2' }, second);
    assert.strictEqual(isNewUser, false);
    assert.strictEqual(user.unionId, 'uRepo3');
    assert.deepStrictEqual([ user.createdAt, user.lastLoginAt ], [ first.createdAt, second.createdAt ]);
    const stored = await app.model.User.findById(user._id).select('+sessionKey +sessions').lean();
    assert.strictEqual(stored?.sessionKey, 'key-2');
    assert.deepStrictEqual(stored?.sessions, [ first, second ]);
  });

  it('settles concurrent first logins of one user on one document, one of them new', async () => {
    const results = await Promise.all([ 1, 2, 3 ].map(i =>
      store().upsertOnLogin({ openId: 'oRepoRace', sessionKey: `key-${i}` }, session(`2026-12-01T08:00:0${i}Z`))));
    assert.strictEqual(results.filter(r => r.isNewUser).length, 1);
    assert.strictEqual(await app.model.User.countDocuments({ openId: 'oRepoRace' }), 1);
    const stored = await app.model.User.findOne({ openId: 'oRepoRace' }).select('+sessions').lean();
    assert.strictEqual(stored?.sessions?.length, 3);
  });
});
