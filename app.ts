import { Application, IBoot } from 'egg';

export default class AppBoot implements IBoot {
  constructor(private readonly app: Application) {}

  configWillLoad() {
    // The error middleware must wrap egg's core middleware too (body parser limits and
    // parse errors, unknown routes), so it goes first in coreMiddleware, not in `middleware`.
    const core = this.app.config.coreMiddleware;
    if (!core.includes('errorHandler')) core.unshift('errorHandler');
  }

  configDidLoad() {
    // mongoose 7 lets unknown filter keys through by default; refuse them.
    this.app.mongoose.set('strictQuery', true);
  }

  async beforeClose() {
    // egg-mongoose never closes its connection; without this, workers linger on shutdown.
    await (this.app.mongooseDB as any)?.close?.();
  }
}
