/**
 * `npm run contract`: writes the request side of docs/openapi.yaml from the typebox schemas the
 * controllers check input with (app/lib/validation.ts), so the contract and the API cannot tell
 * different stories about what a request may hold:
 * - `components.schemas.<Name>` for every schema of REQUEST_SCHEMAS (request bodies, shared ids);
 * - the query and path parameters of every operation of PARAMETERS, one per property.
 * A nested schema with a `$id` naming one of REQUEST_SCHEMAS is written as a `$ref` to it.
 * The rest of the file (replies, descriptions, comments) is left as written by hand.
 * test/contract/requestSchemas.test.ts fails when the file differs from what this writes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TObject, TSchema } from '@sinclair/typebox';
import { isMap, isScalar, isSeq, Node, parseDocument } from 'yaml';
import { ListMessagesQuery } from '../app/controller/admin';
import { UnionIdParams } from '../app/controller/officialAccount';
import { TemplatesQuery } from '../app/controller/subscribeMessage';
import { CodeRequest, OpenDataRequest } from '../app/lib/authDto';
import { MediaCheckRequest, Scene, TextCheckRequest, TraceIdParams } from '../app/lib/contentSecurity';
import { ReplyRuleInputSchema, RuleMatchSchema, RuleReplyInput } from '../app/lib/replyRules';
import { SubscribeSendRequest } from '../app/lib/subscribeMessages';
import { ObjectId } from '../app/lib/validation';
import { EnvVersion, LinkRequest, WxaCodeQuery } from '../app/lib/wxacode';

export const CONTRACT_FILE = path.join(__dirname, '../docs/openapi.yaml');

/** components.schemas entries written from code, by name */
export const REQUEST_SCHEMAS: Record<string, TSchema> = {
  ObjectId,
  EnvVersion,
  Scene,
  CodeRequest,
  OpenDataRequest,
  TextCheckRequest,
  MediaCheckRequest,
  RuleMatch: RuleMatchSchema,
  RuleReplyInput,
  ReplyRuleInput: ReplyRuleInputSchema,
  LinkRequest,
  SubscribeSendRequest,
};

/** Operations whose query or path parameters are written from code */
export const PARAMETERS: Array<{ method: string; path: string; in: 'query' | 'path'; schema: TObject }> = [
  { method: 'get', path: '/api/security/media/{traceId}', in: 'path', schema: TraceIdParams },
  { method: 'get', path: '/admin/messages', in: 'query', schema: ListMessagesQuery },
  { method: 'get', path: '/api/wxacode', in: 'query', schema: WxaCodeQuery },
  { method: 'get', path: '/admin/subscribe-templates', in: 'query', schema: TemplatesQuery },
  { method: 'get', path: '/api/oa/followers/{unionId}', in: 'path', schema: UnionIdParams },
];

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * A schema as JSON Schema text: typebox's symbol keys dropped (JSON has none), `type` first, and
 * nested schemas that name a component by `$id` turned into a `$ref` (keeping keys they add).
 */
export function toContractSchema(schema: TSchema, top = true): Json {
  const plain = JSON.parse(JSON.stringify(schema)) as Record<string, Json>;
  return rewrite(plain, top);
}

