/**
 * Builds browser bundles in memory with esbuild, once, on first request: the SDK
 * (/sdk/conclave.js, with the E2EE worker embedded), the E2EE worker on its own
 * (/sdk/conclave-e2ee-worker.js) and the demo page's script. A clean checkout needs no build step, and a
 * server that never serves them never pays for the build.
 */
import { fileURLToPath } from 'node:url';
import { bundleE2eeWorker, e2eeWorkerPlugin } from '@conclave/client/e2ee/build-plugin';
import { build } from 'esbuild';

export const SDK_ENTRY = fileURLToPath(new URL('../../../../packages/client/src/index.ts', import.meta.url));
export const DEMO_ENTRY = fileURLToPath(new URL('./public/demo.ts', import.meta.url));

/** Bundles one entry point to a single ES module (no typebox: the SDK imports only constants). */
export async function bundleBrowserModule(
  entry: string,
  options: { minify?: boolean } = {},
): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: options.minify ?? false,
    sourcemap: false,
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
    plugins: [e2eeWorkerPlugin({ minify: options.minify ?? false })],
  });
  const file = result.outputFiles[0];
  if (!file) throw new Error(`esbuild produced no output for ${entry}`);
  return file.text;
}

/** A lazily built, cached bundle; a failed build is retried on the next request. */
export function lazyBundle(entry: string): () => Promise<string> {
  return lazily(() => bundleBrowserModule(entry));
}

/** The E2EE worker script, lazily built and cached. */
export function lazyE2eeWorker(): () => Promise<string> {
  return lazily(() => bundleE2eeWorker());
}

function lazily(make: () => Promise<string>): () => Promise<string> {
  let pending: Promise<string> | null = null;
  return () => {
    pending ??= make().catch((error: unknown) => {
      pending = null;
      throw error;
    });
    return pending;
  };
}
