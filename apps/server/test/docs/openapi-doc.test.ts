import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fetchOpenApiDocument, renderOpenApi } from '../../../../scripts/openapi.ts';

test('docs/openapi.json is the document the server serves', async () => {
  const committed = await readFile(new URL('../../../../docs/openapi.json', import.meta.url), 'utf8');
  assert.equal(
    committed,
    renderOpenApi(await fetchOpenApiDocument()),
    'regenerate with `npm run docs:openapi`',
  );
});
