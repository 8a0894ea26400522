// How the E2EE worker gets into the SDK bundle. The worker (worker.ts) is bundled on its own
// as a classic worker script; the SDK imports it as a string from the virtual module
// 'conclave:e2ee-worker-source' (for Blob URLs), and the same text is served or written as
// conclave-e2ee-worker.js next to the SDK. Plain JavaScript so that both the server (through
// tsx) and scripts/build-client.mjs (plain node) can use it.
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const E2EE_WORKER_ENTRY = fileURLToPath(new URL('./worker.ts', import.meta.url));
const VIRTUAL_MODULE = /^conclave:e2ee-worker-source$/;

/** The worker script as text. */
export async function bundleE2eeWorker(options = {}) {
  const result = await build({
    entryPoints: [E2EE_WORKER_ENTRY],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    minify: options.minify ?? false,
    sourcemap: false,
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const file = result.outputFiles[0];
  if (!file) throw new Error('esbuild produced no output for the E2EE worker');
  return file.text;
}

/** esbuild plugin resolving 'conclave:e2ee-worker-source' to the worker script as a string. */
export function e2eeWorkerPlugin(options = {}) {
  return {
    name: 'conclave-e2ee-worker',
    setup(pluginBuild) {
      pluginBuild.onResolve({ filter: VIRTUAL_MODULE }, (args) => ({
        path: args.path,
        namespace: 'conclave-e2ee-worker',
      }));
      pluginBuild.onLoad({ filter: /.*/, namespace: 'conclave-e2ee-worker' }, async () => ({
        contents: `export default ${JSON.stringify(await bundleE2eeWorker(options))};`,
        loader: 'js',
      }));
    },
  };
}
