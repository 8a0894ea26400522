/**
 * `conclave`: dispatches a command line to its handler. Expected failures (bad usage, unknown
 * application, refused key file...) end with a one-line message and a non-zero exit code, never
 * a stack trace; nothing here prints a secret except the one-time display of a new one.
 */
import { userInfo } from 'node:os';
import { ConclaveError } from '@conclave/protocol/errors';
import type { Actor } from '@conclave/server/control/types';
import { expectOptions, type ParsedArgs, parseArgs, UsageError } from './args.ts';
import { appCreate, appDelete, appList, appRotateSecret, appSetPublicKey } from './commands/app.ts';
import { auditList, auditPrune, auditVerify } from './commands/audit.ts';
import type { CommandContext } from './context.ts';
import { HELP } from './help.ts';

interface Command {
  /** Names of the positional arguments, for the usage error. */
  operands: string[];
  options: string[];
  handler: (ctx: CommandContext, args: ParsedArgs, ...operands: string[]) => Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  'app create': { operands: ['NAME'], options: [], handler: appCreate },
  'app list': { operands: [], options: [], handler: appList },
  'app rotate-secret': { operands: ['REF'], options: ['overlap'], handler: appRotateSecret },
  'app delete': { operands: ['REF'], options: [], handler: appDelete },
  'app set-public-key': { operands: ['REF'], options: ['file'], handler: appSetPublicKey },
  'audit list': { operands: [], options: ['limit'], handler: auditList },
  'audit verify': { operands: [], options: [], handler: auditVerify },
  'audit prune': { operands: [], options: [], handler: auditPrune },
};

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
}

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    return await dispatch(parseArgs(argv), io);
  } catch (err) {
    io.stderr(`conclave: ${describe(err)}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
}

async function dispatch(args: ParsedArgs, io: CliIo): Promise<number> {
  const [group, verb, ...operands] = args.words;
  if (group === undefined || group === 'help') {
    io.stdout(`${HELP[[verb, operands[0]].filter(Boolean).join(' ')] ?? HELP.main}\n`);
    return group === undefined && !args.options.has('help') ? 2 : 0;
  }
  if (group === 'turn') return turn(args, io);
  const name = verb === undefined ? group : `${group} ${verb}`;
  const command = COMMANDS[name];
  if (args.options.has('help')) {
    const text = HELP[name] ?? HELP[group];
    if (!text) throw new UsageError(`Unknown command '${name}'. Run 'conclave help'.`);
    io.stdout(`${text}\n`);
    return 0;
  }
  if (!command) {
    throw new UsageError(
      HELP[group]
        ? `Unknown command '${name}'. Run 'conclave ${group} --help'.`
        : `Unknown command '${name}'. Run 'conclave help'.`,
    );
  }
  if (operands.length !== command.operands.length) {
    throw new UsageError(`Usage: conclave ${name} ${command.operands.join(' ')}`.trimEnd());
  }
  expectOptions(args, command.options);
  return withControlPlane(args, io, (ctx) => command.handler(ctx, args, ...operands));
}

async function withControlPlane(
  args: ParsedArgs,
  io: CliIo,
  work: (ctx: CommandContext) => Promise<number>,
): Promise<number> {
  // Loaded only when a command needs the store: help and usage errors answer at once.
  const { loadConfig } = await import('@conclave/server/config/index');
  const { openControlPlane } = await import('@conclave/server/control/index');
  const config = loadConfig({ argv: args.configArgv, env: io.env, cwd: io.cwd });
  const control = await openControlPlane(config, { env: io.env, auditPruneIntervalMs: 0 });
  try {
    return await work({ control, config, actor: operator(), stdout: io.stdout, stderr: io.stderr });
  } finally {
    await control.close();
  }
}

/** `conclave turn config [--out FILE]` (commands/turn.ts): needs the configuration, not the store. */
async function turn(args: ParsedArgs, io: CliIo): Promise<number> {
  expectOptions(args, ['out']);
  const out = args.options.get('out');
  const rest = [
    ...args.words.slice(1),
    ...(typeof out === 'string' ? ['--out', out] : []),
    ...(args.options.has('help') ? ['--help'] : []),
  ];
  const { loadConfig } = await import('@conclave/server/config/index');
  const { runTurnCommand } = await import('./commands/turn.ts');
  const config = loadConfig({ argv: args.configArgv, env: io.env, cwd: io.cwd });
  return runTurnCommand(rest, config, io);
}

/** CLI actions are audited as the operating-system user who ran them. */
function operator(): Actor {
  let name: string;
  try {
    name = userInfo().username;
  } catch {
    // No passwd entry (some containers): the numeric uid still identifies the account.
    name = `uid:${process.getuid?.() ?? 'unknown'}`;
  }
  return { id: `cli:${name}`, source: 'local' };
}

/** Errors an operator can act on from their message alone (matched by name: loaded lazily). */
const EXPECTED_ERRORS = new Set(['UsageError', 'ConclaveError', 'ConfigError', 'MasterKeyError']);

function describe(err: unknown): string {
  if (err instanceof ConclaveError || (err instanceof Error && EXPECTED_ERRORS.has(err.name))) {
    return err.message;
  }
  // Unexpected: still one line (a database error, a permission problem); its message names
  // the cause without dumping internals.
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
