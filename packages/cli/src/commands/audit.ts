/** `conclave audit ...`: read, verify and prune the hash-chained audit trail. */
import { integerOption, type ParsedArgs, wantsJson } from '../args.ts';
import type { CommandContext } from '../context.ts';
import { table } from './app.ts';

export async function auditList(ctx: CommandContext, args: ParsedArgs): Promise<number> {
  const limit = integerOption(args, 'limit', 1) ?? 50;
  const entries = await ctx.control.audit.list({ limit });
  if (wantsJson(args)) {
    ctx.stdout(`${JSON.stringify(entries, null, 2)}\n`);
    return 0;
  }
  if (entries.length === 0) {
    ctx.stdout('No audit records.\n');
    return 0;
  }
  const rows = entries.map((e) => [
    String(e.seq),
    e.at.toISOString(),
    e.actor,
    e.action,
    e.target,
    e.source,
    JSON.stringify(e.details),
  ]);
  ctx.stdout(table(['SEQ', 'TIME', 'ACTOR', 'ACTION', 'TARGET', 'SOURCE', 'DETAILS'], rows));
  return 0;
}

export async function auditVerify(ctx: CommandContext): Promise<number> {
  const result = await ctx.control.audit.verify();
  if (result.ok) {
    ctx.stdout(`Audit chain intact: ${result.checked} records verified.\n`);
    return 0;
  }
  ctx.stdout(
    `Audit chain BROKEN at record ${result.brokenSeq}: ${result.reason} (${result.checked} records before it verified).\n`,
  );
  return 1;
}

export async function auditPrune(ctx: CommandContext): Promise<number> {
  const removed = await ctx.control.audit.prune();
  const days = ctx.config.audit.retentionDays;
  ctx.stdout(`Pruned ${removed} audit records older than ${days} days; the chain stays verifiable.\n`);
  return 0;
}
