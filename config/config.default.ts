import { EggAppConfig, EggAppInfo, PowerPartial } from 'egg';
import { readEnv, EnvSettings, WechatAppSettings } from './env';

/** This application's own settings, typed; egg's are in EggAppConfig. */
export interface BizConfig {
  wechat: EnvSettings['wechat'] & {
    /** Timeout of every call to WeChat's API, in milliseconds */
    httpTimeoutMs: number;
  };
  officialAccount: WechatAppSettings;
  admin: { token: string };
  session: { ttlSeconds: number };
}

export type DefaultConfig = PowerPartial<EggAppConfig & BizConfig>;

export default (appInfo: EggAppInfo) => {
  const env = readEnv();
  const config = {} as PowerPartial<EggAppConfig>;

  // Overridden by EGG_KEYS; production refuses to start without it (config.prod.ts).
  config.keys = env.eggKeys || `${appInfo.name}_dev_keys`;

  // Outermost, so that it also sees body-parser failures (see app.ts).
  config.middleware = [];

  config.cluster = { listen: { port: env.port } } as any;

  // The API authenticates with bearer tokens, never cookies, and WeChat's servers cannot
  // send a CSRF token: CSRF protection has nothing to protect here and would block them.
  config.security = {
    csrf: { enable: false },
  };

  config.bodyParser = {
    enable: true,
    encoding: 'utf8',
    jsonLimit: '64kb',
    formLimit: '16kb',
    textLimit: '64kb',
    strict: true,
    // WeChat pushes XML; it is parsed later by app/lib, without entity expansion.
    enableTypes: [ 'json', 'form', 'text' ],
    extendTypes: {
      text: [ 'text/xml', 'application/xml' ],
    },
  } as any;

  config.mongoose = {
    client: {
      url: env.mongodbUri,
      options: {
        // Fail a request (and start-up) within seconds when MongoDB is unreachable,
        // instead of the driver's 30 s default.
        serverSelectionTimeoutMS: 5000,
        maxPoolSize: 20,
      },
    },
  } as any;

  config.validate = {
    convert: false,
    widelyUndefined: false,
  } as any;

  config.onerror = {
    // The error middleware answers every API failure; this only covers what escapes it.
    accepts: () => 'json',
  } as any;

  const bizConfig: BizConfig = {
    wechat: {
      ...env.wechat,
      httpTimeoutMs: 5000,
    },
    officialAccount: env.officialAccount,
    admin: { token: env.adminToken },
    session: { ttlSeconds: env.sessionTtlSeconds },
  };

  return {
    ...(config as {}),
    ...bizConfig,
  };
};
