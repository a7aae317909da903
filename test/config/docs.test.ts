import assert from 'node:assert';
import { readFileSync } from 'node:fs';
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
});
