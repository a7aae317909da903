import assert from 'node:assert';
import { randomBytes } from 'node:crypto';
import { contractRequest } from '../fixtures/contract';

export function newSessionKey(): string {
  return randomBytes(16).toString('base64');
}

/** Logs a user in through POST /api/login and returns the reply's data. */
export async function login(code: string): Promise<{ token: string; expiresIn: number; openId: string; unionId: string | null; isNewUser: boolean }> {
  const res = await contractRequest().post('/api/login').send({ code })
    .expect(200);
  assert.strictEqual(res.body.code, 1, JSON.stringify(res.body));
  return res.body.data;
}
