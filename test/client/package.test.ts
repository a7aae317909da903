/**
 * The mini-program client as a package: its types are the ones the contract generates now
 * (client/miniprogram/api.d.ts, `npm run client:types`), and what `npm pack` makes is a package
 * whose declarations a strict TypeScript project can use.
 */
import assert from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { CLIENT_TYPES_FILE, generateClientTypes } from '../../scripts/client-types';

const CLIENT_DIR = path.join(__dirname, '../../client/miniprogram');

/** A page of a TypeScript mini-program using the package: what must compile, and what must not. */
const CONSUMER = `
import { BackendError, createBackend, FailureData, LoginResult, Reason, SubscriptionGrant, UserProfile } from 'wechat-miniprogram-backend-client';

const backend = createBackend({ baseUrl: 'https://api.example.com', timeoutMs: 5000 });

export async function onLoad(detail: { errMsg: string; code?: string }): Promise<string> {
  const login: LoginResult = await backend.login();
  const user: UserProfile = await backend.getUser();
  const grants: SubscriptionGrant[] = await backend.getSubscriptionGrants();
  try {
    const { purePhoneNumber } = await backend.bindPhone(detail);
    return purePhoneNumber;
  } catch (err) {
    if (err instanceof BackendError && err.reason === 'NO_SUBSCRIPTION_GRANT') return err.reply?.data.templateId ?? '';
    const reason: Reason = (err as BackendError).reason;
    return [ login.token, user.phoneNumber ?? '', grants[0]?.templateId, reason ].join();
  }
}

export function notAReason(data: FailureData, user: UserProfile): void {
  // @ts-expect-error: not a reason of the contract
  const reason: Reason = 'NO_SUCH_REASON';
  // @ts-expect-error: the contract says it is a string or null
  const phone: number = user.phoneNumber;
  // @ts-expect-error: not a field of the contract's FailureData
  void [ reason, phone, data.stack ];
  // @ts-expect-error: not a scene of the contract
  backend.checkText('hello', 'chat');
}
`;

describe('test/client/package.test.ts', () => {
  it('client/miniprogram/api.d.ts is what the generator writes from docs/openapi.yaml now', async () => {
    const generated = await generateClientTypes();
    let current = '';
    try {
      current = readFileSync(CLIENT_TYPES_FILE, 'utf8');
    } catch {
      // missing: the message below says how to make it
    }
    assert(current === generated, 'client/miniprogram/api.d.ts differs from what docs/openapi.yaml generates: run `npm run client:types`');
  });

  it('npm pack gives a package: main, types and what they import, declarations that type-check strictly', function() {
    this.timeout(60_000);
    const pkg = JSON.parse(readFileSync(path.join(CLIENT_DIR, 'package.json'), 'utf8'));
    assert.deepStrictEqual(Object.keys(pkg.dependencies ?? {}), [], 'no dependencies');
    const work = mkdtempSync(path.join(tmpdir(), 'client-pack-'));
    try {
      const [ packed ] = JSON.parse(execFileSync('npm', [ 'pack', '--json', '--pack-destination', work ], { cwd: CLIENT_DIR, encoding: 'utf8' }));
      const files = (packed.files as Array<{ path: string }>).map(file => file.path).sort();
      assert.deepStrictEqual(files, [ 'README.md', 'api.d.ts', 'index.d.ts', 'index.js', 'package.json' ]);
      // Installed as a mini-program project's npm would: node_modules/<name>.
      const installed = path.join(work, 'node_modules', pkg.name);
      mkdirSync(installed, { recursive: true });
      execFileSync('tar', [ '-xzf', path.join(work, packed.filename), '-C', installed, '--strip-components=1' ]);
      const consumer = path.join(work, 'page.ts');
      writeFileSync(consumer, CONSUMER);
      // skipLibCheck off: an index.d.ts naming a type the generated file no longer has fails here.
      const program = ts.createProgram([ consumer ], {
        strict: true, noEmit: true, skipLibCheck: false, types: [], lib: [ 'lib.es2020.d.ts' ],
        target: ts.ScriptTarget.ES2020, module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10,
      });
      const errors = ts.getPreEmitDiagnostics(program).map(d => {
        const where = d.file ? `${path.relative(work, d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : '';
        return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      });
      assert.deepStrictEqual(errors, []);
      const resolved = program.getSourceFiles().map(file => path.relative(work, file.fileName)).filter(name => name.startsWith('node_modules'));
      assert.deepStrictEqual(resolved.sort(), [ 'api.d.ts', 'index.d.ts' ].map(name => path.join('node_modules', pkg.name, name)));
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
