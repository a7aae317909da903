import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Application, Service } from 'egg';
import { parse } from 'yaml';
import { NotFoundError } from '../lib/errors';

/** The contract, and the reference page's files: Swagger UI from node_modules (no CDN) and its start script. */
export interface ApiDocs {
  contractJson: string;
  page: string;
  assets: Map<string, { contentType: string; body: Buffer | string }>;
}

// No inline script: the page loads Swagger UI, then this, which points it at /openapi.json. The
// validator badge would send the contract to validator.swagger.io: it is turned off.
const START_SCRIPT = 'window.ui = SwaggerUIBundle({ url: \'/openapi.json\', dom_id: \'#reference\', deepLinking: true, validatorUrl: null });\n';

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>API reference</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="reference"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/reference.js"></script>
</body>
</html>
`;

/**
 * Reads docs/openapi.yaml (converted to JSON) and the viewer's files once, at start-up (app.ts keeps
 * them in `app.apiDocs`), when config.backend.apiDocs.enabled; a broken contract then stops the start.
 */
export function loadApiDocs(app: Application): ApiDocs {
  const contract = parse(readFileSync(path.join(app.baseDir, 'docs/openapi.yaml'), 'utf8'));
  const viewerDir = path.dirname(require.resolve('swagger-ui-dist/package.json'));
  const viewerFile = (name: string) => readFileSync(path.join(viewerDir, name));
  return {
    contractJson: JSON.stringify(contract),
    page: PAGE,
    assets: new Map([
      [ 'swagger-ui.css', { contentType: 'text/css', body: viewerFile('swagger-ui.css') }],
      [ 'swagger-ui-bundle.js', { contentType: 'application/javascript', body: viewerFile('swagger-ui-bundle.js') }],
      [ 'reference.js', { contentType: 'application/javascript', body: START_SCRIPT }],
    ]),
  };
}

/** GET /openapi.json and /docs (docs/openapi.yaml): NOT_FOUND, like an unknown route, unless config.backend.apiDocs.enabled. */
export default class ApiDocsService extends Service {
  private loaded(): ApiDocs {
    const docs = this.app.apiDocs;
    if (!docs || !this.app.config.backend.apiDocs.enabled) throw new NotFoundError(`no route for ${this.ctx.method} ${this.ctx.path}`);
    return docs;
  }

  contractJson(): string {
    return this.loaded().contractJson;
  }

  page(): string {
    return this.loaded().page;
  }

  asset(name: string): { contentType: string; body: Buffer | string } {
    const asset = this.loaded().assets.get(name);
    if (!asset) throw new NotFoundError(`no route for ${this.ctx.method} ${this.ctx.path}`);
    return asset;
  }
}
