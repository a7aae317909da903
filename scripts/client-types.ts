/**
 * `npm run client:types`: the mini-program client's TypeScript types (client/miniprogram/api.d.ts)
 * generated from the API contract (docs/openapi.yaml) by openapi-typescript, offline (the contract
 * has no external $ref). client/miniprogram/index.d.ts names its request, reply and reason types
 * from this file, so the client's types follow the server's contract; test/client/types.test.ts
 * fails when the file differs from what this would write now.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import openapiTS, { astToString } from 'openapi-typescript';

const CONTRACT_FILE = path.join(__dirname, '../docs/openapi.yaml');
export const CLIENT_TYPES_FILE = path.join(__dirname, '../client/miniprogram/api.d.ts');

const HEADER = [
  '/**',
  ' * The HTTP API contract (docs/openapi.yaml) as TypeScript types, written by `npm run client:types`',
  ' * (openapi-typescript). Do not edit: change the contract and run `npm run client:types` again.',
  ' */',
  '',
  '',
].join('\n');

/** What `npm run client:types` writes: the generator's output for the current contract. */
export async function generateClientTypes(): Promise<string> {
  // The whole contract is checked first by the generator's own (Redocly) validation: an invalid one throws.
  const ast = await openapiTS(pathToFileURL(CONTRACT_FILE), { silent: true });
  return HEADER + astToString(ast);
}

async function main(): Promise<void> {
  writeFileSync(CLIENT_TYPES_FILE, await generateClientTypes());
  console.log(`wrote ${path.relative(process.cwd(), CLIENT_TYPES_FILE)} from docs/openapi.yaml`);
}

if (require.main === module) {
  main().catch(err => {
    console.error(`npm run client:types: ${(err as Error)?.stack ?? err}`);
    process.exit(1);
  });
}
