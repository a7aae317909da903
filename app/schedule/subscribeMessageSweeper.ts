import { Application, Context } from 'egg';

/**
 * Durable subscribe-message sends (app/service/subscribeMessage.ts): retries WeChat asked for,
 * sends whose worker died mid-send (recorded unknown, never resent), reservations never settled.
 * type 'worker' like the inbox sweeper: claims are atomic, so several servers are safe too.
 * Off in unit tests, which run it with `app.runSchedule('subscribeMessageSweeper')`.
 */
export default (app: Application) => ({
  schedule: {
    interval: '15s',
    type: 'worker',
    immediate: true,
    disable: app.config.env === 'unittest',
  },
  async task(ctx: Context) {
    await ctx.service.subscribeMessage.sweep();
  },
});
