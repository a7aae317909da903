/**
 * The simulator from the command line, against a running sandbox (npm run sandbox):
 *   npm run simulate -- <command> [args] [--sandbox http://127.0.0.1:9011]
 * Prints JSON. See USAGE.
 */
import { ArgsError, intOption, parseArgs, ParsedArgs, strOption } from './args';
import { SANDBOX_DEFAULTS } from './defaults';
import { PushBuildError, PushChannel, PushFormat, PushKind, PushMode, PushResult, PUSH_KINDS, SUBSCRIBE_MESSAGE_KINDS } from './push';
import { AccountKind, UserInfoApi } from './sandbox';
import { SimulatorError, WechatSimulator } from './simulator';

/** Kinds `push` builds alone; subscribe events need the user's choice (subscribe-popup and the like). */
const PLAIN_PUSH_KINDS = PUSH_KINDS.filter(kind => !(SUBSCRIBE_MESSAGE_KINDS as readonly PushKind[]).includes(kind));

const USAGE = `usage: npm run simulate -- <command> [args] [options]
client side (mini-program):
  login <user>                         a login code (and the user's openid/unionid)
  phone-code <user> [phone]            a getPhoneNumber code for /wxa/business/getuserphonenumber
  user-info <user> [--api getUserInfo] encryptedData + iv of the user's profile (current session_key):
                                       getUserProfile (default) holds no openId/unionId; legacy getUserInfo
                                       holds the openId, and the unionId only if the app is bound
  phone-data <user> [phone]            encryptedData + iv of the old phone flow
  follow <user> | unfollow <user>      change the official-account follower state (no push)
WeChat-server side (message push to your backend):
  verify <backendUrl>                  GET echostr verification
  push-text <backendUrl> <text>        a text message
  push <backendUrl> <kind>             kind: ${PLAIN_PUSH_KINDS.join(', ')}
  enter <backendUrl> <user>            user_enter_tempsession event (--session-from)
  subscribe <backendUrl> <user>        official-account subscribe event (XML)
  unsubscribe <backendUrl> <user>      official-account unsubscribe event (XML)
  subscribe-popup <backendUrl> <user> <templateId>[=accept|reject]...
                                       the user answers the subscribe popup: subscribe_msg_popup_event
  subscribe-change <backendUrl> <user> <templateId> <accept|reject>
                                       a settings change: subscribe_msg_change_event
  subscribe-sent <backendUrl> <user> <msgId>...
                                       delivered subscribe messages: subscribe_msg_sent_event
  media-verdict <backendUrl> <traceId> the wxa_media_check verdict of a media check your backend asked for
sandbox:
  messages [--touser openid]           messages your backend sent with custom/send
  media-checks                         media checks your backend asked for (media_check_async)
  subscribe-templates                  the mini-program's subscribe-message templates
  subscribe-messages [--touser openid] subscribe messages your backend sent (msgId, miniprogram_state)
options:
  --sandbox <url>       default http://127.0.0.1:${SANDBOX_DEFAULTS.port}
  --user <key>          push-text/push: the simulated user (default sandbox-user)
  --mode plaintext|compatible|safe     default safe (the sandbox's accounts have an EncodingAESKey)
  --format json|xml                    default xml
  --channel miniProgram|officialAccount
  --field Name=value    override or add a message field (repeatable)
  --msg-id <digits>     64-bit MsgId
  --timeout <ms>        per try, default 5000; --attempts <n> default 3`;

function need(args: ParsedArgs, index: number, what: string): string {
  const v = args.positional[index];
  if (v === undefined || v === '') throw new ArgsError(`missing ${what}`);
  return v;
}

function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], name: string): T | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T)) throw new ArgsError(`--${name} must be one of ${allowed.join(', ')}`);
  return value as T;
}