function rewrite(node: Json, top: boolean): Json {
  if (Array.isArray(node)) return node.map(item => rewrite(item, false));
  if (!node || typeof node !== 'object') return node;
  const id = typeof node.$id === 'string' ? node.$id : null;
  if (id && !top && REQUEST_SCHEMAS[id]) {
    const component = JSON.parse(JSON.stringify(REQUEST_SCHEMAS[id])) as Record<string, Json>;
    const extra = Object.entries(node).filter(([ key, value ]) => key !== '$id' && JSON.stringify(component[key]) !== JSON.stringify(value));
    return { $ref: `#/components/schemas/${id}`, ...Object.fromEntries(extra) };
  }
  const literals = Array.isArray(node.anyOf) ? node.anyOf.map(member => (member && typeof member === 'object' && !Array.isArray(member) ? member.const : undefined)) : [];
  const literalType = literals.length === 0 ? null : literals.every(value => typeof value === 'string') ? 'string' :
    literals.every(value => Number.isInteger(value)) ? 'integer' : null;
  if (literalType) {
    // A union of literals (StringEnum), written as the equivalent and more readable enum
    const rest = Object.entries(node).filter(([ key ]) => key !== 'anyOf' && key !== '$id');
    return { type: literalType, enum: literals as Json[], ...Object.fromEntries(rest) };
  }
  const out: Record<string, Json> = {};
  if ('type' in node) out.type = node.type;
  for (const [ key, value ] of Object.entries(node)) {
    if (key === '$id' || key === 'type') continue;
    // `properties` holds names, not schemas; each of its values is one.
    out[key] = key === 'properties' && value && typeof value === 'object' && !Array.isArray(value) ?
      Object.fromEntries(Object.entries(value).map(([ name, property ]) => [ name, rewrite(property, false) ])) :
      rewrite(value, false);
  }
  return out;
}

/** The OpenAPI parameters of an object schema: one per property, its description on the parameter. */
export function toParameters(schema: TObject, location: 'query' | 'path'): Json[] {
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties).map(([ name, property ]) => {
    const { description, ...rest } = toContractSchema(property, false) as Record<string, Json>;
    return {
      name,
      in: location,
      ...(location === 'path' || required.has(name) ? { required: true } : {}),
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    };
  });
}

/**
 * Small schemas read best on one line, as in the hand-written parts of the file: a map holding
 * only scalars and lists of scalars, and a list of scalars, are written in flow style.
 */
function compact(node: unknown): void {
  const flat = (value: unknown) => isScalar(value) || (isSeq(value) && value.items.every(isScalar));
  if (isSeq(node)) {
    node.items.forEach(compact);
    if (node.items.every(isScalar)) node.flow = true;
  } else if (isMap(node)) {
    node.items.forEach(pair => compact(pair.value));
    if (node.items.every(pair => flat(pair.value))) node.flow = true;
  }
}

/** docs/openapi.yaml's text with its request side written from REQUEST_SCHEMAS and PARAMETERS. */
export function renderContract(text: string): string {
  const document = parseDocument(text);
  for (const [ name, schema ] of Object.entries(REQUEST_SCHEMAS)) {
    const node = document.createNode(toContractSchema(schema)) as Node;
    compact(node);
    const existing = document.getIn([ 'components', 'schemas', name ], true) as Node | undefined;
    if (existing?.commentBefore) node.commentBefore = existing.commentBefore;
    document.setIn([ 'components', 'schemas', name ], node);
  }
  for (const operation of PARAMETERS) {
    const where = [ 'paths', operation.path, operation.method ];
    if (!document.hasIn(where)) throw new Error(`${operation.method.toUpperCase()} ${operation.path} is not in ${CONTRACT_FILE}`);
    const current = (document.getIn([ ...where, 'parameters' ]) as { toJSON(): Json[] } | undefined)?.toJSON() ?? [];
    const kept = current.filter(parameter => !(parameter && typeof parameter === 'object' && !Array.isArray(parameter) && parameter.in === operation.in));
    const node = document.createNode([ ...kept, ...toParameters(operation.schema, operation.in) ]) as Node;
    compact(node);
    document.setIn([ ...where, 'parameters' ], node);
  }
  return document.toString({ lineWidth: 0, singleQuote: true });
}

if (require.main === module) {
  const before = readFileSync(CONTRACT_FILE, 'utf8');
  const after = renderContract(before);
  if (after === before) {
    console.log('docs/openapi.yaml: the request schemas are up to date');
  } else {
    writeFileSync(CONTRACT_FILE, after);
    console.log('docs/openapi.yaml: request schemas written from the typebox definitions');
  }
}
