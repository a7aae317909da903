import assert from 'node:assert';
import { readFileSync } from 'node:fs';
import { app, mock } from 'egg-mock/bootstrap';
import { parse } from 'yaml';
import configDefault from '../../../config/config.default';
import { CONTRACT_FILE, contractRequest } from '../../fixtures/contract';

describe('test/app/controller/apiDocs.test.ts', () => {
  it('serves docs/openapi.yaml as JSON at /openapi.json', async () => {
    const res = await contractRequest().get('/openapi.json')
      .expect(200)
      .expect('content-type', /^application\/json/);
    assert.deepStrictEqual(res.body, parse(readFileSync(CONTRACT_FILE, 'utf8')));
  });

  it('serves a reference page whose viewer comes from this server only (no CDN)', async () => {
    const page = await contractRequest().get('/docs').expect(200)
      .expect('content-type', /^text\/html/);
    const sources = [ ...page.text.matchAll(/(?:src|href)="([^"]+)"/g) ].map(m => m[1]);
    assert.deepStrictEqual(sources.sort(), [ '/docs/reference.js', '/docs/swagger-ui-bundle.js', '/docs/swagger-ui.css' ]);
    const bundle = await contractRequest().get('/docs/swagger-ui-bundle.js').expect(200)
      .expect('content-type', /^application\/javascript/);
    assert(bundle.text.includes('SwaggerUIBundle'));
    await contractRequest().get('/docs/swagger-ui.css').expect(200)
      .expect('content-type', /^text\/css/);
    const start = await contractRequest().get('/docs/reference.js').expect(200);
    assert.match(start.text, /url: '\/openapi\.json'/);
    assert.match(start.text, /validatorUrl: null/, 'the contract is never sent to validator.swagger.io');
  });

  it('serves no other file under /docs', async () => {
    for (const file of [ 'index.html', 'swagger-ui-bundle.js.map', 'absolute-path.js', '..%2Fpackage.json' ]) {
      const res = await contractRequest().get(`/docs/${file}`).expect(200);
      assert.strictEqual(res.body.data.error, 'NOT_FOUND', file);
    }
    // Deeper escapes are refused before routing (INVALID_PARAM); either way, no file.
    const escape = await contractRequest().get('/docs/..%2F..%2Fconfig%2Fenv.ts').expect(200);
    assert.strictEqual(escape.body.code, 0);
  });

  it('is on in development and tests, and in production only with API_DOCS=true', () => {
    const enabledIn = (env: string) => configDefault({ ...app.config.appInfo, env } as any).backend.apiDocs.enabled;
    assert.strictEqual(enabledIn('local'), true);
    assert.strictEqual(enabledIn('unittest'), true);
    assert.strictEqual(enabledIn('prod'), false);
    mock(process.env, 'API_DOCS', 'true');
    assert.strictEqual(enabledIn('prod'), true);
    mock(process.env, 'API_DOCS', 'false');
    assert.strictEqual(enabledIn('local'), false);
  });

  it('answers NOT_FOUND, like an unknown route, when config.backend.apiDocs.enabled is off', async () => {
    mock(app.config.backend.apiDocs, 'enabled', false);
    for (const path of [ '/openapi.json', '/docs', '/docs/swagger-ui-bundle.js' ]) {
      const res = await contractRequest().get(path).expect(200);
      assert.strictEqual(res.body.data.error, 'NOT_FOUND', path);
      assert.strictEqual(res.body.message, `no route for GET ${path}`);
    }
  });
});
