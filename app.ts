import { Application, IBoot } from 'egg';
import { loadApiDocs } from './app/service/apiDocs';
import { describeIndexProblems } from './app/service/databaseIndexes';

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

  /** The contract and the reference page are read once, before the app serves (app/service/apiDocs.ts). */
  async didLoad() {
    if (this.app.config.backend.apiDocs.enabled) this.app.apiDocs = loadApiDocs(this.app);
  }

  /**
   * Every index the models declare is built or verified before the app serves (mongoose's own
   * background build is off, see config.default.ts). Production refuses to start when one cannot
   * be built; elsewhere the failure is logged and /health reports it.
   */
  async willReady() {
    const problems = await this.app.createAnonymousContext().service.databaseIndexes.ensureDeclared();
    if (problems.length > 0 && this.app.config.backend.databaseIndexes.failStartup) throw new Error(describeIndexProblems(problems));
  }

  async beforeClose() {
    // egg-mongoose never closes its connection; without this, workers linger on shutdown.
    await this.app.mongooseDB?.close();
  }
}
