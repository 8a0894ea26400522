#!/usr/bin/env node
// Bundles the browser SDK (packages/client) into one ES module, for partners who host it
// themselves: node scripts/build-client.mjs [outfile]   (default dist/conclave.js, minified).
// The server does not need this step: it builds the same bundle in memory on first request
// of /sdk/conclave.js.
import { build } from 'esbuild';

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
});
const inputs = Object.keys(result.metafile.inputs);
// The SDK must carry no schema library: only plain constants come from @conclave/protocol.
if (inputs.some((path) => path.includes('node_modules/typebox'))) {
  console.error('build-client: typebox ended up in the browser bundle; import constants only');
  process.exit(1);
}
console.log(`build-client: ${outfile} (${inputs.length} modules)`);
