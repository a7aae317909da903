import { EggPlugin } from 'egg';

const plugin: EggPlugin = {
  mongoose: {
    enable: true,
    package: 'egg-mongoose',
  },
  // Nothing renders pages or serves files: keep the surface small.
  static: false,
  view: false,
  i18n: false,
  session: false,
};

export default plugin;
