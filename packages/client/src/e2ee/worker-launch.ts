/**
 * Starts the E2EE worker. A worker needs a script URL of the page's origin (or a Blob URL):
 * - the SDK came from the page's origin (self-hosted, or the Conclave server is the page's
 *   server): conclave-e2ee-worker.js next to it, which a `script-src 'self'` CSP allows;
 * - the SDK came from elsewhere: a Blob URL of the copy embedded in the SDK bundle (the page's
 *   CSP needs `worker-src blob:`), since browsers refuse cross-origin worker scripts;
 * - or the page names the URL itself (`e2ee.workerUrl`).
 */
import workerSource from 'conclave:e2ee-worker-source';
import { E2EE_WORKER_FILE } from './worker-protocol.ts';

export function launchE2eeWorker(workerUrl?: string | URL): Worker {
  const options: WorkerOptions = { name: 'conclave-e2ee' };
  if (workerUrl !== undefined) return new Worker(workerUrl, options);
  const sdkUrl = new URL(import.meta.url);
  if (sdkUrl.origin === globalThis.location?.origin) {
    return new Worker(new URL(E2EE_WORKER_FILE, sdkUrl), options);
  }
  const blobUrl = URL.createObjectURL(new Blob([workerSource], { type: 'text/javascript' }));
  const worker = new Worker(blobUrl, options);
  // The URL is only needed until the worker has loaded its script (its first message says so).
  worker.addEventListener('message', () => URL.revokeObjectURL(blobUrl), { once: true });
  return worker;
}
