import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';
import { contractRequest } from '../../fixtures/contract';
import { Context } from 'egg';
import { AppError } from '../../../app/lib/errors';

function assertFailure(body: any, reason: string) {
  assert.strictEqual(body.code, 0);
  assert.strictEqual(body.data.error, reason);
  assert.strictEqual(typeof body.message, 'string');
}

describe('test/app/middleware/errorHandler.test.ts', () => {
  // Routes that exist only in this test, to drive each error mapping through real HTTP.
  before(() => {
    app.router.post('/__test/validate', async (ctx: Context) => {
      ctx.validate({ name: { type: 'string', max: 10 }, age: { type: 'int', min: 0 } }, ctx.request.body);
      ctx.ok({ accepted: true });
    });
    app.router.get('/__test/boom', async () => {
      throw new Error('database password is hunter2');
    });
    app.router.get('/__test/app-error', async () => {
      throw new AppError('RATE_LIMITED', 'slow down', { retryAfterSeconds: 3 });
    });
    app.router.post('/__test/echo', async (ctx: Context) => {
      ctx.ok({ type: ctx.request.type, body: ctx.request.body });
    });
  });

  // The app is shared by every test file: take these routes out again (the fuzz test walks all routes).
  after(() => {
    const router = app.router as any;
    router.stack = router.stack.filter((layer: any) => !String(layer.path).startsWith('/__test/'));
  });

  it('answers unknown routes, /api ones included, with NOT_FOUND in the standard shape', async () => {
    for (const path of [ '/api/does-not-exist', '/nope' ]) {
      const res = await contractRequest().get(path).expect(200);
      assert.match(res.headers['content-type'], /json/);
      assertFailure(res.body, 'NOT_FOUND');
    }
    const res = await contractRequest().post('/api/does-not-exist').send({ a: 1 })
      .expect(200);
    assertFailure(res.body, 'NOT_FOUND');
  });

  it('answers TRACE with METHOD_NOT_ALLOWED and other unrouted methods with NOT_FOUND, without a stack in the log', async () => {
    for (const logger of [ 'logger', 'errorLogger' ]) app.mockLog(logger);
    for (const path of [ '/message/check', '/oa/message', '/api/login', '/admin/reply-rules/x', '/health', '/nope' ]) {
      for (const [ method, reason ] of [[ 'trace', 'METHOD_NOT_ALLOWED' ], [ 'options', 'NOT_FOUND' ], [ 'patch', 'NOT_FOUND' ], [ 'propfind', 'NOT_FOUND' ], [ 'purge', 'NOT_FOUND' ]]) {
        const res = await (contractRequest() as any)[method](path).expect(200);
        assertFailure(res.body, reason);
      }
    }
    app.notExpectLog('INTERNAL_ERROR');
    app.notExpectLog('nodejs.', 'errorLogger');
    app.notExpectLog('    at ');
    app.expectLog(/TRACE \/health -> METHOD_NOT_ALLOWED/);
  });

  it('maps validation failures to INVALID_PARAM with the offending fields', async () => {
    const res = await contractRequest().post('/__test/validate').send({ name: 'x'.repeat(11), age: 'old' })
      .expect(200);
    assertFailure(res.body, 'INVALID_PARAM');
    const fields = res.body.data.fields.map((f: any) => f.field).sort();
    assert.deepStrictEqual(fields, [ 'age', 'name' ]);
  });

  // Successes of this file's own routes are no replies of the API: only failures are checked against the contract.
  it('passes valid input through to the controller', async () => {
    const res = await app.httpRequest().post('/__test/validate').send({ name: 'ann', age: 3 })
      .expect(200);
    assert.deepStrictEqual(res.body, { code: 1, data: { accepted: true }, message: 'ok' });
  });

  it('hides internal errors behind INTERNAL_ERROR and a request id, and logs them', async () => {
    let logged: any;
    mock(app, 'emit', (name: string, err: any) => { if (name === 'error') logged = err; return true; });
    const res = await contractRequest().get('/__test/boom').expect(200);
    assertFailure(res.body, 'INTERNAL_ERROR');
    assert.strictEqual(res.body.message, 'internal error');
    assert.match(res.body.data.requestId, /^[0-9a-f-]{36}$/);
    assert.doesNotMatch(JSON.stringify(res.body), /hunter2|Error:|at /);
    assert(logged, 'the error reached the logger');
    assert.match(logged.message, new RegExp(res.body.data.requestId));
  });

  it('keeps the details of application errors', async () => {
    const res = await contractRequest().get('/__test/app-error').expect(200);
    assert.deepStrictEqual(res.body, { code: 0, data: { error: 'RATE_LIMITED', retryAfterSeconds: 3 }, message: 'slow down' });
  });

  it('rejects an oversized body with PAYLOAD_TOO_LARGE', async () => {
    const res = await contractRequest().post('/__test/echo').send({ big: 'x'.repeat(100 * 1024) })
      .expect(200);
    assertFailure(res.body, 'PAYLOAD_TOO_LARGE');
    const xml = await contractRequest().post('/__test/echo').set('content-type', 'text/xml')
      .send(`<xml><a>${'x'.repeat(100 * 1024)}</a></xml>`)
      .expect(200);
    assertFailure(xml.body, 'PAYLOAD_TOO_LARGE');
  });

  it('rejects malformed JSON with INVALID_PARAM', async () => {
    const res = await contractRequest().post('/__test/echo').set('content-type', 'application/json')
      .send('{"a":')
      .expect(200);
    assertFailure(res.body, 'INVALID_PARAM');
  });

  // Successes of this file's own /__test/echo route are no API replies either: plain app.httpRequest().
  it('accepts XML bodies as text for the push endpoints, and JSON without a CSRF token', async () => {
    for (const type of [ 'text/xml', 'application/xml' ]) {
      const res = await app.httpRequest().post('/__test/echo').set('content-type', type)
        .send('<xml><a>1</a></xml>')
        .expect(200);
      assert.strictEqual(res.body.code, 1);
      assert.strictEqual(res.body.data.body, '<xml><a>1</a></xml>');
    }
    const res = await app.httpRequest().post('/__test/echo').send({ a: 1 })
      .expect(200);
    assert.deepStrictEqual(res.body.data.body, { a: 1 });
  });
});
