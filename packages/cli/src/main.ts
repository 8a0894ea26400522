/** Entry point of `conclave` (packages/cli/bin/conclave.mjs and `npm run conclave -- ...`). */
import { run } from './run.ts';

process.exitCode = await run(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  cwd: process.cwd(),
});
