import assert from 'node:assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.join(__dirname, '../..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

/** Every variable config/env.ts reads, found in its source so a new one cannot be missed. */
function variablesReadByConfig(): string[] {
  const source = read('config/env.ts');
  const names = [ ...source.matchAll(/\w+\(env, '([A-Z][A-Z0-9_]*)'/g) ].map(m => m[1]);
  return [ ...new Set(names) ].sort();
}

describe('test/config/docs.test.ts', () => {
  const variables = variablesReadByConfig();

  it('finds the variables config/env.ts reads', () => {
    assert(variables.length >= 15, `found ${variables.join(', ')}`);
    for (const name of [ 'PORT', 'MONGODB_URI', 'WECHAT_APPID', 'EGG_KEYS' ]) assert(variables.includes(name), name);
  });

  for (const file of [ 'README.md', 'README.zh-CN.md', '.env.example' ]) {
    it(`${file} documents every environment variable`, () => {
      const text = read(file);
      const missing = variables.filter(name => !new RegExp(`\\b${name}\\b`).test(text));
      assert.deepStrictEqual(missing, [], `${file} lacks ${missing.join(', ')}`);
    });
  }

  // The docs a reader gets with the repository: the READMEs, docs/ and the tools' READMEs.
  const docs = [
    'README.md', 'README.zh-CN.md',
    ...readdirSync(path.join(root, 'docs')).filter(f => f.endsWith('.md')).map(f => `docs/${f}`),
    ...readdirSync(path.join(root, 'tools')).map(t => `tools/${t}/README.md`).filter(f => existsSync(path.join(root, f))),
  ];

  it('docs point only at files inside the repository, and those exist', () => {
    assert(docs.includes('tools/embedded-mongo/README.md') && docs.includes('tools/wechat-sandbox/README.md'));
    const problems: string[] = [];
    for (const file of docs) {
      const text = read(file);
      const prose = text.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
      for (const [ , target ] of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^(https?:|mailto:|#)/.test(target)) continue;
        const resolved = path.resolve(root, path.dirname(file), target.split('#')[0]);
        if (!resolved.startsWith(`${root}${path.sep}`)) problems.push(`${file}: ${target} is outside the repository`);
        else if (!existsSync(resolved)) problems.push(`${file}: ${target} does not exist`);
      }
      for (const [ absolute ] of text.matchAll(/(?<![\w.])\/(?:work|home|root|Users)\/[^\s`)]+/g)) {
        problems.push(`${file}: ${absolute} is a path on one machine`);
      }
    }
    assert.deepStrictEqual(problems, []);
  });
});
