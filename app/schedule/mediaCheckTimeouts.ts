import { Application, Context } from 'egg';

/**
 * Marks media checks that got no wxa_media_check verdict within MEDIA_CHECK_TIMEOUT_SECONDS as
 * timed_out (reading a check does the same for that one at once). One updateMany per tick on the
 * { status, deadlineAt } index; safe on several servers at once, so 'worker' is enough.
 * Off in unit tests, which run it explicitly with `app.runSchedule('mediaCheckTimeouts')`.
 */
export default (app: Application) => ({
  schedule: {
    interval: '1m',
    type: 'worker',
    disable: app.config.env === 'unittest',
  },
  async task(ctx: Context) {
    await ctx.service.contentSecurity.expireOverdue();
  },
});
