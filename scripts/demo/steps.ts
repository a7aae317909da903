/**
 * The steps of `npm run demo`: every feature used as a mini-program (the client kit on the wx
 * stub: the simulator's wx.login codes, encryptedData, phone codes) and WeChat's servers (signed,
 * encrypted pushes) would use it, over real HTTP; an operator's steps call the admin API directly.
 * Each step checks what it gets and says what it saw.
 */
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import { buildPush, deliverPush, PushResult, SandboxUserInfo, WechatSimulator } from '../../tools/wechat-sandbox';
import { AppClient, poll, sleep } from './client';
import type { SuccessData } from '../../client/miniprogram';
import { MiniProgram, refusedWith } from './miniProgram';
import { check, formatMs, Report, StepFailure } from './report';

export interface ExpectedLink {
  title: string;
  url: string;
}

export interface DemoContext {
  /** HTTP to the backend: the admin API, and what the client never sends */
  app: AppClient;
  /** The user's mini-program: the client on the wx stub */
  miniProgram: MiniProgram;
  sim: WechatSimulator;
  /** The simulated user (sandbox user key), fresh for each run */
  userKey: string;
  user: SandboxUserInfo;
  /** The sandbox's seed (openids of built pushes) */
  seed: string;
  /** Does code2Session return unionids (mini-program bound to the Open Platform)? */
  miniProgramBound: boolean;
  /** The auto-reply the text push must get */
  link: ExpectedLink;
  /** Create the auto-reply rule through the admin API (a running stack) instead of relying on AUTO_REPLY_DEFAULT_LINK_* */
  createReplyRule: boolean;
  /** Undone at teardown, last first */
  cleanups: Array<() => Promise<void>>;
}

export const STEPS = {
  login: '1. login',
  user: '2. GET /api/user',
  unionId: '3. where the unionId comes from',
  phoneCode: '4. phone number by code',
  phoneEncrypted: '5. phone number by encryptedData',
  follow: '6. official account follow check',
  autoReply: '7. message push + auto-reply',
  duplicate: '8. duplicate push ignored',
  forged: '9. forged signature rejected',
  imageReply: '10. image reply (upload)',
  riskyText: '11. risky text caught',
  mediaVerdict: '12. image verdict arriving by push',
  wxaCode: '13. mini-program code (cached)',
  subscribe: '14. subscribe message',
  handOff: '15. hand-off to human agents',
} as const;

export const STEP_NAMES = Object.values(STEPS);

/** A 1×1 PNG: what an operator uploads once through POST /admin/media. */
const DEMO_PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

const PHONE_BY_CODE = { input: '13800138000', phoneNumber: '13800138000', purePhoneNumber: '13800138000', countryCode: '86' };
const PHONE_BY_DATA = { input: '+1 4155550100', phoneNumber: '+14155550100', purePhoneNumber: '4155550100', countryCode: '1' };

/** A value within the documented rule of each template field type (subscribeMessage.send). */
const DEMO_VALUES: Record<string, string> = {
  thing: '演示商品', character_string: 'DEMO2026', number: '1', letter: 'demo', symbol: '%', time: '15:01', date: '2026年12月3日',
  amount: '¥9.90', phone_number: '13800138000', car_number: '粤A8Z888', name: '张三', phrase: '已发货',
};

function describePush(r: PushResult): string {
  const tries = r.attempts.map(a => (a.error ? a.error : `HTTP ${a.status} ${JSON.stringify((a.body ?? '').slice(0, 120))}`));
  return `${r.attempts.length} tr${r.attempts.length === 1 ? 'y' : 'ies'}: ${tries.join('; ')}`;
}

/** Answered `success` on the first try, as WeChat needs within 5 s. */
function checkAnsweredAtOnce(what: string, r: PushResult): number {
  check(r.accepted && r.attempts.length === 1 && r.attempts[0].body === 'success',
    `${what} was not answered "success" on the first try (${describePush(r)})`);
  return r.attempts[0].elapsedMs;
}

