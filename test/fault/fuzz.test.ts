/**
 * Hostile input across EVERY route (enumerated from app.router.stack, so routes added later are
 * covered too), reproducible from a seed (FUZZ_SEED=<n> to replay one; the seed is printed):
 * random JSON, wrong types, operator objects ({ "$gt": "" }, qs's a[$ne]=), huge strings, bad
 * base64, broken and entity-laden XML, wrong, stale and replayed signatures, wrong admin tokens,
 * wrong / missing / malformed bearer tokens, valid credentials with bad bodies, bad content types,
 * wrong methods, unknown paths; and on the push route, attacks that must get one reason (issue 13):
 * a captured signature set with a new body, plaintext while an EncodingAESKey is configured, safe
 * mode without the URL signature, repeated parameters, a DOCTYPE hidden in comments, a big hostile
 * CDATA body.
 *
 * Every reply: HTTP 200, no INTERNAL_ERROR, the standard JSON shape { code, data, message }, or
 * plain text only where it is valid (the echostr of a correctly signed GET, `success` for a replay
 * of a push already recorded). The database is unchanged (only rate-limit counters may move: they
 * count attempts, which is their job), and the app still answers afterwards.
 */
import assert from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { app, mock } from 'egg-mock/bootstrap';
import { contractRequest } from '../fixtures/contract';
import { buildPush, BuiltPush, deliverPush } from '../../tools/wechat-sandbox';
import { sha1Signature } from '../../app/lib/wechatCrypto';
import { TEST_ENV } from '../fixtures/env';
import { createSandboxWithTestCredentials, serveAppWith, withoutParams } from '../support';

const REQUESTS = 1200;
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
const CONCURRENCY = 8;
/** Routes where any call with valid credentials is a valid write (they take no input). */
const INPUTLESS_WRITES = new Set([ 'POST /admin/oa/sync' ]);
/** Collections that legitimately change on invalid calls: rate-limit counters count attempts. */
const COUNTERS = 'rate_limits';

/** mulberry32: small, fast, reproducible. */
/* eslint-disable no-bitwise */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(list: readonly T[]): T => list[int(list.length)];
  const chance = (p: number) => next() < p;
  return { next, int, pick, chance };
}
/* eslint-enable no-bitwise */
type Rng = ReturnType<typeof prng>;

const NASTY_STRINGS = [
  '', ' ', 'null', 'undefined', 'true', '0', '-1', '1e309', 'NaN', '__proto__', 'constructor', 'prototype',
  '{"$gt":""}', '[$ne]', '$where', 'sleep(1000)', "' OR 1=1 --", '<script>alert(1)</script>', '../../etc/passwd',
  '%00', '\u0000', '\ud800', '😀'.repeat(50), '中文', 'a'.repeat(129), '+/=', '====', 'AAAA', 'not base64!',
  'Bearer', 'success', '<xml/>', ']]>', '\r\n\r\nX-Injected: 1', '0'.repeat(24), 'f'.repeat(40),
];

function randomString(rng: Rng): string {
  switch (rng.int(6)) {
    case 0: return rng.pick(NASTY_STRINGS);
    case 1: return randomBytes(rng.int(64)).toString('base64');
    case 2: return randomBytes(rng.int(40)).toString('hex');
    case 3: return Array.from({ length: rng.int(30) }, () => String.fromCharCode(rng.int(0x2fff))).join('');
    case 4: return 'x'.repeat(rng.pick([ 128, 129, 1000, 9000, 20000 ]));
    default: return String(rng.int(1e9));
  }
}

const FIELD_NAMES = [
  'code', 'encryptedData', 'iv', 'name', 'enabled', 'priority', 'match', 'reply', 'msgType', 'keyword', 'mode', 'value',
  'msgtype', 'content', 'title', 'url', 'status', 'limit', 'id', '_id', '__proto__', 'constructor', '$set', 'openId',
  'ToUserName', 'FromUserName', 'CreateTime', 'MsgType', 'Content', 'MsgId', 'Encrypt', 'Event', 'unionId',
];

