import assert from 'node:assert';
import { mock } from 'egg-mock/bootstrap';
import configDefault from '../../config/config.default';
import { devListenSettings, localUrl } from '../../scripts/stack';

/** `npm run dev`'s choice of interface and admin token (scripts/stack.ts), and how egg gets the interface. */
describe('test/scripts/stack.test.ts', () => {
  it('listens on loopback only and makes a random admin token per run when the environment says nothing', () => {
    const first = devListenSettings({});
    const second = devListenSettings({ HOST: ' ', ADMIN_TOKEN: '' });
    assert.strictEqual(first.host, '127.0.0.1');
    assert.strictEqual(second.host, '127.0.0.1');
    assert.match(first.adminToken, /^dev-[0-9a-f]{32}$/);
    assert.notStrictEqual(first.adminToken, second.adminToken);
    assert.notStrictEqual(first.adminToken, 'dev-admin-token');
  });

  it('keeps what HOST and ADMIN_TOKEN say', () => {
    assert.deepStrictEqual(devListenSettings({ HOST: '0.0.0.0', ADMIN_TOKEN: 'chosen-token' }), { host: '0.0.0.0', adminToken: 'chosen-token' });
  });

  it('reaches a wildcard listener through loopback', () => {
    assert.strictEqual(localUrl('127.0.0.1', 7001), 'http://127.0.0.1:7001');
    assert.strictEqual(localUrl('0.0.0.0', 7001), 'http://127.0.0.1:7001');
    assert.strictEqual(localUrl('::1', 7001), 'http://[::1]:7001');
    assert.strictEqual(localUrl('10.1.2.3', 80), 'http://10.1.2.3:80');
  });

  it('hands HOST to egg-cluster as config.cluster.listen.hostname', () => {
    const appInfo = { name: 'wechat-miniprogram-backend', baseDir: process.cwd(), env: 'local' } as any;
    mock(process.env, 'HOST', '127.0.0.1');
    assert.deepStrictEqual((configDefault(appInfo) as any).cluster.listen, { port: Number(process.env.PORT || 7001), hostname: '127.0.0.1' });
    mock(process.env, 'HOST', '');
    assert.deepStrictEqual((configDefault(appInfo) as any).cluster.listen, { port: Number(process.env.PORT || 7001) });
  });
});
