/** A small argv parser for the sandbox CLIs: positionals, `--name value`, `--flag`, `--no-flag`, repeated `--field`. */

export interface ParsedArgs {
  positional: string[];
  options: Record<string, string | boolean>;
  fields: Record<string, string>;
}

export class ArgsError extends Error {}

export function parseArgs(argv: string[], flags: readonly string[]): ParsedArgs {
  const out: ParsedArgs = { positional: [], options: {}, fields: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--') || arg === '--') {
      out.positional.push(arg);
      continue;
    }
    let name = arg.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    if (name.startsWith('no-') && flags.includes(name.slice(3))) {
      out.options[name.slice(3)] = false;
      continue;
    }
    if (flags.includes(name)) {
      out.options[name] = value === undefined ? true : value !== 'false';
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new ArgsError(`--${name} needs a value`);
      value = argv[++i];
    }
    if (name === 'field') {
      const at = value.indexOf('=');
      if (at <= 0) throw new ArgsError('--field needs Name=value');
      out.fields[value.slice(0, at)] = value.slice(at + 1);
    } else {
      out.options[name] = value;
    }
  }
  return out;
}

export function intOption(args: ParsedArgs, name: string, fallback: number, min = 0): number {
  const v = args.options[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !/^\d+$/.test(v) || Number(v) < min) throw new ArgsError(`--${name} must be an integer >= ${min}`);
  return Number(v);
}

export function strOption(args: ParsedArgs, name: string): string | undefined {
  const v = args.options[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new ArgsError(`--${name} needs a value`);
  return v;
}
