#!/usr/bin/env node
// Regenerates the generated sections of docs/security.md from the code and the suite's results:
//
//   node --import tsx scripts/security-report.mjs [--run] [--testssl FILE]
//
// - limits: every numeric limit of packages/protocol (TOKEN_LIMITS, REST_LIMITS, SIGNALING_LIMITS)
//   and every numeric key of the config schema, with its default and bounds, and the media plane's
//   loss-recovery bounds (packet cache, NACK responder and generator, RTX restore, the share of
//   a congested downlink retransmissions may take);
// - fuzzing: fuzz/results.json (written by `npm run fuzz`): inputs, coverage, corpus, crashes;
// - adversarial cases: with --run, runs the security tests (`node scripts/run-tests.mjs
//   test/security`) and records each case's outcome and the figures the tests print; without
//   it, reuses the last run saved in fuzz/security-run.txt;
// - --testssl FILE: summarises a testssl JSON file (scripts/testssl.mjs --keep-json FILE).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const docFile = join(root, 'docs/security.md');
const runFile = join(root, 'fuzz/security-run.txt');

const { TOKEN_LIMITS } = await import(join(root, 'packages/protocol/src/tokens.ts'));
const { REST_LIMITS } = await import(join(root, 'packages/protocol/src/rest.ts'));
const { SIGNALING_LIMITS } = await import(join(root, 'packages/protocol/src/signaling-constants.ts'));
const { ConfigSchema } = await import(join(root, 'apps/server/src/config/schema.ts'));
const mediaLimitModules = {
  'packet-cache': await import(join(root, 'apps/server/src/media/worker/packet-cache.ts')),
  'nack-responder': await import(join(root, 'apps/server/src/media/worker/nack-responder.ts')),
  'nack-generator': await import(join(root, 'apps/server/src/media/worker/nack-generator.ts')),
  'publisher-rtx': await import(join(root, 'apps/server/src/media/worker/publisher-rtx.ts')),
  'retransmission-budget': await import(join(root, 'apps/server/src/media/worker/retransmission-budget.ts')),
};

function limitsTable() {
  const rows = ['| where | limit | value |', '| --- | --- | --- |'];
  for (const [name, table] of [
    ['TOKEN_LIMITS', TOKEN_LIMITS],
    ['REST_LIMITS', REST_LIMITS],
    ['SIGNALING_LIMITS', SIGNALING_LIMITS],
  ]) {
    for (const [key, value] of Object.entries(table))
      rows.push(`| protocol ${name} | \`${key}\` | ${value} |`);
  }
  for (const [module, exports] of Object.entries(mediaLimitModules)) {
    for (const [key, value] of Object.entries(exports)) {
      if (typeof value === 'number') rows.push(`| media worker/${module} | \`${key}\` | ${value} |`);
      // A table of limits (e.g. RETRANSMISSION = { share, burstMs }): one row per number.
      else if (value && typeof value === 'object' && !Array.isArray(value) && typeof value !== 'function') {
        for (const [field, number] of Object.entries(value))
          if (typeof number === 'number')
            rows.push(`| media worker/${module} | \`${key}.${field}\` | ${number} |`);
      }
    }
  }
  const walk = (node, path) => {
    if (node.type === 'object' && node.properties) {
      for (const [key, child] of Object.entries(node.properties)) walk(child, path ? `${path}.${key}` : key);
      return;
    }
    if (node.type !== 'integer' && node.type !== 'number') return;
    const bounds = [
      node.minimum !== undefined ? `min ${node.minimum}` : '',
      node.maximum !== undefined ? `max ${node.maximum}` : '',
    ]
      .filter(Boolean)
      .join(', ');
    const description = (node.description ?? '').replaceAll('|', '\\|');
    rows.push(`| config \`${path}\` | ${description} | ${node.default}${bounds ? ` (${bounds})` : ''} |`);
  };
  walk(ConfigSchema, '');
  return rows.join('\n');
}

function fuzzTable() {
  const file = join(root, 'fuzz/results.json');
  if (!existsSync(file)) return '_No fuzzing results yet: run `npm run fuzz`._';
  const results = JSON.parse(readFileSync(file, 'utf8'));
  const rows = [
    '| target | parser | inputs (jsfuzz) | seconds | coverage | corpus | crashes kept | run |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const parsers = {
    rtp: 'media/rtp/packet.ts',
    rtcp: 'media/rtp/rtcp.ts',
    vp8: 'media/rtp/codecs.ts',
    h264: 'media/rtp/h264.ts',
    nack: 'media/rtp/nack.ts',
    sdp: 'media/sdp.ts',
    signaling: 'signaling/messages.ts',
    tokens: 'control/tokens',
    config: 'config/index.ts',
  };
  for (const [target, r] of Object.entries(results).sort()) {
    rows.push(
      `| ${target} | ${parsers[target] ?? ''} | ${r.executions.toLocaleString('en')} | ${r.seconds} | ${r.coverage} | ${r.corpus} | ${r.crashes.length} | ${r.date.slice(0, 16).replace('T', ' ')} |`,
    );
  }
  return rows.join('\n');
}

