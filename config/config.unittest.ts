import { DefaultConfig } from './config.default';

// test/.setup.ts sets MONGODB_URI (embedded server unless one is given) and the fixed
// test credentials below before the app loads, so the env reader sees them.
export default () => {
  const config: DefaultConfig = {
    keys: 'unittest_keys',
    logger: {
      consoleLevel: 'NONE',
    },
    mongoose: {
      client: {
        options: {
          // Loading the app and the test files blocks the event loop for a while; leave the
          // first connection room. Fast heartbeats let outage tests see recovery quickly.
          serverSelectionTimeoutMS: 10000,
          heartbeatFrequencyMS: 1000,
        },
      },
    },
  };
  return config;
};