function randomValue(rng: Rng, depth = 0): unknown {
  switch (rng.int(depth > 2 ? 6 : 9)) {
    case 0: return null;
    case 1: return rng.chance(0.5);
    case 2: return rng.pick([ 0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, Number.MAX_SAFE_INTEGER ]);
    case 3: case 4: case 5: return randomString(rng);
    case 6: return Array.from({ length: rng.int(4) }, () => randomValue(rng, depth + 1));
    case 7: return { [rng.pick([ '$gt', '$ne', '$where', '$regex', '$exists', '$in', '$expr' ])]: rng.pick([ '', '.*', 1, [ 1 ], { $gt: '' }, true ]) };
    default: {
      const obj: Record<string, unknown> = {};
      for (let i = rng.int(5); i > 0; i--) obj[rng.pick(FIELD_NAMES)] = randomValue(rng, depth + 1);
      return obj;
    }
  }
}


const XML_BODIES = [
  '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><ToUserName>&xxe;</ToUserName></xml>',
  '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><xml><Content>&lol3;</Content></xml>',
  '<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Encrypt><![CDATA[not base64!]]></Encrypt></xml>',
  '<xml><Encrypt><![CDATA[AAAAAAAAAAAAAAAAAAAAAA==]]></Encrypt>',
  '<xml><MsgType>text</MsgType><MsgId>99999999999999999999999</MsgId></xml>',
  '<xml><a><b><c><d><e><f><g><h><i><j><k>deep</k></j></i></h></g></f></e></d></c></b></a></xml>',
  '<xml></xml>', '<xml>', '</xml>', '<', '<xml><![CDATA[</xml>', '<xml attr="&#x0;"/>', '<?xml-stylesheet href="x"?><xml/>',
];

interface FuzzRequest {
  label: string;
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  body?: string;
  /** The reply may be this plain text (a correctly signed echo, a replayed recorded push) */
  plainAllowed?: string;
  /** The reply must be a failure with this reason (the attack shapes) */
  expectReason?: string;
}

/** encodeURIComponent that survives lone surrogates (they become U+FFFD, as URLSearchParams does). */
function encodePart(value: string): string {
  return encodeURIComponent(value.replace(/(?:[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff])/g, '\ufffd'));
}

function snapshotHash(docs: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(docs)).digest('hex');
}

async function snapshot(): Promise<Record<string, { count: number; hash: string; docs: any[] }>> {
  const db = (app.mongooseDB as any).db;
  const out: Record<string, { count: number; hash: string; docs: any[] }> = {};
  for (const { name } of await db.listCollections().toArray()) {
    const docs = await db.collection(name).find({}).sort({ _id: 1 })
      .toArray();
    out[name] = { count: docs.length, hash: snapshotHash(docs), docs };
  }
  return out;
}

