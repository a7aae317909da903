/**
 * Runs the WeChat sandbox standalone:
 *   npm run sandbox -- [--port 9011] [--host 127.0.0.1] [--followers 25] [--token-ttl 7200]
 *                      [--no-reply-window] [--no-open-platform]
 * Prints one line with its URL and the (fake) credentials, then the env lines that point the app at it.
 */
import { ArgsError, intOption, parseArgs, strOption } from './args';
import { SANDBOX_DEFAULTS } from './defaults';
import { SandboxInputError, WechatSandbox } from './sandbox';

const USAGE = 'usage: npm run sandbox -- [--port 9011] [--host 127.0.0.1] [--followers 25] [--token-ttl 7200] [--no-reply-window] [--no-open-platform]';

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), [ 'reply-window', 'open-platform', 'help' ]);
  if (args.options.help) {
    console.log(USAGE);
    return;
  }
  if (args.positional.length > 0) throw new ArgsError(`unexpected argument "${args.positional[0]}"`);
  const openPlatformBound = args.options['open-platform'] !== false;
  const sandbox = new WechatSandbox({
    port: intOption(args, 'port', SANDBOX_DEFAULTS.port),
    host: strOption(args, 'host') ?? '127.0.0.1',
    tokenTtlSeconds: intOption(args, 'token-ttl', SANDBOX_DEFAULTS.tokenTtlSeconds, 1),
    replyWindow: args.options['reply-window'] !== false,
    miniProgram: { ...SANDBOX_DEFAULTS.miniProgram, openPlatformBound },
    officialAccount: {
      ...SANDBOX_DEFAULTS.officialAccount,
      openPlatformBound,
      followers: intOption(args, 'followers', SANDBOX_DEFAULTS.officialAccount.followers),
    },
  });
  await sandbox.start();
  const mp = sandbox.miniProgram;
  const oa = sandbox.officialAccount;
  console.log(`wechat-sandbox listening on ${sandbox.url} | miniProgram appid=${mp.appid} secret=${mp.secret} token=${mp.msgToken} aesKey=${mp.msgAesKey} originalId=${mp.originalId} | officialAccount appid=${oa.appid} secret=${oa.secret} token=${oa.msgToken} aesKey=${oa.msgAesKey} originalId=${oa.originalId} followers=${sandbox.info().officialAccount.followers}`);
  console.log([
    `WECHAT_API_BASE=${sandbox.url}`,
    `WECHAT_APPID=${mp.appid}`,
    `WECHAT_SECRET=${mp.secret}`,
    `WECHAT_MSG_TOKEN=${mp.msgToken}`,
    `WECHAT_MSG_AES_KEY=${mp.msgAesKey}`,
    `OA_APPID=${oa.appid}`,
    `OA_SECRET=${oa.secret}`,
    `OA_MSG_TOKEN=${oa.msgToken}`,
    `OA_MSG_AES_KEY=${oa.msgAesKey}`,
  ].join(' '));
  const shutdown = () => {
    sandbox.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch(err => {
  if (err instanceof ArgsError || err instanceof SandboxInputError) {
    console.error(`${err.message}\n${USAGE}`);
    process.exit(2);
  }
  console.error(`wechat-sandbox: ${(err as Error).message}`);
  process.exit(1);
});
