/**
 * Config file parsing (apps/server/src/config/index.ts, YAML or JSON via `yaml` + ajv). Contract:
 * a Config, or ConfigError with one line; never another exception, never a hang (YAML alias
 * bombs), never a polluted prototype.
 *
 * Input: the config file's bytes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../apps/server/src/config/index.ts';
import { check, expectOnly } from './contract.ts';

let workDir: string | undefined;

function configPath(): string {
  if (!workDir) {
    const dir = mkdtempSync(join(tmpdir(), 'conclave-fuzz-config-'));
    workDir = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return join(workDir, 'conclave.yaml');
}

export function fuzz(data: Buffer): void {
  const file = configPath();
  writeFileSync(file, data);
  const loaded = expectOnly(
    'loadConfig',
    () => loadConfig({ argv: ['--config', file], env: {}, cwd: workDir! }),
    (error) => error instanceof ConfigError,
  );
  check(!Object.hasOwn(Object.prototype, 'polluted'), 'Object.prototype was polluted');
  if (loaded.ok) {
    check(loaded.value.server.port >= 0 && loaded.value.server.port <= 65535, 'port in range');
    return;
  }
  check(!(loaded.error as Error).message.includes('\n    at '), 'the error carries no stack');
}
