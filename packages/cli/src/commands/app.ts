/** `conclave app ...`: applications (tenants) and their credentials. */
import { readFile } from 'node:fs/promises';
import type { Application, ApplicationCredentials } from '@conclave/server/control/types';
import { integerOption, type ParsedArgs, stringOption, UsageError, wantsJson } from '../args.ts';
import type { CommandContext } from '../context.ts';

const SECRET_WARNING =
  'The API secret is shown only this once. Store it in your back-end now; it cannot be retrieved later.';

export async function appCreate(ctx: CommandContext, args: ParsedArgs, name: string): Promise<number> {
  const credentials = await ctx.control.apps.create(name, ctx.actor);
  printCredentials(ctx, args, credentials, `Application ${name} created.`);
  return 0;
}

export async function appList(ctx: CommandContext, args: ParsedArgs): Promise<number> {
  const apps = await ctx.control.apps.list();
  if (wantsJson(args)) {
    ctx.stdout(`${JSON.stringify(apps.map(toJson), null, 2)}\n`);
    return 0;
  }
  if (apps.length === 0) {
    ctx.stdout('No applications. Create one with: conclave app create NAME\n');
    return 0;
  }
  const rows = apps.map((app) => [
    app.name,
    app.appId,
    app.apiKey,
    app.publicKey ? app.publicKey.algorithm : 'HS256 (secret)',
    app.createdAt.toISOString(),
  ]);
  ctx.stdout(table(['NAME', 'APP ID', 'API KEY', 'TOKEN KEY', 'CREATED'], rows));
  return 0;
}

export async function appRotateSecret(ctx: CommandContext, args: ParsedArgs, ref: string): Promise<number> {
  const overlap = integerOption(args, 'overlap', 0) ?? ctx.config.secrets.rotationOverlapSeconds;
  const credentials = await ctx.control.apps.rotateSecret(ref, ctx.actor, overlap);
  const validUntil = new Date(Date.now() + overlap * 1000).toISOString();
  if (wantsJson(args)) {
    ctx.stdout(`${JSON.stringify({ ...credentials, previousSecretValidUntil: validUntil })}\n`);
    ctx.stderr(`${SECRET_WARNING}\n`);
    return 0;
  }
  printCredentials(ctx, args, credentials, 'New API secret created.');
  ctx.stdout(
    overlap === 0
      ? 'The previous secret no longer works.\n'
      : `The previous secret keeps working until ${validUntil}.\n`,
  );
  return 0;
}

export async function appDelete(ctx: CommandContext, _args: ParsedArgs, ref: string): Promise<number> {
  const app = await ctx.control.apps.find(ref);
  await ctx.control.apps.delete(ref, ctx.actor);
  ctx.stdout(
    `Deleted application ${app?.name ?? ref} (${app?.appId ?? ref}) with its secrets and sessions.\n`,
  );
  return 0;
}

export async function appSetPublicKey(ctx: CommandContext, args: ParsedArgs, ref: string): Promise<number> {
  const file = stringOption(args, 'file');
  if (!file) throw new UsageError('app set-public-key needs --file PEM');
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch {
    throw new UsageError(`Cannot read ${file}`);
  }
  const app = await ctx.control.apps.setPublicKey(ref, pem, ctx.actor);
  if (wantsJson(args)) {
    ctx.stdout(`${JSON.stringify(toJson(app))}\n`);
    return 0;
  }
  ctx.stdout(
    `Registered a ${app.publicKey?.algorithm} public key for ${app.name}. Tokens must now be signed with the matching private key; the API secret no longer verifies tokens.\n`,
  );
  return 0;
}

function printCredentials(
  ctx: CommandContext,
  args: ParsedArgs,
  credentials: ApplicationCredentials,
  title: string,
): void {
  if (wantsJson(args)) {
    const { appId, apiKey, apiSecret } = credentials;
    ctx.stdout(`${JSON.stringify({ appId, apiKey, apiSecret })}\n`);
  } else {
    ctx.stdout(
      [
        title,
        `  App ID:     ${credentials.appId}`,
        `  API key:    ${credentials.apiKey}`,
        `  API secret: ${credentials.apiSecret}`,
        '',
      ].join('\n'),
    );
  }
  // On stderr, so `--json` output stays machine-readable.
  ctx.stderr(`${SECRET_WARNING}\n`);
}

function toJson(app: Application) {
  return {
    appId: app.appId,
    name: app.name,
    apiKey: app.apiKey,
    createdAt: app.createdAt.toISOString(),
    publicKeyAlgorithm: app.publicKey?.algorithm ?? null,
  };
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}