export async function runSteps(ctx: DemoContext, report: Report): Promise<void> {
  const { app, sim, userKey, user } = ctx;
  const { backend, wx } = ctx.miniProgram;
  let loginUnionId: string | null = null;
  let textPush: { msgId: bigint; content: string } | null = null;
  const pushUrl = `${app.base}/message/check`;
  const sentToUser = () => sim.sentMessages(user.openid);

  await report.step(STEPS.login, [], async () => {
    const data = await backend.login();
    check(typeof data.token === 'string' && data.token.length >= 32, `no session token in ${JSON.stringify(data)}`);
    check(data.openId === user.openid, `openId ${data.openId}, expected the simulator's ${user.openid}`);
    check(data.isNewUser === true, 'isNewUser is not true for a user who never logged in');
    if (ctx.miniProgramBound) {
      check(data.unionId === user.unionid, `unionId ${data.unionId}, expected ${user.unionid}`);
    } else {
      check(data.unionId === null, `unionId ${data.unionId} although code2Session returns none`);
    }
    check(backend.token() === data.token, 'the client did not store the session token');
    loginUnionId = data.unionId;
    return `client.login(): wx.login, ${wx.calls.join(', ')}; openId ${data.openId}, new user, ` +
      `${data.unionId ? 'unionId returned by code2Session' : 'no unionId from code2Session'}`;
  });

  await report.step(STEPS.user, [ STEPS.login ], async () => {
    const data = await backend.getUser();
    check(data.openId === user.openid, `openId ${data.openId}, expected ${user.openid}`);
    check(data.unionId === loginUnionId, `unionId ${data.unionId}, expected ${loginUnionId}`);
    check(data.phoneNumber === null, `phoneNumber ${data.phoneNumber} for a new user`);
    // What the client never sends: a request without a session token.
    const unauthenticated = await app.call('GET', '/api/user');
    check(unauthenticated.json?.data?.error === 'UNAUTHORIZED', `without a token: ${unauthenticated.text.slice(0, 120)}`);
    return `client.getUser(): openId ${data.openId}, unionId ${data.unionId}, phone ${data.phoneNumber}; no token -> UNAUTHORIZED`;
  });

  // Where a unionId really comes from: code2Session when the mini-program is bound to an Open
  // Platform account (step 1); wx.getUserProfile data never carries one; legacy wx.getUserInfo
  // data only when bound; an unbound mini-program has none at all.
  await report.step(STEPS.unionId, [ STEPS.login ], async () => {
    await refusedWith('getUserProfile data', backend.bindUnionId(await sim.encryptedUserInfo(userKey, { api: 'getUserProfile' })), 'NO_UNIONID');
    const legacyData = await sim.encryptedUserInfo(userKey, { api: 'getUserInfo' });
    if (!ctx.miniProgramBound) {
      await refusedWith('legacy getUserInfo data of an unbound mini-program', backend.bindUnionId(legacyData), 'NO_UNIONID');
      const stored = await backend.getUser();
      check(stored.unionId === null, `GET /api/user shows unionId ${stored.unionId} for an unbound mini-program`);
      return 'mini-program not bound to the Open Platform: no unionId from login, getUserProfile or getUserInfo data (NO_UNIONID)';
    }
    const legacy = await backend.bindUnionId(legacyData);
    check(legacy.unionId === loginUnionId, `legacy getUserInfo data gave unionId ${legacy.unionId}, expected login's ${loginUnionId}`);
    const stored = await backend.getUser();
    check(stored.unionId === user.unionid, `GET /api/user shows unionId ${stored.unionId}`);
    return `unionId ${loginUnionId} from login (code2Session); client.bindUnionId(): getUserProfile data holds none (NO_UNIONID), legacy getUserInfo data agrees`;
  });

  await report.step(STEPS.phoneCode, [ STEPS.login ], async () => {
    const code = await sim.phoneCode(userKey, PHONE_BY_CODE.input);
    // The getPhoneNumber button's e.detail, code form (base library 2.21.2+)
    const data = await backend.bindPhone({ errMsg: 'getPhoneNumber:ok', code });
    for (const field of [ 'phoneNumber', 'purePhoneNumber', 'countryCode' ] as const) {
      check(data[field] === PHONE_BY_CODE[field], `${field} ${JSON.stringify(data[field])}, expected ${JSON.stringify(PHONE_BY_CODE[field])}`);
    }
    await refusedWith('reusing the code', backend.bindPhone({ errMsg: 'getPhoneNumber:ok', code }), 'WECHAT_CODE_INVALID');
    return `client.bindPhone(button detail): ${data.phoneNumber} (+${data.countryCode}) via getuserphonenumber; code reused -> WECHAT_CODE_INVALID`;
  });

  await report.step(STEPS.phoneEncrypted, [ STEPS.login ], async () => {
    const { encryptedData, iv } = await sim.encryptedPhoneNumber(userKey, PHONE_BY_DATA.input);
    const data = await backend.bindPhone({ errMsg: 'getPhoneNumber:ok', encryptedData, iv });
    for (const field of [ 'phoneNumber', 'purePhoneNumber', 'countryCode' ] as const) {
      check(data[field] === PHONE_BY_DATA[field], `${field} ${JSON.stringify(data[field])}, expected ${JSON.stringify(PHONE_BY_DATA[field])}`);
    }
    const stored = await backend.getUser();
    check(stored.phoneNumber === PHONE_BY_DATA.phoneNumber && stored.countryCode === PHONE_BY_DATA.countryCode,
      `GET /api/user then shows ${stored.phoneNumber} (+${stored.countryCode})`);
    return `client.bindPhone(button detail): ${data.phoneNumber} (+${data.countryCode}) decrypted, stored on the user`;
  });

  await report.step(STEPS.follow, [ STEPS.login, STEPS.unionId ], async () => {
    if (!ctx.miniProgramBound) {
      // The check needs the unionId that both accounts share; an unbound mini-program has none.
      await refusedWith('GET /api/subscription without a unionId', backend.isFollowingOfficialAccount(), 'NO_UNIONID');
      return 'no unionId (mini-program not bound): GET /api/subscription answers NO_UNIONID, saying where one comes from';
    }
    const before = await backend.isFollowingOfficialAccount();
    check(before === false, `before the subscribe event: subscribed ${before}`);
    const pushed = await sim.pushMessage(`${app.base}/oa/message`, { kind: 'subscribe', mode: 'safe', format: 'xml', user: userKey });
    const eventMs = checkAnsweredAtOnce('the subscribe event', pushed);

    const started = await app.ok('POST', '/admin/oa/sync', { admin: true });
    const runId = started.run?.runId;
    check(typeof runId === 'string', `POST /admin/oa/sync returned no run: ${JSON.stringify(started)}`);
    const t0 = Date.now();
    const run = await poll(async () => {
      const { run: latest } = await app.ok('GET', '/admin/oa/sync', { admin: true });
      return latest && latest.runId === runId && latest.status !== 'running' ? latest : undefined;
    }, 60_000, 300);
    check(run, `the sync ${runId} was still running after 60 s`);
    check(run.status === 'completed', `the sync ended ${run.status}: ${run.lastError}`);
    const syncMs = Date.now() - t0;

    // request() with the contract's type of the reply, to see the unionId it matched too
    const after = await backend.request<SuccessData<'getSubscription'>>('GET', '/api/subscription');
    check(after.subscribed === true, `after the subscribe event and the sync: subscribed ${after.subscribed}`);
    check(after.unionId === user.unionid, `unionId ${after.unionId}, expected ${user.unionid}`);
    return `subscribe event answered in ${formatMs(eventMs)}; sync of ${run.followersSoFar} followers done in ${formatMs(syncMs)}; subscribed false -> true`;
  });

  await report.step(STEPS.autoReply, [], async () => {
    const content = `Hello from npm run demo (${userKey})`;
    if (ctx.createReplyRule) {
      const rule = await app.ok('POST', '/admin/reply-rules', {
        admin: true,
        body: {
          name: `npm run demo ${userKey}`,
          priority: 1000,
          match: { msgType: 'text', keyword: { mode: 'exact', value: content } },
          reply: { msgtype: 'link', link: { title: ctx.link.title, description: 'Sent by the auto-reply of npm run demo', url: ctx.link.url, thumb_url: '' } },
        },
      });
      check(typeof rule.id === 'string', `POST /admin/reply-rules returned no id: ${JSON.stringify(rule)}`);
      ctx.cleanups.push(async () => {
        await app.ok('DELETE', `/admin/reply-rules/${rule.id}`, { admin: true });
      });
    }
    check((await sentToUser()).length === 0, 'the sandbox already holds messages for this new user');
    const t0 = Date.now();
    const pushed = await sim.pushMessage(pushUrl, { kind: 'text', mode: 'safe', format: 'json', user: userKey, fields: { Content: content } });
    const answerMs = checkAnsweredAtOnce('the text message', pushed);
    textPush = { msgId: pushed.request.message.MsgId as bigint, content };
    const sent = await poll(async () => {
      const messages = await sentToUser();
      return messages.length > 0 ? messages : undefined;
    }, 20_000);
    check(sent, 'no custom/send reply reached the sandbox within 20 s');
    const replyMs = Date.now() - t0;
    const [ reply ] = sent;
    check(reply.msgtype === 'link', `the reply is a ${reply.msgtype}, expected a link`);
    check(reply.body.link?.url === ctx.link.url && reply.body.link?.title === ctx.link.title,
      `the reply links to ${reply.body.link?.url} ("${reply.body.link?.title}"), expected ${ctx.link.url} ("${ctx.link.title}")`);
    return `safe-mode JSON answered "success" in ${formatMs(answerMs)}; link reply in the sandbox after ${formatMs(replyMs)}`;
  });

  await report.step(STEPS.duplicate, [ STEPS.autoReply ], async () => {
    if (!textPush) throw new StepFailure('no earlier push to repeat');
    const pushed = await sim.pushMessage(pushUrl, {
      kind: 'text', mode: 'safe', format: 'json', user: userKey, msgId: textPush.msgId, fields: { Content: textPush.content },
    });
    const answerMs = checkAnsweredAtOnce('the repeated message', pushed);
    const waitMs = 2000;
    await sleep(waitMs);
    const sent = await sentToUser();
    check(sent.length === 1, `${sent.length} replies in the sandbox after the duplicate, expected 1`);
    return `MsgId ${textPush.msgId} again: "success" in ${formatMs(answerMs)}; still 1 reply after ${formatMs(waitMs)}`;
  });

  await report.step(STEPS.forged, [], async () => {
    const channel = await sim.channel('miniProgram');
    // Signed with a token that is not the configured one: both signature and msg_signature are wrong.
    const built = buildPush({
      kind: 'text', mode: 'safe', format: 'json', user: userKey, seed: ctx.seed,
      channel: { ...channel, token: `${channel.token}-forged` }, fields: { Content: 'forged' },
    });
    const r = await deliverPush(pushUrl, built, { maxAttempts: 1 });
    check(!r.accepted, `a forged push was answered "${r.body}"`);
    let reason: unknown;
    try {
      reason = JSON.parse(r.body ?? '').data?.error;
    } catch {
      reason = undefined;
    }
    check(reason === 'SIGNATURE_INVALID', `expected SIGNATURE_INVALID, got ${describePush(r)}`);
    return `HTTP ${r.status}, SIGNATURE_INVALID`;
  });

  await report.step(STEPS.imageReply, [], async () => {
    const image = await app.ok('POST', '/admin/media', { admin: true, file: { field: 'media', filename: 'demo.png', data: DEMO_PNG } });
    check(typeof image.id === 'string' && image.format === 'png', `POST /admin/media returned ${JSON.stringify(image)}`);
    ctx.cleanups.push(async () => {
      await app.ok('DELETE', `/admin/media/${image.id}`, { admin: true });
    });
    const content = `Show me the picture (${userKey})`;
    const rule = await app.ok('POST', '/admin/reply-rules', {
      admin: true,
      body: {
        name: `npm run demo image ${userKey}`,
        priority: 1000,
        match: { msgType: 'text', keyword: { mode: 'exact', value: content } },
        reply: { msgtype: 'image', image: { mediaRef: image.id } },
      },
    });
    // Cleanups run last first: the rule goes before the image it uses.
    ctx.cleanups.push(async () => {
      await app.ok('DELETE', `/admin/reply-rules/${rule.id}`, { admin: true });
    });
    const t0 = Date.now();
    const pushed = await sim.pushMessage(pushUrl, { kind: 'text', mode: 'safe', format: 'json', user: userKey, fields: { Content: content } });
    const answerMs = checkAnsweredAtOnce('the picture request', pushed);
    const sent = await poll(async () => {
      const images = (await sentToUser()).filter(m => m.msgtype === 'image');
      return images.length > 0 ? images : undefined;
    }, 20_000);
    check(sent, 'no image reply reached the sandbox within 20 s');
    const replyMs = Date.now() - t0;
    check(typeof sent[0].body.image?.media_id === 'string', `the image reply has no media_id: ${JSON.stringify(sent[0].body)}`);
    return `image ${image.id} (${image.size} bytes) stored; "success" in ${formatMs(answerMs)}; ` +
      `uploaded to WeChat and sent as an image reply after ${formatMs(replyMs)}`;
  });

  // Content security (docs/content-security.md): the sandbox's msg_sec_check finds "赌博" risky (label 20006).
  await report.step(STEPS.riskyText, [ STEPS.login ], async () => {
    const clean = await backend.checkText('今天天气很好', 'comment');
    check(clean.suggest === 'pass' && clean.label === 100, `a harmless comment got ${JSON.stringify(clean)}`);
    const risky = await backend.checkText('周末一起去赌博吧', 'comment');
    check(risky.suggest === 'risky' && risky.label === 20006, `a comment about gambling got ${JSON.stringify(risky)}`);
    return `client.checkText(): harmless comment: pass (100); "周末一起去赌博吧": risky, label ${risky.label} (illegal), WeChat trace ${risky.traceId}`;
  });

  // An image checked asynchronously: pending until WeChat (the simulator) pushes wxa_media_check.
  await report.step(STEPS.mediaVerdict, [ STEPS.login ], async () => {
    const mediaUrl = `https://cdn.example.com/demo/${userKey}/risky-photo.png`;
    const { traceId } = await backend.checkMedia(mediaUrl, 'image', 'forum');
    check(typeof traceId === 'string', 'POST /api/security/media returned no traceId');
    const before = await backend.getMediaCheck(traceId);
    check(before.status === 'pending', `before the push the check is ${before.status}`);
    const pushed = await sim.pushMediaCheckVerdict(pushUrl, traceId, { format: 'json' });
    const answerMs = checkAnsweredAtOnce('the wxa_media_check push', pushed);
    const verdict = await poll(async () => {
      const data = await backend.getMediaCheck(traceId);
      return data.status === 'pending' ? undefined : data;
    }, 20_000);
    check(verdict, 'the verdict was not recorded within 20 s');
    check(verdict.status === 'done' && verdict.suggest === 'risky' && verdict.label === 20002, `the check reads ${JSON.stringify(verdict)}`);
    return `client.checkMedia(): trace ${traceId} pending; wxa_media_check pushed (encrypted JSON), "success" in ${formatMs(answerMs)}; ` +
      `then GET: done, risky, label ${verdict.label}`;
  });

  await report.step(STEPS.wxaCode, [], async () => {
    // A scene of this run, so that a running stack's cache cannot have it yet.
    const query = `scene=${encodeURIComponent(`u=${userKey}`)}&page=${encodeURIComponent('pages/index/index')}&width=280`;
    const callsBefore = (await sim.callCounts())['/wxa/getwxacodeunlimit'] ?? 0;
    const t0 = Date.now();
    const first = await app.bytes(`/api/wxacode?${query}`, { admin: true });
    const firstMs = Date.now() - t0;
    check(first.status === 200 && first.contentType === 'image/png', `GET /api/wxacode answered HTTP ${first.status} ${first.contentType}: ${first.data.toString('utf8').slice(0, 160)}`);
    const image = PNG.sync.read(first.data);
    const found = jsQR(new Uint8ClampedArray(image.data), image.width, image.height);
    const carried = found ? new URL(found.data).searchParams : null;
    check(carried?.get('scene') === `u=${userKey}` && carried.get('page') === 'pages/index/index', `the code carries ${found?.data ?? 'nothing readable'}`);
    const t1 = Date.now();
    const second = await app.bytes(`/api/wxacode?${query}`, { admin: true });
    const secondMs = Date.now() - t1;
    check(second.status === 200 && second.data.equals(first.data) && second.etag === first.etag, 'the second answer is not the same image');
    const calls = ((await sim.callCounts())['/wxa/getwxacodeunlimit'] ?? 0) - callsBefore;
    check(calls === 1, `WeChat's getwxacodeunlimit was called ${calls} times for two requests`);
    const bad = await app.call('GET', '/api/wxacode?scene=%E4%B8%AD', { admin: true });
    check(bad.json?.data?.error === 'INVALID_PARAM', `a Chinese scene got ${bad.text.slice(0, 120)}`);
    return `${image.width}×${image.height} PNG (${first.data.length} bytes) carrying scene u=${userKey}, ${formatMs(firstMs)}; ` +
      `again from MongoDB in ${formatMs(secondMs)}, same ETag; 1 WeChat call; a Chinese scene -> INVALID_PARAM`;
  });

  await report.step(STEPS.subscribe, [ STEPS.login ], async () => {
    const { templates } = await app.ok('GET', '/admin/subscribe-templates', { admin: true });
    const template = (templates as any[]).find(t => t.kind === 'oneTime' && t.fields.every((f: any) => DEMO_VALUES[f.type] !== undefined));
    check(template, `no one-time template with known field types among ${templates.length}`);
    const pushed = await sim.subscribePopup(pushUrl, userKey, { [template.templateId]: 'accept' }, { mode: 'safe', format: 'xml' });
    const answerMs = checkAnsweredAtOnce('the subscribe popup event', pushed);
    const granted = await poll(async () => {
      const grants = await backend.getSubscriptionGrants();
      const grant = grants.find(g => g.templateId === template.templateId);
      return grant?.oneTimeAvailable === 1 ? grant : undefined;
    }, 20_000);
    check(granted, 'the accepted template did not show up in GET /api/subscriptions/messages within 20 s');
    const body = (key: string) => ({
      openId: user.openid,
      template_id: template.templateId,
      page: 'pages/index/index',
      data: Object.fromEntries(template.fields.map((f: any) => [ f.key, { value: DEMO_VALUES[f.type] }])),
      miniprogram_state: 'developer',
      idempotencyKey: `demo-${userKey}-${key}`,
    });
    const first = await app.ok('POST', '/admin/subscribe-messages', { admin: true, body: body('first') });
    check(first.status === 'sent', `the first send is ${first.status}${first.error ? ` (${first.error} ${first.errcode})` : ''}, expected sent`);
    const delivered = (await sim.subscribeMessages(user.openid)).messages;
    check(delivered.length === 1, `${delivered.length} subscribe messages in the sandbox, expected 1`);
    const second = await app.call('POST', '/admin/subscribe-messages', { admin: true, body: body('second') });
    check(second.json?.code === 0 && second.json.data?.error === 'NO_SUBSCRIPTION_GRANT',
      `the second send was not refused with NO_SUBSCRIPTION_GRANT: ${second.text.slice(0, 200)}`);
    const after = (await sim.subscribeMessages(user.openid)).messages;
    check(after.length === 1, `${after.length} subscribe messages in the sandbox after the refused send, expected 1`);
    return `popup accept (XML, safe mode) answered in ${formatMs(answerMs)}, client.getSubscriptionGrants() shows it; "${template.title}" sent (grant used up); ` +
      'second send refused NO_SUBSCRIPTION_GRANT, nothing more delivered';
  });

  await report.step(STEPS.handOff, [], async () => {
    const content = `I want to talk to a person (${userKey})`;
    const rule = await app.ok('POST', '/admin/reply-rules', {
      admin: true,
      body: { name: `npm run demo agents ${userKey}`, priority: 1000, action: 'transfer', match: { msgType: 'text', keyword: { mode: 'exact', value: content } } },
    });
    ctx.cleanups.push(async () => {
      await app.ok('DELETE', `/admin/reply-rules/${rule.id}`, { admin: true });
    });
    const repliesBefore = (await sentToUser()).length;
    // Safe-mode XML: the transfer must come back as encrypted, signed XML, which the simulator checks as WeChat does.
    const pushed = await sim.pushMessage(pushUrl, { kind: 'text', mode: 'safe', format: 'xml', user: userKey, fields: { Content: content } });
    check(pushed.accepted && pushed.answer === 'transfer' && pushed.attempts.length === 1,
      `the message was not handed to agents on the first try (${pushed.failure ?? describePush(pushed)})`);
    const msgId = String(pushed.request.message.MsgId);
    const handed = (await sim.transferredMessages(user.openid)).filter(t => t.msgId === msgId);
    check(handed.length === 1 && handed[0].content === content, `the agents' tool holds ${handed.length} copies of the message`);
    const { messages } = await app.ok('GET', '/admin/messages?limit=20', { admin: true });
    const item = messages.find((m: any) => m.msgId === msgId);
    check(item?.status === 'done' && item.reply.state === 'transferred', `/admin/messages shows ${JSON.stringify(item?.reply)} (${item?.status})`);
    const waitMs = 1000;
    await sleep(waitMs);
    const repliesAfter = (await sentToUser()).length;
    check(repliesAfter === repliesBefore, `${repliesAfter - repliesBefore} auto-replies to a message handed to agents`);
    return `safe-mode XML answered with an encrypted transfer_customer_service in ${formatMs(pushed.attempts[0].elapsedMs)}; ` +
      `WeChat accepted it and handed the message to the agents' tool; inbox: transferred; no auto-reply after ${formatMs(waitMs)}`;
  });
}