function securityRun() {
  if (process.argv.includes('--run')) {
    const result = spawnSync(process.execPath, [join(root, 'scripts/run-tests.mjs'), 'test/security'], {
      cwd: root,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    writeFileSync(runFile, `# ${new Date().toISOString()}\n${result.stdout}`);
  }
  if (!existsSync(runFile)) return null;
  return readFileSync(runFile, 'utf8');
}

function casesTable(output) {
  if (!output) return '_Not run yet: `node --import tsx scripts/security-report.mjs --run`._';
  const date = output.split('\n')[0].replace('# ', '');
  // The runner repeats failing tests in a summary at the end; the table lists each case once.
  const summaryAt = output.split('\n').findIndex((l) => l.startsWith('✖ failing tests:'));
  const lines = summaryAt < 0 ? output.split('\n') : output.split('\n').slice(0, summaryAt);
  const rows = ['| case | outcome |', '| --- | --- |'];
  for (const line of lines) {
    const match = /^(\s*)([✔✖﹣])\s+(.*?)\s+\(\d+(?:\.\d+)?ms\)(.*)$/.exec(line);
    if (!match) continue;
    const [, indent, mark, name, rest] = match;
    const todo = /# (.*)$/.exec(rest)?.[1];
    const outcome = todo
      ? `todo (${mark === '✔' ? 'passes' : 'fails'}): ${todo}`
      : mark === '✔'
        ? 'pass'
        : 'FAIL';
    rows.push(`| ${indent ? '&nbsp;&nbsp;' : ''}${name.replaceAll('|', '\\|')} | ${outcome} |`);
  }
  const figures = lines.filter((l) =>
    /^(rtp|rtcp|vp8|sdp|signaling|tokens|config): \d+ inputs|^corpus |^idle:|^half-open:|^reconnect storm:|^media |^stun |^dtls:|^turn /.test(
      l,
    ),
  );
  return `Run of ${date}.\n\n${rows.join('\n')}\n\nFigures printed by the tests:\n\n\`\`\`\n${figures.join('\n')}\n\`\`\``;
}

function testsslSummary() {
  const index = process.argv.indexOf('--testssl');
  if (index < 0) return null;
  const findings = JSON.parse(readFileSync(process.argv[index + 1], 'utf8'));
  const pick = (id) => findings.find((f) => f.id === id)?.finding ?? 'n/a';
  const counts = {};
  for (const f of findings) counts[f.severity] = (counts[f.severity] ?? 0) + 1;
  const rows = ['| check | testssl finding |', '| --- | --- |'];
  for (const id of [
    'SSLv2',
    'SSLv3',
    'TLS1',
    'TLS1_1',
    'TLS1_2',
    'TLS1_3',
    'cipherlist_NULL',
    'cipherlist_aNULL',
    'cipherlist_EXPORT',
    'cipherlist_LOW',
    'cipherlist_3DES_IDEA',
    'cipherlist_AVERAGE',
    'cipherlist_STRONG',
    'PFS',
    'HSTS_time',
    'HSTS_subdomains',
    'X-Content-Type-Options',
    'X-Frame-Options',
    'heartbleed',
    'ROBOT',
    'CRIME_TLS',
    'BREACH',
    'POODLE_SSL',
    'SWEET32',
    'FREAK',
    'LOGJAM',
    'BEAST',
    'LUCKY13',
    'RC4',
    'secure_renego',
    'fallback_SCSV',
  ]) {
    rows.push(`| ${id} | ${pick(id)} |`);
  }
  return `Findings by severity: ${JSON.stringify(counts)}.\n\n${rows.join('\n')}`;
}

function replaceSection(text, name, content) {
  const start = `<!-- generated:${name}:start -->`;
  const end = `<!-- generated:${name}:end -->`;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < 0) throw new Error(`docs/security.md lacks the ${name} markers`);
  return `${text.slice(0, from + start.length)}\n${content}\n${text.slice(to)}`;
}

let doc = readFileSync(docFile, 'utf8');
doc = replaceSection(doc, 'limits', limitsTable());
doc = replaceSection(doc, 'fuzz', fuzzTable());
doc = replaceSection(doc, 'cases', casesTable(securityRun()));
const testssl = testsslSummary();
if (testssl) doc = replaceSection(doc, 'testssl', testssl);
writeFileSync(docFile, doc);
console.log('docs/security.md regenerated');