describe('test/fault/fuzz.test.ts', function() {
  this.timeout(180000);
  const sandbox = createSandboxWithTestCredentials();
  let sessionToken = '';
  let recordedPush: BuiltPush;

  const served = serveAppWith(sandbox);

  it(`${REQUESTS} hostile requests over every route: no 5xx, no crash, standard replies, no change in the database`, async () => {
    // eslint-disable-next-line no-console
    console.log(`    fuzz seed ${SEED} (replay with FUZZ_SEED=${SEED})`);
    const rng = prng(SEED);
    mock(app.config.backend.wechat, 'apiBase', sandbox.url);
    // /openapi.json and /docs serve documents, not API replies, and read no input (their tests are
    // test/app/controller/apiDocs.test.ts): off here, they too must answer the standard shape.
    mock(app.config.backend.apiDocs, 'enabled', false);
    // High limits: the fuzz reaches every code path behind them.
    mock(app.config.backend.rateLimit, 'loginPerMinute', 1_000_000);
    mock(app.config.backend.rateLimit, 'phonePerMinute', 1_000_000);
    mock(app.config.backend.rateLimit, 'phonePerUserPerMinute', 1_000_000);

    // Valid state made before the snapshot: a session, a recorded push (to replay), a cached token,
    // the cached subscribe-message templates (a read-through cache an admin GET may fill).
    const loginRes = await contractRequest().post('/api/login').send({ code: sandbox.login('fuzz-user') });
    assert.strictEqual(loginRes.body.code, 1, loginRes.text);
    sessionToken = loginRes.body.data.token;
    const phoneRes = await contractRequest().post('/api/phone').set('authorization', `Bearer ${sessionToken}`)
      .send({ code: sandbox.phoneCode('fuzz-user') });
    assert.strictEqual(phoneRes.body.code, 1, phoneRes.text);
    sandbox.recordUserMessage('fuzz-user');
    const channel = { appid: TEST_ENV.WECHAT_APPID, token: TEST_ENV.WECHAT_MSG_TOKEN, aesKey: TEST_ENV.WECHAT_MSG_AES_KEY };
    recordedPush = buildPush({ kind: 'text', mode: 'safe', format: 'json', channel, user: 'fuzz-user' });
    assert((await deliverPush(`${served.server.url}/message/check`, recordedPush, { maxAttempts: 1 })).accepted);
    const templatesRes = await contractRequest().get('/admin/subscribe-templates').set('authorization', `Bearer ${TEST_ENV.ADMIN_TOKEN}`);
    assert.strictEqual(templatesRes.body.code, 1, templatesRes.text);
    await app.backgroundTasksFinished();

    const routes = (app.router as any).stack
      .flatMap((layer: any) => (layer.methods as string[]).filter(m => m !== 'HEAD').map(method => ({ method, path: layer.path as string })));
    assert(routes.length >= 10, `routes found: ${JSON.stringify(routes)}`);
    const pushRoutes = new Set(routes.filter((r: any) => r.path === '/message/check').map((r: any) => `${r.method} ${r.path}`));

    const before = await snapshot();
    const requests: FuzzRequest[] = [];
    const covered = new Set<string>();
    for (let i = 0; i < REQUESTS; i++) {
      // Every route first, then random ones; some unknown paths and wrong methods.
      const route = i < routes.length * 3 ? routes[i % routes.length] : rng.chance(0.05) ?
        { method: 'GET', path: `/${rng.pick([ 'api', 'admin', 'message', '..', '%2e%2e', 'health' ])}/${encodePart(randomString(rng)).slice(0, 200)}` } :
        rng.pick(routes);
      const method = rng.chance(0.07) ? rng.pick([ 'GET', 'POST', 'PUT', 'DELETE', 'PATCH' ]) : route.method;
      covered.add(`${route.method} ${route.path}`);
      requests.push(makeRequest(rng, method, route.path, pushRoutes.has(`${route.method} ${route.path}`)));
    }
    for (const r of routes) assert(covered.has(`${r.method} ${r.path}`), `route ${r.method} ${r.path} not fuzzed`);

    const failures: string[] = [];
    let next = 0;
    const reasons = new Map<string, number>();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < requests.length) {
        const req = requests[next++];
        const problem = await send(req, reasons);
        if (problem) failures.push(`${req.label}: ${problem}`);
      }
    }));
    // eslint-disable-next-line no-console
    console.log(`    replies: ${JSON.stringify(Object.fromEntries([ ...reasons ].sort((a, b) => b[1] - a[1])))}`);
    assert.deepStrictEqual(failures.slice(0, 20), [], `${failures.length} bad replies (seed ${SEED})`);

    await app.backgroundTasksFinished();
    const after = await snapshot();
    for (const name of new Set([ ...Object.keys(before), ...Object.keys(after) ])) {
      if (name === COUNTERS) {
        for (const doc of after[name]?.docs ?? []) assert.match(String(doc.key), /^(login|phone|phone-user):/, `unexpected ${COUNTERS} document ${JSON.stringify(doc)}`);
        continue;
      }
      assert.strictEqual(after[name]?.count, before[name]?.count, `${name}: document count changed (seed ${SEED})`);
      assert.strictEqual(after[name]?.hash, before[name]?.hash, `${name}: documents changed (seed ${SEED})`);
    }
    const health = await contractRequest().get('/health');
    assert.strictEqual(health.body.code, 1);
    assert.strictEqual(health.body.data.mongo, 'up');
  });

  /** A signed push of the suite's channel, fresh, in the given mode. */
  function freshPush(rng: Rng, mode: 'plaintext' | 'safe', fields: Record<string, string> = {}): BuiltPush {
    const channel = { appid: TEST_ENV.WECHAT_APPID, token: TEST_ENV.WECHAT_MSG_TOKEN, aesKey: TEST_ENV.WECHAT_MSG_AES_KEY };
    return buildPush({ kind: 'text', mode, format: rng.chance(0.5) ? 'json' : 'xml', channel, user: 'fuzz-user', nonce: String(rng.int(1e9)), fields });
  }

  /** Issue 13's attacks on the push route, each with the one reason it must get. */
  function attackShape(rng: Rng, method: string, path: string): FuzzRequest {
    const shape = method === 'GET' ? 'repeated' : rng.pick([ 'replay-new-body', 'plaintext', 'safe-unsigned', 'repeated', 'doctype-in-comment', 'hostile-cdata' ]);
    const label = `${method} ${path} attack#${shape}`;
    const forged = freshPush(rng, 'plaintext', { Content: 'forged' });
    const request = (query: Record<string, string>, body: string | undefined, contentType: string, expectReason: string): FuzzRequest => ({
      label, method, path, query: new URLSearchParams(query).toString(), headers: { 'content-type': contentType }, body, expectReason,
    });
    switch (shape) {
      case 'replay-new-body': {
        // The recorded safe push's signature set, without encrypt_type/msg_signature, over a forged body.
        return rng.chance(0.5) ?
          request(withoutParams(recordedPush.query, 'encrypt_type', 'msg_signature'), forged.body, forged.contentType, 'ENCRYPTION_REQUIRED') :
          request(recordedPush.query, recordedPush.body.replace(/"Encrypt":"[^"]+"/, `"Encrypt":"${freshPush(rng, 'safe').encrypt}"`), recordedPush.contentType, 'SIGNATURE_INVALID');
      }
      case 'plaintext':
        return request(forged.query, forged.body, forged.contentType, 'ENCRYPTION_REQUIRED');
      case 'safe-unsigned': {
        const safe = freshPush(rng, 'safe');
        return request(withoutParams(safe.query, 'signature'), safe.body, safe.contentType, 'SIGNATURE_INVALID');
      }
      case 'repeated': {
        const safe = freshPush(rng, 'safe');
        const name = rng.pick([ 'signature', 'timestamp', 'nonce', 'msg_signature', 'encrypt_type' ]);
        const query = `${new URLSearchParams(safe.query)}&${name}=${encodePart(rng.chance(0.5) ? safe.query[name] : randomString(rng).slice(0, 100))}`;
        return { ...request({}, method === 'GET' ? undefined : safe.body, safe.contentType, 'INVALID_PARAM'), query };
      }
      case 'doctype-in-comment': {
        const safe = freshPush(rng, 'safe');
        const body = `<!-- <![CDATA[ --><!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><!-- ]]> --><xml><ToUserName>&e;</ToUserName><Encrypt>${safe.encrypt}</Encrypt></xml>`;
        return request(safe.query, body, 'text/xml', 'INVALID_PARAM');
      }
      default: {
        const safe = freshPush(rng, 'safe');
        const body = rng.pick([ `<xml><A>${'<![CDATA['.repeat(7000)}</A></xml>`, `<xml><A><![CDATA[${']]'.repeat(30000)}</A></xml>`, `<xml><${'a'.repeat(60000)}></xml>` ]);
        return request(safe.query, body, 'text/xml', 'INVALID_PARAM');
      }
    }
  }

  function makeRequest(rng: Rng, method: string, routePath: string, isPush: boolean): FuzzRequest {
    if (isPush && (method === 'GET' || method === 'POST') && rng.chance(0.3)) return attackShape(rng, method, routePath);
    const path = routePath.replace(/:(\w+)/g, () => encodePart(rng.chance(0.3) ? randomBytes(12).toString('hex') : randomString(rng)).slice(0, 300) || 'x');
    const headers: Record<string, string> = {};
    const label: string[] = [ `${method} ${path.slice(0, 80)}` ];
    // Credentials
    const cred = rng.int(8);
    const withValid = !INPUTLESS_WRITES.has(`${method} ${routePath}`);
    switch (cred) {
      case 0: break;
      case 1: headers.authorization = `Bearer ${randomBytes(32).toString('base64url')}`; break;
      case 2: headers.authorization = rng.pick([ 'Bearer', 'Bearer  ', 'Basic YWRtaW46YWRtaW4=', `bearer ${TEST_ENV.ADMIN_TOKEN}x`, `Bearer ${TEST_ENV.ADMIN_TOKEN.slice(0, -1)}`, randomString(rng).replace(/[^\x20-\x7e]/g, '').slice(0, 4000) ]); break;
      case 3: if (withValid) headers.authorization = `Bearer ${sessionToken}`; break;
      case 4: if (withValid) headers.authorization = `Bearer ${TEST_ENV.ADMIN_TOKEN}`; break;
      default: if (withValid) headers.authorization = `Bearer ${rng.chance(0.5) ? sessionToken : TEST_ENV.ADMIN_TOKEN}`;
    }
    label.push(`auth#${cred}`);

    // Query
    const params = new URLSearchParams();
    let plainAllowed: string | undefined;
    const keys = [ 'signature', 'timestamp', 'nonce', 'echostr', 'openid', 'encrypt_type', 'msg_signature', 'status', 'limit', 'id' ];
    for (let n = rng.int(5); n > 0; n--) {
      const key = rng.pick(keys);
      const form = rng.int(4);
      if (form === 0) params.append(`${key}[$ne]`, randomString(rng).slice(0, 500));
      else if (form === 1) { params.append(key, 'a'); params.append(key, 'b'); } else params.append(key, randomString(rng).slice(0, 2000));
    }
    let body: string | undefined;
    let contentType = rng.pick([ 'application/json', 'text/xml', 'application/xml', 'text/plain', 'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x', 'application/json; charset=utf-16', 'application/octet-stream', '' ]);

    if (isPush && rng.chance(0.5)) {
      // Signatures: valid over a garbage body, replayed with another body, stale, or an exact replay.
      const timestamp = String(Math.floor(Date.now() / 1000) - (rng.chance(0.2) ? 100000 : 0));
      const nonce = String(rng.int(1e9));
      const kind = rng.int(5);
      label.push(`sig#${kind}`);
      if (method === 'GET' && kind < 3) {
        const echostr = randomString(rng).slice(0, 200);
        params.set('signature', kind === 0 ? sha1Signature(TEST_ENV.WECHAT_MSG_TOKEN, timestamp, nonce) : 'f'.repeat(40));
        params.set('timestamp', timestamp);
        params.set('nonce', nonce);
        params.set('echostr', echostr);
        if (kind === 0) plainAllowed = echostr;
      } else if (kind === 4 && method === 'POST') {
        // The very push recorded before the snapshot, again: a duplicate, acknowledged, nothing stored.
        for (const [ k, v ] of Object.entries(recordedPush.query)) params.set(k, v);
        body = recordedPush.body;
        contentType = recordedPush.contentType;
        plainAllowed = 'success';
      } else {
        const encrypt = rng.chance(0.5) ? randomBytes(rng.pick([ 16, 32, 48, 64 ])).toString('base64') : randomString(rng);
        const replay = kind === 1;
        for (const [ k, v ] of Object.entries(replay ? recordedPush.query : {
          signature: sha1Signature(TEST_ENV.WECHAT_MSG_TOKEN, timestamp, nonce),
          timestamp, nonce, openid: 'o'.repeat(28), encrypt_type: 'aes',
          msg_signature: sha1Signature(TEST_ENV.WECHAT_MSG_TOKEN, timestamp, nonce, encrypt),
        })) params.set(k, v);
        body = rng.chance(0.5) ?
          `{"ToUserName":"gh_x","Encrypt":${JSON.stringify(encrypt)}}` :
          `<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`;
        contentType = body.startsWith('{') ? 'application/json' : 'text/xml';
      }
    }

    // A GET that ended up correctly signed (a random echostr may be in the query) is a valid echo,
    // unless a parameter is repeated (refused, never resolved to one value).
    const [ ts, nonce, echostr ] = [ params.get('timestamp'), params.get('nonce'), params.get('echostr') ];
    const repeated = [ ...params.keys() ].some(key => params.getAll(key).length > 1);
    if (isPush && method === 'GET' && !repeated && echostr !== null && ts !== null && nonce !== null &&
      params.get('signature') === sha1Signature(TEST_ENV.WECHAT_MSG_TOKEN, ts, nonce)) {
      plainAllowed = echostr;
    }

    if (body === undefined && method !== 'GET' && !rng.chance(0.1)) {
      const shape = rng.int(8);
      label.push(`body#${shape}`);
      switch (shape) {
        case 0: body = JSON.stringify(randomValue(rng)); break;
        case 1: body = rng.pick(XML_BODIES); break;
        case 2: body = JSON.stringify({ code: randomValue(rng), encryptedData: randomString(rng), iv: randomString(rng) }); break;
        case 3: body = JSON.stringify({ code: { $gt: '' } }); break;
        case 4: body = rng.pick([ '{', '{"a":', '[1,2', '{"a":1}}', 'nul', '\u0000\u0001', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"x":1}}}' ]); break;
        case 5: body = `{"code":"${'A'.repeat(rng.pick([ 70 * 1024, 200 * 1024 ]))}"}`; break;
        case 6: body = JSON.stringify({ encryptedData: rng.pick([ '%%%', 'AAAA====', 'A'.repeat(8193), 'YWJj ZGVm' ]), iv: rng.pick([ 'short', 'A'.repeat(24), '!!!!!!!!!!!!!!!!!!!!!!==' ]) }); break;
        default: body = `<xml><ToUserName><![CDATA[${randomString(rng)}]]></ToUserName><Encrypt>${randomString(rng)}</Encrypt></xml>`;
      }
    }
    if (contentType) headers['content-type'] = contentType;
    label.push(contentType || 'no-content-type');
    return { label: label.join(' '), method, path, query: params.toString(), headers, body, plainAllowed };
  }

  async function send(req: FuzzRequest, reasons: Map<string, number>): Promise<string | null> {
    let res: Response;
    try {
      res = await fetch(`${served.server.url}${req.path}${req.query ? `?${req.query}` : ''}`, {
        method: req.method,
        headers: req.headers,
        body: req.method === 'GET' ? undefined : req.body,
      });
    } catch (err) {
      return `request failed: ${(err as Error).message} ${(err as any).cause?.message ?? ''}`;
    }
    const text = await res.text();
    if (res.status !== 200) return `HTTP ${res.status}: ${text.slice(0, 200)}`;
    const type = res.headers.get('content-type') ?? '';
    if (/^text\/plain/.test(type)) {
      reasons.set('(plain)', (reasons.get('(plain)') ?? 0) + 1);
      return req.plainAllowed !== undefined && text === req.plainAllowed ? null : `unexpected plain reply ${JSON.stringify(text.slice(0, 100))}`;
    }
    if (!/application\/json/.test(type)) return `content-type ${type}: ${text.slice(0, 200)}`;
    let reply: any;
    try {
      reply = JSON.parse(text);
    } catch {
      return `not JSON: ${text.slice(0, 200)}`;
    }
    const keys = Object.keys(reply ?? {}).sort().join(',');
    if (keys !== 'code,data,message' || (reply.code !== 0 && reply.code !== 1) || typeof reply.message !== 'string') {
      return `not the standard shape: ${text.slice(0, 200)}`;
    }
    const reason = reply.code === 1 ? '(ok)' : String(reply.data?.error);
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    if (req.expectReason !== undefined && reason !== req.expectReason) return `expected ${req.expectReason}, got ${reason}: ${text.slice(0, 200)}`;
    if (req.expectReason !== undefined && text.length > 1024) return `a reply of ${text.length} bytes: ${text.slice(0, 200)}`;
    if (reply.code === 0 && (typeof reply.data?.error !== 'string' || !/^[A-Z_]+$/.test(reply.data.error))) return `failure without a reason: ${text.slice(0, 200)}`;
    if (reply.data?.error === 'INTERNAL_ERROR') return `INTERNAL_ERROR: ${text.slice(0, 200)}`;
    return null;
  }
});
