import assert from 'node:assert';
import { app } from 'egg-mock/bootstrap';
import { SubscribeTemplateCacheRepository } from '../../../app/repository/SubscribeTemplateCacheRepository';
import type { SubscribeTemplate } from '../../../app/service/wechatClient';

const template = (id: string): SubscribeTemplate => ({ priTmplId: id, title: 't', content: '{{thing1.DATA}}', example: '', type: 2, keywordEnumValueList: [] });

describe('test/app/repository/SubscribeTemplateCacheRepository.test.ts', () => {
  const store = () => new SubscribeTemplateCacheRepository(app.model.SubscribeTemplateCache);

  it('keeps one list per appid, replaced by the next', async () => {
    assert.strictEqual(await store().get('wxRepo'), null);
    await store().put('wxRepo', [ template('a') ], new Date('2026-12-01T08:00:00Z'));
    await store().put('wxRepo', [ template('b') ], new Date('2026-12-01T09:00:00Z'));
    await store().put('wxOther', [], new Date('2026-12-01T09:00:00Z'));
    const stored = await store().get('wxRepo');
    assert.deepStrictEqual([ stored?.templates, stored?.fetchedAt ], [[ template('b') ], new Date('2026-12-01T09:00:00Z') ]);
    assert.strictEqual(await app.model.SubscribeTemplateCache.countDocuments({}), 2);
  });
});
