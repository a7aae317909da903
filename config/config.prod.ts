import { DefaultConfig } from './config.default';
import { missingProductionVariables } from './env';

export default () => {
  const missing = missingProductionVariables();
  if (missing.length > 0) {
    // One line naming every missing variable: egg-scripts prints it and start-up fails.
    throw new Error(`[config] missing required environment variables: ${missing.join(', ')} (see README, Configuration)`);
  }
  const config: DefaultConfig = {
    backend: {
      databaseIndexes: { failStartup: true },
    },
    logger: {
      level: 'INFO',
      consoleLevel: 'WARN',
    },
  };
  return config;
};
