/**
 * Writes docs/openapi.json: the OpenAPI document the server serves at /v1/openapi.json,
 * generated from the same schemas it validates with. `npm run docs:openapi`; a test keeps the
 * committed copy in step.
 */
import { writeFile } from 'node:fs/promises';
import { bootTestServer } from '../apps/server/test/support/server.ts';

export async function fetchOpenApiDocument(): Promise<unknown> {
  const { url, close } = await bootTestServer({ name: 'openapi' });
  try {
    const response = await fetch(`${url}/v1/openapi.json`);
    if (!response.ok) throw new Error(`GET /v1/openapi.json answered ${response.status}`);
    return await response.json();
  } finally {
    await close();
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
