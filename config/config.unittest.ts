import { DefaultConfig } from './config.default';

// test/.setup.ts sets MONGODB_URI (embedded server unless one is given) and the fixed
// test credentials below before the app loads, so the env reader sees them.
export default () => {
  const config: DefaultConfig = {
    keys: 'unittest_keys',
    logger: {
      consoleLevel: 'NONE',
    } as any,
  };
  return config;
};
