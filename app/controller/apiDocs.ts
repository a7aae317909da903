import { Controller } from 'egg';

/** The API contract (docs/openapi.yaml) and its reference page; see app/service/apiDocs.ts. */
export default class ApiDocsController extends Controller {
  /** GET /openapi.json */
  async contract() {
    const { ctx } = this;
    const json = ctx.service.apiDocs.contractJson();
    ctx.type = 'application/json';
    ctx.body = json;
  }

  /** GET /docs */
  async page() {
    const { ctx } = this;
    const html = ctx.service.apiDocs.page();
    ctx.type = 'text/html';
    ctx.body = html;
  }

  /** GET /docs/:file, the page's script and styles */
  async asset() {
    const { ctx } = this;
    const asset = ctx.service.apiDocs.asset(ctx.params.file);
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.type = asset.contentType;
    ctx.body = asset.body;
  }
}
