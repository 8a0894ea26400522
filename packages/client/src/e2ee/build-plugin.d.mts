import type { Plugin } from 'esbuild';

export declare const E2EE_WORKER_ENTRY: string;
export declare function bundleE2eeWorker(options?: { minify?: boolean }): Promise<string>;
export declare function e2eeWorkerPlugin(options?: { minify?: boolean }): Plugin;
