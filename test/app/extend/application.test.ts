import assert from 'node:assert';
import { app, mock } from 'egg-mock/bootstrap';

describe('test/app/extend/application.test.ts', () => {
  it('one state per app instance, the same through egg-mock\'s proxy, a request\'s context and an anonymous one', () => {
    const viaContext = app.createAnonymousContext().app;
    assert.strictEqual(app.accessTokenCache, viaContext.accessTokenCache);
    assert.strictEqual(app.mockContext().app.replyRulesCache, app.replyRulesCache);
    assert.strictEqual(viaContext.processingQueue, app.processingQueue);
    app.accessTokenCache.set('wx-probe', 'token', Date.now() + 60_000);
    assert.strictEqual(viaContext.accessTokenCache.fresh('wx-probe', Date.now()), 'token');
  });

  it('resetProcessState() drops copies, caches and flights, and builds the queue again from config.backend.inbox', async () => {
    app.accessTokenCache.set('wx-probe', 'token', Date.now() + 60_000);
    app.mediaIdCache.set('media-probe', { appid: 'wx-probe', mediaId: 'm' }, Date.now() + 60_000);
    let release!: () => void;
    const held = new Promise<void>(resolve => { release = resolve; });
    const codeFlight = app.wxaCodeFlights.run('code-probe', async () => {
      await held;
      return { data: Buffer.alloc(0), contentType: 'image/png', sha256: '' };
    });
    let reads = 0;
    const read = async () => { reads++; return []; };
    await app.replyRulesCache.get(0, 60_000, read);
    const queue = app.processingQueue;

    mock(app.config.backend.inbox, 'concurrency', 1);
    assert.strictEqual(app.processingQueue, queue, 'not rebuilt behind its users\' back when config.backend.inbox changes');
    await app.resetProcessState();
    assert.strictEqual(app.accessTokenCache.peek('wx-probe'), undefined);
    assert.strictEqual(app.mediaIdCache.peek('media-probe'), undefined);
    assert.strictEqual(app.wxaCodeFlights.size, 0);
    await app.replyRulesCache.get(1, 60_000, read);
    assert.strictEqual(reads, 2, 'the rules are read again');
    assert.notStrictEqual(app.processingQueue, queue, 'a new queue, from config.backend.inbox as it is now');
    release();
    await codeFlight;
  });

  it('keeps the start-up results (API docs, index report) across a reset', async () => {
    const { apiDocs, indexReport } = app;
    await app.resetProcessState();
    assert.strictEqual(app.apiDocs, apiDocs);
    assert.strictEqual(app.indexReport, indexReport);
    assert.strictEqual(app.indexReport.checked, true);
  });
});
