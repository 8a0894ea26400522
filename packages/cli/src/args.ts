/**
 * Command-line parsing for `conclave`: positional words, command options, and the global
 * options that select the configuration (handed to the server's own config pipeline, so the
 * CLI opens exactly the store the server uses).
 */

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Global options, forwarded to loadConfig as flags. */
const CONFIG_FLAGS = new Set(['config', 'data-dir', 'database-url']);
/** Options that never take a value. */
const SWITCHES = new Set(['json', 'help', 'h']);

export interface ParsedArgs {
  words: string[];
  options: Map<string, string | true>;
  /** argv for loadConfig: --config, --data-dir, --database-url and any --dotted.key=value. */
  configArgv: string[];
}

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const parsed: ParsedArgs = { words: [], options: new Map(), configArgv: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '-h') {
      parsed.options.set('help', true);
      continue;
    }
    if (!arg.startsWith('--') || arg === '--') {
      parsed.words.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let value: string | true | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    if (SWITCHES.has(name)) {
      if (value !== undefined) throw new UsageError(`--${name} takes no value`);
      parsed.options.set(name, true);
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value`);
    }
    if (CONFIG_FLAGS.has(name) || name.includes('.')) parsed.configArgv.push(`--${name}=${value}`);
    else parsed.options.set(name, value);
  }
  return parsed;
}

/** Refuses options the command does not know, so a typo never silently does something else. */
export function expectOptions(args: ParsedArgs, allowed: readonly string[]): void {
  for (const name of args.options.keys()) {
    if (name !== 'help' && name !== 'json' && !allowed.includes(name))
      throw new UsageError(`Unknown option --${name}`);
  }
}

export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const value = args.options.get(name);
  return typeof value === 'string' ? value : undefined;
}

export function integerOption(args: ParsedArgs, name: string, min: number): number | undefined {
  const text = stringOption(args, name);
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < min || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`--${name} must be a whole number, at least ${min}`);
  }
  return Number(text);
}

export function wantsJson(args: ParsedArgs): boolean {
  return args.options.get('json') === true;
}
