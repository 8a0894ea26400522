#!/usr/bin/env node
// Transport-security check: starts the real server with a self-signed certificate on loopback,
// runs Debian's testssl (testssl.sh) against it with JSON output, and fails on any finding of
// severity MEDIUM or higher, except the ones that cannot apply to a self-signed development
// certificate (listed in EXCLUDED below and, with reasons, in docs/security.md).
//
//   node scripts/testssl.mjs [--keep-json FILE]
//
// Exit code 0: no finding at MEDIUM or above; 1: findings (printed); 2: the check could not run.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const TESTSSL = process.env.TESTSSL ?? 'testssl';
const FAILING = new Set(['MEDIUM', 'HIGH', 'CRITICAL']);
/** protocols, standard cipher categories, forward secrecy, server preference, server defaults, headers, vulnerabilities. */
const CHECKS = ['-p', '-s', '-f', '-P', '-S', '-h', '-U'];
const RUN_LIMIT_MS = Number(process.env.TESTSSL_TIMEOUT_SECONDS ?? 1500) * 1000;

/**
 * Finding ids (testssl's `id` field) that are about the certificate's place in the public PKI,
 * which a generated self-signed development certificate has by definition not got. Matched as
 * prefixes of the id (testssl suffixes ids with the certificate number, e.g. `cert_chain_of_trust <cert#1>`).
 */
export const EXCLUDED = {
  cert_chain_of_trust: 'self-signed: no chain to a public root by design',
  cert_trust: 'self-signed: the name matches but no public CA vouches for it',
  cert_caIssuers: 'self-signed: there is no issuing CA',
  cert_ocspURL: 'self-signed: no CA, so no OCSP responder',
  cert_crlDistributionPoints: 'self-signed: no CA, so no CRL',
  cert_revocation: 'self-signed: no CA, so no revocation source',
  OCSP_stapling: 'self-signed: no OCSP responder to staple from',
  cert_mustStapleExtension: 'self-signed: no OCSP responder',
  certificate_transparency: 'self-signed: CT logs only accept publicly trusted chains',
  DNS_CAArecord: 'loopback address: there is no DNS name to publish a CAA record for',
  cert_expirationStatus:
    'development certificate: 90-day lifetime is shorter than testssl expects of public ones',
};

function isExcluded(id) {
  return Object.keys(EXCLUDED).some((prefix) => id === prefix || id.startsWith(`${prefix} `));
}

function startServer(dataDir) {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(root, 'apps/server/src/main.ts'),
      '--tls-self-signed',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--log-level',
      'warn',
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CONCLAVE_LOG_LEVEL: 'warn' } },
  );
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const url = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 30_000);
    child.stdout.on('data', (d) => {
      stdout += d;
      const match = /Conclave listening on (https:\/\/\S+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}): ${stderr}`));
    });
  });
  return { child, url };
}

function runTestssl(url, jsonFile) {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    const child = spawn(
      TESTSSL,
      [
        '--quiet',
        '--color',
        '0',
        '--warnings',
        'off',
        '--nodns',
        'none',
        '--connect-timeout',
        '10',
        '--openssl-timeout',
        '10',
        '--jsonfile',
        jsonFile,
        // Every default check except client simulation (-c): testssl 3.0.8 hangs indefinitely on
        // its simulated Android 11 ClientHello against this server (observed 2026-11-24, docs/security.md).
        ...CHECKS,
        `127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'], detached: true },
    );
    // testssl is bash with many children: a hung run is ended as a whole process group.
    const timer = setTimeout(() => {
      console.error(`testssl did not finish within ${RUN_LIMIT_MS / 1000} s; stopping it`);
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }, RUN_LIMIT_MS);
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
      if (process.env.TESTSSL_VERBOSE) process.stdout.write(d);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

async function main() {
  if (spawnSync('sh', ['-c', `command -v ${TESTSSL}`]).status !== 0) {
    console.error(`${TESTSSL} is not installed (Debian package testssl.sh)`);
    process.exit(2);
  }
  const keepIndex = process.argv.indexOf('--keep-json');
  const keepJson = keepIndex > 0 ? process.argv[keepIndex + 1] : undefined;
  const work = mkdtempSync(join(tmpdir(), 'conclave-testssl-'));
  const server = startServer(join(work, 'data'));
  let exitCode = 2;
  try {
    const url = await server.url;
    const jsonFile = join(work, 'testssl.json');
    const started = Date.now();
    console.log(`testssl against ${url} ...`);
    await runTestssl(url, jsonFile);
    const findings = JSON.parse(readFileSync(jsonFile, 'utf8'));
    if (keepJson) copyFileSync(jsonFile, keepJson);
    exitCode = judge(findings, (Date.now() - started) / 1000);
  } catch (err) {
    console.error(`testssl check could not run: ${err instanceof Error ? err.message : err}`);
  } finally {
    server.child.kill('SIGTERM');
    rmSync(work, { recursive: true, force: true });
  }
  process.exit(exitCode);
}

function judge(findings, seconds) {
  // An interrupted or failed scan proves nothing: it is an error, never a pass.
  const scanProblems = findings.filter(
    (f) =>
      f.id === 'scanProblem' ||
      f.severity === 'FATAL' ||
      (f.id === 'scanTime' && /interrupt/i.test(f.finding)),
  );
  const serious = findings.filter((f) => FAILING.has(f.severity));
  const excluded = serious.filter((f) => isExcluded(f.id));
  const failing = serious.filter((f) => !isExcluded(f.id));
  const counts = {};
  for (const f of findings) counts[f.severity] = (counts[f.severity] ?? 0) + 1;
  console.log(
    `testssl: ${findings.length} findings in ${seconds.toFixed(0)} s, by severity ${JSON.stringify(counts)}`,
  );
  for (const f of excluded)
    console.log(`  excluded (${EXCLUDED[f.id.split(' ')[0]]}): ${f.id} ${f.severity} ${f.finding}`);
  for (const f of scanProblems) console.log(`  scan problem: ${f.id} ${f.finding}`);
  if (scanProblems.length > 0) return 2;
  if (failing.length === 0) {
    console.log('testssl: no finding of severity MEDIUM or higher');
    return 0;
  }
  for (const f of failing) console.log(`  FAIL ${f.severity} ${f.id}: ${f.finding}`);
  return 1;
}

main();
