import { Controller } from 'egg';

export default class HealthController extends Controller {
  async show() {
    this.ctx.ok(await this.ctx.service.health.check());
  }
}
