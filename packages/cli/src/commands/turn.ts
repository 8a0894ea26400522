/**
 * `conclave turn config [--out FILE]`: the hardened coturn configuration for this Conclave
 * installation, printed or written owner-only (it contains the TURN shared secret).
 */
import type { Config } from '@conclave/server/config/index';
import { coturnOptionsFor, renderCoturnConfig } from '@conclave/server/turn/coturn-config';
import { writeConfigFile } from '@conclave/server/turn/coturn-process';

export interface TurnCommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processIo: TurnCommandIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

const USAGE = `Usage: conclave turn config [--out FILE]

Prints the coturn configuration (turnserver.conf) for this installation: shared-secret
credentials, relaying denied to private/loopback/link-local/metadata/multicast addresses except
the media nodes, allocation quotas, no CLI, TLS 1.2+ only. With --out, writes it with mode 0600.
`;

/** Returns the process exit code: 0 done, 1 failed, 2 usage error. */
export async function runTurnCommand(
  args: string[],
  config: Config,
  io: TurnCommandIo = processIo,
): Promise<number> {
  const [subcommand, ...rest] = args;
  if (subcommand !== 'config') {
    io.stderr(USAGE);
    return subcommand === undefined || subcommand === '--help' || subcommand === 'help' ? 0 : 2;
  }
  const out = parseOut(rest);
  if (out === false) {
    io.stderr(USAGE);
    return 2;
  }
  try {
    const options = coturnOptionsFor(config);
    const text = renderCoturnConfig(options);
    if (!options.tls) io.stderr('note: no TLS certificate configured, so turns: (TLS) is disabled\n');
    if (!config.turn.enabled) io.stderr('note: turn.enabled is false: clients get no TURN servers yet\n');
    if (out === null) {
      io.stdout(text);
    } else {
      await writeConfigFile(out, text);
      io.stderr(`wrote ${out} (mode 0600: it contains the TURN shared secret)\n`);
    }
    return 0;
  } catch (err) {
    io.stderr(`conclave turn config: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

/** The --out path, null for stdout, false for anything unexpected. */
function parseOut(args: string[]): string | null | false {
  if (args.length === 0) return null;
  const [flag, value, ...extra] = args;
  if (extra.length > 0) return false;
  if (flag?.startsWith('--out=') && value === undefined) return flag.slice('--out='.length) || false;
  if (flag === '--out' && value) return value;
  return false;
}
