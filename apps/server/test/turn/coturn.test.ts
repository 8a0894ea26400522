/**
 * A real coturn on loopback with the generated configuration, probed with our TURN client.
 * Permission requests only: no packet is ever sent towards the refused addresses.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { IceServerInfo } from '@conclave/protocol/signaling';
import { mintTurnCredentials } from '../../src/turn/credentials.ts';
import { type Credentials, TurnClient, type TurnTransport } from '../../src/turn/testing/turn-client.ts';
import { requireComponent } from '../support/env.ts';
import { coturnInstalled, startTestCoturn, type TestCoturn } from './fixture.ts';

function credentials(
  coturn: TestCoturn,
  options: { identity?: string; nowMs?: number; secret?: string } = {},
) {
  const [server]: IceServerInfo[] = mintTurnCredentials({
    secret: options.secret ?? coturn.secret,
    identity: options.identity ?? `participant-${Math.random()}`,
    ttlSeconds: 60,
    urls: coturn.urls,
    ...(options.nowMs !== undefined ? { nowMs: options.nowMs } : {}),
  });
  assert.ok(server?.username && server.credential);
  return { username: server.username, password: server.credential };
}

async function allocated(
  coturn: TestCoturn,
  creds: Credentials,
  options: { family?: 'ipv4' | 'ipv6'; transport?: TurnTransport } = {},
) {
  const client = await TurnClient.connect({
    host: coturn.host,
    port: coturn.port,
    transport: options.transport ?? 'udp',
  });
  const result = await client.allocate(creds, options.family ? { family: options.family } : {});
  return { client, result };
}

describe('coturn with the generated configuration', { skip: !coturnInstalled && !process.env.CI }, () => {
  let coturn: TestCoturn;
  const clients: TurnClient[] = [];
  before(async () => {
    coturn = await startTestCoturn({ userQuota: 2 });
  });
  after(async () => {
    for (const c of clients) c.close();
    await coturn?.stop();
  });

  test('turnserver is installed', (t) => {
    requireComponent(t, 'coturn (turnserver)', coturnInstalled);
  });

  for (const transport of ['udp', 'tcp'] as const) {
    test(`a credential minted by Conclave allocates a relay over ${transport.toUpperCase()}`, async () => {
      const { client, result } = await allocated(coturn, credentials(coturn), { transport });
      clients.push(client);
      assert.ok(result.ok, `allocation refused: ${JSON.stringify(result)}`);
      assert.equal(result.relayed.address, '127.0.0.1');
      assert.ok(result.relayed.port > 0);
    });
  }

  test('an expired credential is refused with 401', async () => {
    const expired = credentials(coturn, { nowMs: Date.now() - 120_000 });
    const { client, result } = await allocated(coturn, expired);
    clients.push(client);
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.code, 401);
  });

  test('a credential signed with another secret (wrong HMAC) is refused with 401', async () => {
    const forged = credentials(coturn, { secret: 'not-the-shared-secret' });
    const { client, result } = await allocated(coturn, forged);
    clients.push(client);
    assert.equal(!result.ok && result.code, 401);
  });

  test('CreatePermission towards private, link-local, metadata, loopback and multicast IPv4 is refused with 403', async () => {
    const { client, result } = await allocated(coturn, credentials(coturn));
    clients.push(client);
    assert.ok(result.ok);
    for (const peer of [
      '10.0.0.1',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '127.0.0.1',
      '224.0.0.1',
      '255.255.255.255',
      '0.0.0.0',
    ]) {
      const permission = await client.createPermission(peer);
      assert.equal(!permission.ok && permission.code, 403, `${peer}: ${JSON.stringify(permission)}`);
    }
  });

  test('CreatePermission towards ::1, link-local, unique-local, multicast and IPv4-mapped IPv6 is refused with 403', async () => {
    const { client, result } = await allocated(coturn, credentials(coturn), { family: 'ipv6' });
    clients.push(client);
    assert.ok(result.ok, `IPv6 allocation refused: ${JSON.stringify(result)}`);
    for (const peer of ['::1', '::', 'fe80::1', 'fd00::1', 'ff02::1', '::ffff:a00:1', '64:ff9b::a9fe:a9fe']) {
      const permission = await client.createPermission(peer);
      assert.equal(!permission.ok && permission.code, 403, `${peer}: ${JSON.stringify(permission)}`);
    }
  });

  test('the per-user allocation quota holds: the third allocation of one participant is refused with 486', async () => {
    const creds = credentials(coturn, { identity: 'quota-participant' });
    const first = await allocated(coturn, creds);
    const second = await allocated(coturn, creds);
    const third = await allocated(coturn, creds);
    clients.push(first.client, second.client, third.client);
    assert.ok(first.result.ok && second.result.ok);
    assert.equal(!third.result.ok && third.result.code, 486);

    // Releasing one allocation frees its slot (coturn returns it asynchronously, so allow a moment).
    assert.ok((await first.client.release()).ok);
    let fourth = await allocated(coturn, creds);
    for (let tries = 0; !fourth.result.ok && tries < 20; tries++) {
      fourth.client.close();
      await new Promise((r) => setTimeout(r, 100));
      fourth = await allocated(coturn, creds);
    }
    clients.push(fourth.client);
    assert.ok(fourth.result.ok, JSON.stringify(fourth.result));
  });

  test("coturn's log never shows the shared secret or a participant identity", () => {
    const log = coturn.logs.join('\n');
    assert.ok(log.length > 0);
    assert.ok(!log.includes(coturn.secret));
    assert.ok(!log.includes('quota-participant'));
  });
});

describe('coturn beside a media node on loopback (development)', {
  skip: !coturnInstalled && !process.env.CI,
}, () => {
  let coturn: TestCoturn;
  let client: TurnClient | undefined;
  before(async () => {
    coturn = await startTestCoturn({ allowedPeers: ['127.0.0.1'], ipv6: false });
  });
  after(async () => {
    client?.close();
    await coturn?.stop();
  });

  test('relaying to the media node address is allowed, its neighbours and private ranges are not', async (t) => {
    requireComponent(t, 'coturn (turnserver)', coturnInstalled);
    const opened = await allocated(coturn, credentials(coturn));
    client = opened.client;
    assert.ok(opened.result.ok);
    assert.ok((await client.createPermission('127.0.0.1')).ok);
    for (const peer of ['127.0.0.2', '127.0.0.53', '10.0.0.1', '169.254.169.254']) {
      const permission = await client.createPermission(peer);
      assert.equal(!permission.ok && permission.code, 403, peer);
    }
  });
});
