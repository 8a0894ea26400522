import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Conclave } from '@conclave/server-sdk';
import { bootServer } from './support.ts';

test('the server SDK reaches a --tls-self-signed server only when given its certificate', async (t) => {
  const booted = await bootServer(t, 'sqlite', { tlsSelfSigned: true });
  assert.ok(booted);
  const { server } = booted;
  assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.ok(server.tls);
  const app = await booted.createApp('tls-app');
  const trusting = new Conclave({
    url: server.url,
    apiKey: app.apiKey,
    apiSecret: app.apiSecret,
    ca: server.tls.cert,
  });
  const session = await trusting.createSession({ name: 'secure' });
  assert.equal((await trusting.getSession(session.id)).name, 'secure');

  const untrusting = new Conclave({ url: server.url, apiKey: app.apiKey, apiSecret: app.apiSecret });
  await assert.rejects(untrusting.listSessions(), { name: 'ConclaveApiError', code: 'unavailable' });
});
