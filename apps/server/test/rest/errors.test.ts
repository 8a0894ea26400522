import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConclaveError } from '@conclave/protocol/errors';
import Fastify from 'fastify';
import { installErrorHandler } from '../../src/control/rest/index.ts';

async function answerTo(thrown: unknown) {
  const logged: string[] = [];
  const fastify = Fastify({
    logger: { level: 'error', stream: { write: (line: string) => logged.push(line) } },
  });
  installErrorHandler(fastify);
  fastify.get('/boom', async () => {
    throw thrown;
  });
  const response = await fastify.inject({ method: 'GET', url: '/boom' });
  await fastify.close();
  return { status: response.statusCode, body: response.body, logged: logged.join('') };
}

test('an unexpected error answers 500 internal, without its message, stack or file path', async () => {
  const error = new Error("ENOENT: no such file or directory, open '/var/lib/conclave/master.key'");
  const { status, body, logged } = await answerTo(error);
  assert.equal(status, 500);
  assert.equal(body, '{"error":{"code":"internal","message":"Internal error"}}');
  assert.match(logged, /master\.key/, 'the operator still finds the cause in the log');
});

test('a ConclaveError answers with the status of its code in the protocol table', async () => {
  const conflict = await answerTo(new ConclaveError('conflict', 'A session with this name already exists'));
  assert.equal(conflict.status, 409);
  assert.deepEqual(JSON.parse(conflict.body), {
    error: { code: 'conflict', message: 'A session with this name already exists' },
  });
  const refused = await answerTo(new ConclaveError('archive_e2ee_refused'));
  assert.equal(refused.status, 409);
  const gone = await answerTo(new ConclaveError('session_not_found'));
  assert.equal(gone.status, 404);
});
