import assert from 'node:assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { app } from 'egg-mock/bootstrap';
import { assertReplyMatchesContract, contract } from '../fixtures/contract';

const ERRORS_FILE = path.join(__dirname, '../../app/lib/errors.ts');

/** `METHOD /path/{param}` of every route the running app's router holds (HEAD comes with GET). */
function routedOperations(): string[] {
  const found = new Set<string>();
  for (const layer of (app.router as any).stack as Array<{ path: string; methods: string[] }>) {
    const template = layer.path.replace(/:(\w+)/g, '{$1}');
    for (const method of layer.methods) {
      if (method !== 'HEAD') found.add(`${method} ${template}`);
    }
  }
  return [ ...found ].sort();
}

/** The string literals of the ErrorReason union, read from the source (the type has no runtime value). */
function errorReasons(): string[] {
  const source = ts.createSourceFile(ERRORS_FILE, readFileSync(ERRORS_FILE, 'utf8'), ts.ScriptTarget.Latest, true);
  const alias = source.statements.find((s): s is ts.TypeAliasDeclaration => ts.isTypeAliasDeclaration(s) && s.name.text === 'ErrorReason');
  assert(alias && ts.isUnionTypeNode(alias.type), 'ErrorReason is a union of string literals in app/lib/errors.ts');
  return alias.type.types.map(member => {
    assert(ts.isLiteralTypeNode(member) && ts.isStringLiteral(member.literal), `ErrorReason member ${member.getText()} is a string literal`);
    return member.literal.text;
  });
}

describe('test/contract/routes.test.ts', () => {
  const documented = () => contract().operations.map(op => `${op.method} ${op.path}`).sort();

  it('documents every route of the router', () => {
    const missing = routedOperations().filter(op => !documented().includes(op));
    assert.deepStrictEqual(missing, [], `routes missing from docs/openapi.yaml: ${missing.join(', ')}`);
  });

  it('routes every operation it documents', () => {
    const routed = routedOperations();
    const unrouted = documented().filter(op => !routed.includes(op));
    assert.deepStrictEqual(unrouted, [], `operations of docs/openapi.yaml that app/router.ts does not route: ${unrouted.join(', ')}`);
  });

  it('lists exactly the reasons of app/lib/errors.ts in its Reason enum', () => {
    const reasons = errorReasons();
    assert(reasons.includes('INVALID_PARAM') && reasons.length > 20);
    assert.deepStrictEqual([ ...contract().document.components.schemas.Reason.enum ].sort(), reasons.sort());
  });

  it('gives every operation a 200 response, an operationId and a tag', () => {
    const ids = new Set<string>();
    for (const op of contract().operations) {
      const { responses, operationId, tags } = op.definition;
      assert(responses?.['200'], `${op.method} ${op.path} documents its 200 reply`);
      assert(typeof operationId === 'string' && !ids.has(operationId), `${op.method} ${op.path} has a unique operationId`);
      ids.add(operationId);
      assert(Array.isArray(tags) && tags.length > 0, `${op.method} ${op.path} has a tag`);
    }
  });

  describe('the reply check (test/fixtures/contract.ts)', () => {
    const profile = { openId: 'o-1', unionId: null, phoneNumber: null, countryCode: null, createdAt: '2026-01-01T00:00:00.000Z', lastLoginAt: '2026-01-01T00:00:00.000Z' };
    const reply = (body: unknown, overrides: Record<string, unknown> = {}) => ({
      status: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, body, text: JSON.stringify(body),
      req: { method: 'GET', path: '/api/user' }, ...overrides,
    });

    it('accepts a documented reply', () => {
      assertReplyMatchesContract(reply({ code: 1, data: profile, message: 'ok' }));
      assertReplyMatchesContract(reply({ code: 0, data: { error: 'UNAUTHORIZED' }, message: 'log in again' }));
    });

    it('refuses an undocumented field, an unknown reason, a wrong status or content type', () => {
      const refused = [
        reply({ code: 1, data: { ...profile, sessionKey: 'x' }, message: 'ok' }),
        reply({ code: 1, data: { ...profile, createdAt: 'yesterday' }, message: 'ok' }),
        reply({ code: 0, data: { error: 'NO_SUCH_REASON' }, message: 'error' }),
        reply({ code: 0, data: { error: 'INVALID_PARAM' }, message: 'no fields' }),
        reply({ code: 0, data: { error: 'UNAUTHORIZED', stack: 'Error at …' }, message: 'error' }),
        reply({ code: 0, data: { error: 'UNAUTHORIZED' }, message: 'error' }, { status: 401 }),
        reply('ok', { headers: { 'content-type': 'text/html' } }),
        // An unknown route answers a Failure, never a success.
        reply({ code: 1, data: {}, message: 'ok' }, { req: { method: 'GET', path: '/api/nowhere' } }),
      ];
      for (const res of refused) {
        assert.throws(() => assertReplyMatchesContract(res), assert.AssertionError, JSON.stringify(res));
      }
    });

    it('refuses a request the API accepted but the contract does not allow', () => {
      const loginReply = (sent: unknown, path = '/api/login') => reply(
        { code: 1, data: { token: 't', expiresIn: 3600, openId: 'o-1', unionId: null, isNewUser: true }, message: 'ok' },
        { req: { method: 'POST', path }, request: { toJSON: () => ({ data: sent, headers: { 'content-type': 'application/json' } }) } },
      );
      assertReplyMatchesContract(loginReply({ code: 'code-1' }));
      assert.throws(() => assertReplyMatchesContract(loginReply({ code: 'code-1', extra: true })), /accepted a request body the contract refuses/);
      assert.throws(() => assertReplyMatchesContract(loginReply({ code: 'code-1' }, '/api/login?debug=1')), /query parameters the contract does not document/);
    });
  });
});
