/**
 * What the test environment has. A test that needs a component the machine lacks is skipped
 * locally with a reason, but fails when CI is set: a silent skip in CI hides a missing install.
 */
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

export const inCI = process.env.CI === 'true' || process.env.CI === '1';

/** PostgreSQL URL for store tests (CONCLAVE_TEST_PG_URL overrides; the machine runs one at :5432). */
export const testPgUrl = process.env.CONCLAVE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export function hasCommand(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Returns true when the component is there. Otherwise skips the test (locally) or throws (CI).
 */
export function requireComponent(t: TestContext, name: string, present: boolean): boolean {
  if (present) return true;
  if (inCI) throw new Error(`${name} is required in CI but is missing`);
  t.skip(`${name} is not available on this machine`);
  return false;
}
