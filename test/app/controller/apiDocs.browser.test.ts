/**
 * The reference page (/docs) as a browser shows it: Debian's chromium, headless, opens it from the
 * app over a listening port with every host but 127.0.0.1 unresolvable, so the page renders from
 * this server's files alone. A screenshot is kept as an artifact (artifacts/api-docs.png).
 *
 * Without chromium on PATH the tests are skipped, except under CI=true, where they fail:
 * .ci/run installs it (apt-get install chromium).
 */
import assert from 'node:assert';
import { execFile } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { app } from 'egg-mock/bootstrap';
import { PNG } from 'pngjs';
import { contract } from '../../fixtures/contract';
import { listen, Listening } from '../../fixtures/listen';

const SCREENSHOT_FILE = path.join(__dirname, '../../../artifacts/api-docs.png');
const WINDOW = { width: 1280, height: 2400 };
/** Virtual time the page gets to load and render (chromium fast-forwards it while idle). */
const RENDER_BUDGET_MS = 30_000;
const CHROMIUM_TIMEOUT_MS = 120_000;

const run = promisify(execFile);

function chromiumOnPath(): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir || '.', 'chromium');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}

describe('test/app/controller/apiDocs.browser.test.ts', () => {
  let chromium: string;
  let server: Listening;
  let profileDir: string;
  /** Every path the browser asked our server for */
  const requested: string[] = [];

  before(async function() {
    const found = chromiumOnPath();
    if (!found) {
      // CI must not pass without the check: .ci/run installs chromium before npm test.
      if (process.env.CI === 'true') throw new Error('chromium is not on PATH (CI=true): .ci/run installs Debian\'s chromium with apt-get');
      console.log('      skipped: no chromium on PATH to open /docs in (Debian: apt-get install chromium; .ci/run installs it)');
      this.skip();
    }
    chromium = found;
    server = await listen({
      callback() {
        const handle = app.callback();
        return (req: { url?: string }, res: unknown) => {
          requested.push(String(req.url));
          return handle(req, res);
        };
      },
    });
    profileDir = mkdtempSync(path.join(tmpdir(), 'chromium-profile-'));
  });

  after(async () => {
    await server?.close();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  });

  /** chromium headless on /docs with its own throwaway profile, reaching nothing but 127.0.0.1. */
  async function openDocs(...output: string[]): Promise<string> {
    const { stdout } = await run(chromium, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--hide-scrollbars',
      '--no-first-run', '--no-default-browser-check', '--disable-extensions', '--disable-background-networking',
      `--user-data-dir=${profileDir}`,
      // Offline: a request to any other host fails, so a page that needs a CDN would not render.
      '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
      `--virtual-time-budget=${RENDER_BUDGET_MS}`,
      `--window-size=${WINDOW.width},${WINDOW.height}`,
      ...output,
      `${server.url}/docs`,
    ], { timeout: CHROMIUM_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  }

  it('renders every operation of the contract, from this server\'s files only', async function() {
    this.timeout(CHROMIUM_TIMEOUT_MS + 10_000);
    const dom = await openDocs('--dump-dom');
    assert.match(dom, /<h1 class="title">WeChat mini-program backend/, 'the contract\'s title');
    // Swagger UI's error and warning boxes (a contract it cannot load or resolve). Swagger UI 5 warns
    // about any jsonSchemaDialect but OAS 3.1's default; ours names JSON Schema 2020-12, as ajv reads it.
    const problems = [ ...dom.matchAll(/<div class="errors-wrapper">(.*?)<\/div>/gs) ]
      .map(m => m[1].replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim())
      .filter(text => !text.includes('OpenAPI.jsonSchemaDialect'));
    assert.deepStrictEqual(problems, [], 'Swagger UI reports problems with the contract');
    // Swagger UI gives each operation's block the id operations-<tag>-<operationId>.
    const rendered = new Set([ ...dom.matchAll(/<div class="opblock [^"]*" id="(operations-[^"]+)"/g) ].map(m => m[1]));
    const expected = contract().operations.map(op => `operations-${op.definition.tags[0]}-${op.definition.operationId}`);
    assert(expected.length >= 30, `${expected.length} operations in the contract`);
    assert.deepStrictEqual(expected.filter(id => !rendered.has(id)), [], 'operations of the contract the page does not show');
    const paths = new Set(requested.map(url => new URL(url, server.url).pathname));
    for (const file of [ '/docs', '/docs/swagger-ui.css', '/docs/swagger-ui-bundle.js', '/docs/reference.js', '/openapi.json' ]) {
      assert(paths.has(file), `the page never asked this server for ${file}: ${[ ...paths ].join(', ')}`);
    }
  });

  it(`writes a screenshot of the page (${path.relative(process.cwd(), SCREENSHOT_FILE)})`, async function() {
    this.timeout(CHROMIUM_TIMEOUT_MS + 10_000);
    mkdirSync(path.dirname(SCREENSHOT_FILE), { recursive: true });
    rmSync(SCREENSHOT_FILE, { force: true });
    await openDocs(`--screenshot=${SCREENSHOT_FILE}`);
    const image = PNG.sync.read(readFileSync(SCREENSHOT_FILE));
    assert.deepStrictEqual([ image.width, image.height ], [ WINDOW.width, WINDOW.height ]);
    // A rendered reference, not a blank page: a good share of the pixels are not background white.
    let inked = 0;
    for (let i = 0; i < image.data.length; i += 4) {
      if (image.data[i] < 240 || image.data[i + 1] < 240 || image.data[i + 2] < 240) inked++;
    }
    const share = inked / (image.width * image.height);
    assert(share > 0.05, `only ${(share * 100).toFixed(1)}% of the screenshot is not white`);
  });
});
