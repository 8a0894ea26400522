/**
 * Writes docs/openapi.json: the OpenAPI document the server serves at /v1/openapi.json,
 * generated from the same schemas it validates with. `npm run docs:openapi`; a test keeps the
 * committed copy in step.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../apps/server/src/app.ts';
import { loadConfig } from '../apps/server/src/config/index.ts';

export async function fetchOpenApiDocument(): Promise<unknown> {
  const dataDir = await mkdtemp(join(tmpdir(), 'conclave-openapi-'));
  const config = loadConfig({
    argv: [
      '--port',
      '0',
      '--rtc-port',
      '0',
      '--media-workers',
      '1',
      '--data-dir',
      dataDir,
      '--log-level',
      'silent',
    ],
    env: {},
  });
  const server = await startServer(config);
  try {
    const response = await fetch(`${server.url}/v1/openapi.json`);
    if (!response.ok) throw new Error(`GET /v1/openapi.json answered ${response.status}`);
    return await response.json();
  } finally {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

export function renderOpenApi(document: unknown): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = new URL('../docs/openapi.json', import.meta.url);
  await writeFile(out, renderOpenApi(await fetchOpenApiDocument()));
  process.stdout.write(`wrote ${out.pathname}\n`);
}
