#!/usr/bin/env node
// Bundles the browser SDK (packages/client) into one ES module, for partners who host it
// themselves: node scripts/build-client.mjs [outfile]   (default dist/conclave.js, minified).
// The E2EE worker is embedded in it and also written as conclave-e2ee-worker.js next to it:
// host both in the same folder (the SDK starts the worker from there on its own origin).
// The server does not need this step: it builds the same bundle in memory on first request
// of /sdk/conclave.js.
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import { bundleE2eeWorker, e2eeWorkerPlugin } from '../packages/client/src/e2ee/build-plugin.mjs';

const root = new URL('..', import.meta.url).pathname;
const outfile = process.argv[2] ?? `${root}dist/conclave.js`;
const result = await build({
  entryPoints: [`${root}packages/client/src/index.ts`],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  legalComments: 'none',
  metafile: true,
  outfile,
  plugins: [e2eeWorkerPlugin({ minify: true })],
});
const workerFile = join(dirname(outfile), 'conclave-e2ee-worker.js');
await writeFile(workerFile, await bundleE2eeWorker({ minify: true }));
const inputs = Object.keys(result.metafile.inputs);
// The SDK must carry no schema library: only plain constants come from @conclave/protocol.
if (inputs.some((path) => path.includes('node_modules/typebox'))) {
  console.error('build-client: typebox ended up in the browser bundle; import constants only');
  process.exit(1);
}
console.log(`build-client: ${outfile} (${inputs.length} modules), ${workerFile}`);
