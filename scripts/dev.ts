/**
 * `npm run dev`: the whole backend on one machine with nothing else installed.
 * Every environment variable is honoured; only what is unset falls back to an embedded default:
 * - MONGODB_URI unset     -> the embedded MongoDB-compatible server (data kept in .data/mongo)
 * - WECHAT_API_BASE unset -> the offline WeChat sandbox, with its appid, secret, push token and key
 * - HOST unset            -> 127.0.0.1 (this machine only)
 * - ADMIN_TOKEN unset     -> a random token for this run, printed in the banner
 * Then egg-bin dev runs the app (TypeScript, reload on change) and a banner says what to try.
 */
import path from 'node:path';
import { EmbeddedMongoServer } from '../tools/embedded-mongo';
import { SANDBOX_DEFAULTS, WechatSandbox } from '../tools/wechat-sandbox';
import { DEV_DEFAULTS, devListenSettings, localUrl, ROOT, setIfUnset, spawnEggDev, Stoppable, waitForHealth } from './stack';

async function main() {
  const env = { ...process.env };
  const started: Stoppable[] = [];
  const port = Number(env.PORT || DEV_DEFAULTS.appPort);
  const notes: string[] = [];

  if (!env.MONGODB_URI) {
    const mongo = new EmbeddedMongoServer({
      port: Number(env.EMBEDDED_MONGO_PORT || DEV_DEFAULTS.embeddedMongoPort),
      dbpath: path.join(ROOT, '.data/mongo'),
    });
    await mongo.start();
    started.push(mongo);
    env.MONGODB_URI = `${mongo.uri}/miniprogram`;
    notes.push(`MongoDB      ${mongo.uri} (embedded, data in .data/mongo)`);
  } else {
    notes.push('MongoDB      from MONGODB_URI');
  }

  if (!env.WECHAT_API_BASE) {
    const mp = SANDBOX_DEFAULTS.miniProgram;
    const oa = SANDBOX_DEFAULTS.officialAccount;
    setIfUnset(env, 'WECHAT_APPID', mp.appid);
    setIfUnset(env, 'WECHAT_SECRET', mp.secret);
    setIfUnset(env, 'WECHAT_MSG_TOKEN', mp.msgToken);
    setIfUnset(env, 'WECHAT_MSG_AES_KEY', mp.msgAesKey);
    setIfUnset(env, 'OA_APPID', oa.appid);
    setIfUnset(env, 'OA_SECRET', oa.secret);
    setIfUnset(env, 'OA_MSG_TOKEN', oa.msgToken);
    setIfUnset(env, 'OA_MSG_AES_KEY', oa.msgAesKey);
    const sandbox = new WechatSandbox({
      port: Number(env.SANDBOX_PORT || SANDBOX_DEFAULTS.port),
      miniProgram: {
        ...mp,
        appid: env.WECHAT_APPID!, secret: env.WECHAT_SECRET!, msgToken: env.WECHAT_MSG_TOKEN!, msgAesKey: env.WECHAT_MSG_AES_KEY!,
      },
      officialAccount: {
        ...oa,
        followers: Number(env.SANDBOX_FOLLOWERS || DEV_DEFAULTS.followers),
        appid: env.OA_APPID!, secret: env.OA_SECRET!, msgToken: env.OA_MSG_TOKEN!, msgAesKey: env.OA_MSG_AES_KEY!,
      },
    });
    await sandbox.start();
    started.push(sandbox);
    env.WECHAT_API_BASE = sandbox.url;
    notes.push(`WeChat API   ${sandbox.url} (offline sandbox, appid ${env.WECHAT_APPID})`);
  } else {
    notes.push(`WeChat API   ${env.WECHAT_API_BASE}`);
  }
  const { host, adminToken } = devListenSettings(env);
  env.HOST = host;
  env.ADMIN_TOKEN = adminToken;

  // TS_NODE_TRANSPILE_ONLY=true unless set (see spawnEggDev).
  const child = spawnEggDev(port, env);

  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    if (child.exitCode === null) child.kill('SIGTERM');
    for (const service of started.reverse()) await service.stop().catch(() => undefined);
    process.exit(code);
  };
  process.on('SIGINT', () => stopAll(0));
  process.on('SIGTERM', () => stopAll(0));
  child.on('exit', code => stopAll(code ?? 0));

  const base = localUrl(host, port);
  if (await waitForHealth(`${base}/health`, 120000)) {
    const sandbox = env.WECHAT_API_BASE;
    console.log([
      '',
      '  WeChat mini-program backend is running',
      `  API          ${base}${host === DEV_DEFAULTS.host ? ' (this machine only; HOST=0.0.0.0 to open it)' : ` (listening on ${host})`}`,
      ...notes.map(line => `  ${line}`),
      `  Admin token  ${env.ADMIN_TOKEN}${process.env.ADMIN_TOKEN ? '' : ' (random for this run; set ADMIN_TOKEN to choose one)'}`,
      '',
      '  Try:',
      `    curl ${base}/health`,
      `    curl -X POST ${base}/api/login -H 'content-type: application/json' \\`,
      `      -d "{\\"code\\":\\"$(npm run -s simulate -- login alice --sandbox ${sandbox} | node -pe 'JSON.parse(require(\"fs\").readFileSync(0)).code')\\"}"`,
      `    npm run simulate -- push-text ${base}/message/check 'hello' --mode safe --format json --sandbox ${sandbox}`,
      '',
    ].join('\n'));
  }
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
