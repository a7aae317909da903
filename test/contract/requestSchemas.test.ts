import assert from 'node:assert';
import { readFileSync } from 'node:fs';
import { CONTRACT_FILE, PARAMETERS, renderContract, REQUEST_SCHEMAS } from '../../scripts/contract';
import { contract } from '../fixtures/contract';

describe('test/contract/requestSchemas.test.ts', () => {
  it('holds the request schemas the API checks input with (scripts/contract.ts)', () => {
    const text = readFileSync(CONTRACT_FILE, 'utf8');
    const expected = renderContract(text);
    if (expected !== text) {
      const at = [ ...text ].findIndex((char, i) => char !== expected[i]);
      const line = text.slice(0, at).split('\n').length;
      assert.fail(`docs/openapi.yaml differs from the typebox request schemas from line ${line} on: run \`npm run contract\``);
    }
  });

  it('uses every schema it writes', () => {
    const text = readFileSync(CONTRACT_FILE, 'utf8');
    for (const name of Object.keys(REQUEST_SCHEMAS)) {
      assert(text.includes(`$ref: '#/components/schemas/${name}'`), `nothing in docs/openapi.yaml refers to ${name}`);
    }
    for (const { method, path } of PARAMETERS) {
      assert(contract().operations.some(op => op.method === method.toUpperCase() && op.path === path), `${method} ${path} is an operation`);
    }
  });
});
