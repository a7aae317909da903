import { Application, Context } from 'egg';

/**
 * Daily full sync of the official account's followers (app/service/followerSync.ts).
 *
 * Ticks hourly; a tick resumes an interrupted run (failed, or its holder crashed and its lease
 * expired) and otherwise starts a run only when none started within `followerSync.everyHours`
 * (24). type 'worker': one worker per server runs a tick; the run's lease in MongoDB makes sure
 * only one process in the whole deployment syncs at a time. Without OA_APPID it does nothing.
 * Off in unit tests, which run it explicitly with `app.runSchedule('followerSync')`.
 */
export default (app: Application) => ({
  schedule: {
    cron: '0 30 * * * *',
    type: 'worker',
    immediate: false,
    disable: app.config.env === 'unittest',
  },
  async task(ctx: Context) {
    await ctx.service.followerSync.runScheduled();
  },
});
