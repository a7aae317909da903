/**
 * typings/index.d.ts makes `app.model` / `ctx.model` the ets-generated IModel (typed models)
 * instead of egg-mongoose's `{ [name]: Model<any> }`, app.mongooseDB the one Connection instead of
 * `Connection | MongooseSingleton`, and types ctx.user / ctx.session.
 * The type aliases below fail type-checking (npm run typecheck, egg-bin test) if that regresses.
 */
import assert from 'node:assert';
import { Context } from 'egg';
import { app } from 'egg-mock/bootstrap';
import { Connection, Model } from 'mongoose';
import { UserDoc } from '../../app/model/User';

type IsAny<T> = 0 extends 1 & T ? true : false;
type DocOf<M> = M extends Model<infer D> ? D : never;
type Typed<M> = IsAny<DocOf<M>> extends true ? never : true;

const appModels: [Typed<typeof app.model.User>, Typed<typeof app.model.InboxMessage>, Typed<typeof app.model.AccessToken>, Typed<typeof app.model.RateLimit>] = [ true, true, true, true ];
const ctxModels: Typed<Context['model']['User']> = true;
const ctxUser: IsAny<NonNullable<Context['user']>> extends true ? never : true = true;
const connection: typeof app.mongooseDB extends Connection ? true : never = true;
const ctxSession: IsAny<NonNullable<Context['session']>> extends true ? never : true = true;

describe('test/typings/index.test.ts', () => {
  it('app.model and ctx.model are the typed models, app.mongooseDB a Connection, ctx.user and ctx.session typed', () => {
    assert.deepStrictEqual([ ...appModels, ctxModels, connection, ctxUser, ctxSession ], [ true, true, true, true, true, true, true, true ]);
    assert.strictEqual(app.mongooseDB.model('User'), app.model.User);
    const model: Model<UserDoc> = app.mockContext().model.User;
    assert.strictEqual(model, app.model.User);
  });
});
