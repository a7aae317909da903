/** Assertions the fault tests share (the rest of what they use is in test/support). */
import assert from 'node:assert';

/** A failure reply of the JSON API with this reason. */
export function assertFailure(res: { status: number; headers: any; body: any; text: string }, reason: string) {
  assert.strictEqual(res.status, 200, res.text);
  assert.match(String(res.headers['content-type']), /application\/json/, res.text);
  assert.strictEqual(res.body.code, 0, res.text);
  assert.strictEqual(res.body.data?.error, reason, res.text);
  assert.strictEqual(typeof res.body.message, 'string', res.text);
}

export function assertOk(res: { status: number; body: any; text: string }) {
  assert.strictEqual(res.status, 200, res.text);
  assert.strictEqual(res.body.code, 1, res.text);
}
