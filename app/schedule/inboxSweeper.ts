import { Application, Context } from 'egg';

/**
 * Retries and crash recovery for the push inbox: picks up pending items that are due (first
 * attempts whose background run did not happen, transient failures after their backoff) and
 * items whose lease expired (a worker crashed or restarted mid-processing).
 *
 * type 'worker': one worker per server runs each tick. Claims are atomic (one
 * findOneAndUpdate per item), so running on several servers at once is safe as well; 'all'
 * would only multiply the polling queries per server without adding safety.
 * Off in unit tests, which run it explicitly with `app.runSchedule('inboxSweeper')`.
 */
export default (app: Application) => ({
  schedule: {
    interval: '15s',
    type: 'worker',
    immediate: true,
    disable: app.config.env === 'unittest',
  },
  async task(ctx: Context) {
    await ctx.service.inbox.sweep();
  },
});