async function run(argv: string[]): Promise<unknown> {
  const args = parseArgs(argv, [ 'help' ]);
  const command = args.positional[0];
  if (!command || args.options.help) return USAGE;
  const sim = new WechatSimulator(strOption(args, 'sandbox') ?? `http://127.0.0.1:${SANDBOX_DEFAULTS.port}`);
  const channelOpt = oneOf(strOption(args, 'channel'), [ 'miniProgram', 'officialAccount' ] as const, 'channel');
  const pushOptions = () => ({
    mode: oneOf(strOption(args, 'mode'), [ 'plaintext', 'compatible', 'safe' ] as PushMode[], 'mode'),
    format: oneOf(strOption(args, 'format'), [ 'json', 'xml' ] as PushFormat[], 'format'),
    timeoutMs: intOption(args, 'timeout', 5000, 1),
    maxAttempts: intOption(args, 'attempts', 3, 1),
  });
  const pushed = (r: PushResult) => ({
    accepted: r.accepted,
    ...(r.answer ? { answer: r.answer } : {}),
    ...(r.failure ? { failure: r.failure } : {}),
    ...(r.shownToUser ? { shownToUser: r.shownToUser } : {}),
    attempts: r.attempts,
    url: r.url,
    contentType: r.request.contentType,
    body: r.request.body,
    plaintext: r.request.plaintext,
  });
  const push = async (backendUrl: string, kind: PushKind, user: string, fields: Record<string, string>) => {
    const channel: PushChannel | AccountKind | undefined = channelOpt;
    return pushed(await sim.pushMessage(backendUrl, {
      ...pushOptions(),
      kind,
      user,
      channel,
      // CreateTime is a number in WeChat's messages; MsgId digits are handled by the builder.
      fields: Object.fromEntries(Object.entries({ ...fields, ...args.fields })
        .map(([ k, v ]) => [ k, k === 'CreateTime' && /^\d+$/.test(v) ? Number(v) : v ])),
      msgId: strOption(args, 'msg-id'),
    }));
  };
  switch (command) {
    case 'login': {
      const user = need(args, 1, '<user>');
      const code = await sim.login(user);
      const info = await sim.createUser(user);
      return { code, openid: info.openid, unionid: info.unionid };
    }
    case 'phone-code':
      return { code: await sim.phoneCode(need(args, 1, '<user>'), args.positional[2]) };
    case 'user-info':
      return sim.encryptedUserInfo(need(args, 1, '<user>'), { api: oneOf<UserInfoApi>(strOption(args, 'api'), [ 'getUserProfile', 'getUserInfo' ], 'api') });
    case 'phone-data':
      return sim.encryptedPhoneNumber(need(args, 1, '<user>'), args.positional[2]);
    case 'follow':
    case 'unfollow':
      return sim.setFollower(need(args, 1, '<user>'), command === 'follow');
    case 'verify':
      return sim.verifyUrl(need(args, 1, '<backendUrl>'), channelOpt ?? 'miniProgram', { timeoutMs: intOption(args, 'timeout', 5000, 1) });
    case 'push-text':
      return push(need(args, 1, '<backendUrl>'), 'text', strOption(args, 'user') ?? 'sandbox-user', { Content: need(args, 2, '<text>') });
    case 'push': {
      const kind = oneOf(need(args, 2, '<kind>'), PLAIN_PUSH_KINDS, 'kind') as PushKind;
      return push(need(args, 1, '<backendUrl>'), kind, strOption(args, 'user') ?? 'sandbox-user', {});
    }
    case 'enter': {
      const from = strOption(args, 'session-from');
      return push(need(args, 1, '<backendUrl>'), 'user_enter_tempsession', need(args, 2, '<user>'), from === undefined ? {} : { SessionFrom: from });
    }
    case 'subscribe':
    case 'unsubscribe':
      return push(need(args, 1, '<backendUrl>'), command, need(args, 2, '<user>'), {});
    case 'media-verdict': {
      const r = await sim.pushMediaCheckVerdict(need(args, 1, '<backendUrl>'), need(args, 2, '<traceId>'), {
        mode: oneOf(strOption(args, 'mode'), [ 'plaintext', 'compatible', 'safe' ] as PushMode[], 'mode'),
        format: oneOf(strOption(args, 'format'), [ 'json', 'xml' ] as PushFormat[], 'format'),
      });
      return { accepted: r.accepted, attempts: r.attempts, plaintext: r.request.plaintext };
    }
    case 'media-checks':
      return sim.mediaChecks();
    case 'messages':
      return sim.sentMessages(strOption(args, 'touser'));
    case 'subscribe-templates':
      return sim.subscribeTemplates();
    case 'subscribe-messages':
      return sim.subscribeMessages(strOption(args, 'touser'));
    case 'subscribe-popup': {
      const choices = Object.fromEntries(args.positional.slice(3).map(arg => {
        const [ id, choice = 'accept' ] = arg.split('=');
        return [ id, oneOf(choice, [ 'accept', 'reject' ] as const, 'choice') as 'accept' | 'reject' ];
      }));
      if (Object.keys(choices).length === 0) throw new ArgsError('missing <templateId>');
      return pushed(await sim.subscribePopup(need(args, 1, '<backendUrl>'), need(args, 2, '<user>'), choices, pushOptions()));
    }
    case 'subscribe-change': {
      const choice = oneOf(need(args, 4, '<accept|reject>'), [ 'accept', 'reject' ] as const, 'choice') as 'accept' | 'reject';
      return pushed(await sim.subscribeChange(need(args, 1, '<backendUrl>'), need(args, 2, '<user>'), need(args, 3, '<templateId>'), choice, pushOptions()));
    }
    case 'subscribe-sent':
      need(args, 3, '<msgId>');
      return pushed(await sim.subscribeSent(need(args, 1, '<backendUrl>'), need(args, 2, '<user>'), args.positional.slice(3), pushOptions()));
    default:
      throw new ArgsError(`unknown command "${command}"`);
  }
}

run(process.argv.slice(2)).then(out => {
  console.log(typeof out === 'string' ? out : JSON.stringify(out, null, 2));
}, err => {
  if (err instanceof ArgsError || err instanceof PushBuildError) {
    console.error(`${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  console.error(err instanceof SimulatorError ? err.message : `simulate: ${(err as Error).message}`);
  process.exit(1);
});
