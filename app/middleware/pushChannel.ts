import { Context } from 'egg';
import { PushChannelName } from '../lib/pushEnvelope';

export interface PushChannelOptions {
  channel: PushChannelName;
}

/**
 * Route-level: tells the shared message controller which push channel a route serves, e.g.
 * `router.post('/message/check', app.middleware.pushChannel({ channel: 'miniprogram' }), controller.message.receive)`.
 */
export default (options: PushChannelOptions) => {
  const { channel } = options;
  if (channel !== 'miniprogram' && channel !== 'officialAccount') throw new Error(`unknown push channel ${channel}`);
  return async function pushChannel(ctx: Context, next: () => Promise<any>) {
    ctx.state.pushChannel = channel;
    await next();
  };
};
