import assert from 'node:assert';
import { app } from 'egg-mock/bootstrap';
import { collectionOf, definedFields, insertOnlyFields, insertTimestamps, schemaDefaults, updateTimestamp } from '../../../app/repository/fromModel';

describe('test/app/repository/fromModel.test.ts', () => {
  it('reads a schema\'s constant defaults, nested paths and single nested subdocuments included, function defaults left out', () => {
    assert.deepStrictEqual(schemaDefaults(app.model.InboxMessage.schema), { status: 'pending', attempts: 0, reply: { state: 'none' } });
    assert.deepStrictEqual(schemaDefaults(app.model.User.schema), {
      unionId: null, phoneNumber: null, purePhoneNumber: null, countryCode: null, phoneUpdatedAt: null,
    });
    const run = schemaDefaults(app.model.FollowerSyncRun.schema);
    assert.deepStrictEqual(run.calls, { userGet: 0, batchGet: 0 });
    assert.strictEqual(run.attempts, 1);
  });

  it('hands out a copy each time: a document built from the defaults shares nothing with the next', () => {
    const first = schemaDefaults(app.model.InboxMessage.schema);
    first.reply!.state = 'sent';
    assert.strictEqual(schemaDefaults(app.model.InboxMessage.schema).reply?.state, 'none');
  });

  it('writes the timestamps the schema\'s `timestamps` option names', () => {
    const now = new Date('2026-12-01T00:00:00Z');
    assert.deepStrictEqual(insertTimestamps(app.model.InboxMessage.schema, now), { createdAt: now, updatedAt: now });
    assert.deepStrictEqual(updateTimestamp(app.model.InboxMessage.schema, now), { updatedAt: now });
    // access_tokens: { createdAt: false, updatedAt: true }
    assert.deepStrictEqual(insertTimestamps(app.model.AccessToken.schema, now), { updatedAt: now });
    // users: no timestamps option (createdAt is the service's own field)
    assert.deepStrictEqual(insertTimestamps(app.model.User.schema, now), {});
    assert.deepStrictEqual(updateTimestamp(app.model.User.schema, now), {});
  });

  it('gives an upsert\'s insert-only fields: defaults and timestamps the update\'s operators do not write', () => {
    const now = new Date('2026-12-01T00:00:00Z');
    assert.deepStrictEqual(insertOnlyFields(app.model.SubscriptionGrant.schema, now, [{ status: 'accept', updatedAt: now }]),
      { oneTimeAvailable: 0, createdAt: now });
    assert.deepStrictEqual(insertOnlyFields(app.model.SubscriptionGrant.schema, now, [{ updatedAt: now }, { oneTimeAvailable: 1 }]), { createdAt: now });
    assert.deepStrictEqual(insertOnlyFields(app.model.InboxMessage.schema, now, [{ 'reply.state': 'sent' }, undefined ]),
      { status: 'pending', attempts: 0, createdAt: now, updatedAt: now });
  });

  it('leaves undefined fields out', () => {
    assert.deepStrictEqual(definedFields({ a: 1, b: undefined, c: null }), { a: 1, c: null });
  });

  it('gives the model\'s own collection object, typed', () => {
    assert.strictEqual(collectionOf(app.model.InboxMessage), app.model.InboxMessage.collection);
    assert.strictEqual(collectionOf(app.model.User).collectionName, 'users');
  });
});
