import { DefaultConfig } from './config.default';

// `npm run dev` (scripts/dev.ts) fills in MONGODB_URI and the WeChat variables from the
// embedded database and the sandbox when they are unset; nothing to override here.
export default () => {
  const config: DefaultConfig = {
    mongoose: {
      client: {
        // egg-bin dev compiles TypeScript while the worker loads: give the first connection room.
        options: { serverSelectionTimeoutMS: 15000 },
      },
    },
  };
  return config;
};
