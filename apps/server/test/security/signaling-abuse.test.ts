/**
 * Signaling abuse against the real server (startServer): compression offers and compressed
 * frames, invalid UTF-8, 1,000 idle unauthenticated connections, half-open upgrades and a
 * reconnect storm of 200 clients. A bystander pair in the same server keeps exchanging signals
 * and video throughout, and /healthz keeps answering.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, test } from 'node:test';
import { SIGNALING_PATH } from '@conclave/protocol/signaling';
import { releaseNodeDataChannel } from '@conclave/server/media/testing/rtp-peer';
import WebSocket from 'ws';
import { NodeClient } from '../support/node-client.ts';
import { openRawWebSocket } from './raw-websocket.ts';
import { bootAbuseServer, startBystanders } from './support.ts';

const JOIN_TIMEOUT_MS = 2000;

// node-datachannel keeps the process alive until its native side is released, after every peer closed.
after(releaseNodeDataChannel);

test('signaling abuse: compression, UTF-8, idle and half-open connections', {
  timeout: 180_000,
}, async (t) => {
  const s = await bootAbuseServer(t, { signaling: { joinTimeoutMs: JOIN_TIMEOUT_MS, resumeWindowMs: 1000 } });
  const bystanders = await startBystanders(t, s);

  await t.test('a client offering permessage-deflate does not get it', async () => {
    const ws = new WebSocket(`${s.url.replace(/^http/, 'ws')}${SIGNALING_PATH}`, { perMessageDeflate: true });
    const upgraded = new Promise<Record<string, string | string[] | undefined>>((resolve, reject) => {
      ws.once('upgrade', (res) => resolve(res.headers));
      ws.once('error', reject);
    });
    const opened = new Promise((resolve) => ws.once('open', resolve));
    const upgrade = await upgraded;
    await opened;
    assert.equal(upgrade['sec-websocket-extensions'], undefined, 'no extension negotiated');
    assert.equal(ws.extensions, '');
    ws.terminate();
    const raw = await openRawWebSocket(s.url, {
      'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits, x-webkit-deflate-frame',
    });
    assert.equal(raw.response.status, 101);
    assert.equal(raw.response.headers['sec-websocket-extensions'], undefined);
    raw.socket.destroy();
    await bystanders.assertUnaffected();
  });

  await t.test(
    'a compressed (RSV1) frame, a deflate bomb, is refused with 1002 without inflating',
    async () => {
      const raw = await openRawWebSocket(s.url, { 'sec-websocket-extensions': 'permessage-deflate' });
      // A deflate stream of zeros that would inflate to ~1 GB; RSV1 marks it compressed.
      const bomb = Buffer.concat([Buffer.from([0x78, 0x9c]), Buffer.alloc(60_000, 0)]);
      raw.sendFrame(0x1, bomb, { rsv1: true });
      assert.equal(await raw.closed, 1002);
      await bystanders.assertUnaffected();
    },
  );

  await t.test('a text frame with invalid UTF-8 closes the connection with 1007', async () => {
    for (const invalid of [
      Buffer.from([0xc3, 0x28]),
      Buffer.from([0xff, 0xfe, 0xfd]),
      Buffer.from('{"type":"join","token":"\xed\xa0\x80"}', 'latin1'),
    ]) {
      const raw = await openRawWebSocket(s.url);
      raw.sendFrame(0x1, invalid);
      assert.equal(await raw.closed, 1007, `bytes ${invalid.toString('hex')}`);
    }
    // After authentication too: a joined participant sending invalid UTF-8 is closed, the others stay.
    const mallory = await openRawWebSocket(s.url);
    mallory.sendFrame(
      0x1,
      Buffer.from(JSON.stringify({ type: 'join', id: 1, token: bystanders.token('mallory'), protocol: 1 })),
    );
    const deadline = Date.now() + 10_000;
    while (!mallory.messages.some((m) => m.includes('"reply"')) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(
      mallory.messages.some((m) => m.includes('"reply"')),
      'mallory joined',
    );
    mallory.sendFrame(0x1, Buffer.from([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x7d]));
    assert.equal(await mallory.closed, 1007);
    await bystanders.assertUnaffected();
  });

  await t.test('1,000 idle unauthenticated connections are all closed after the join timeout', async () => {
    const opened: WebSocket[] = [];
    const closes: Promise<{ code: number; at: number }>[] = [];
    const started = Date.now();
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(
        Array.from({ length: 100 }, async () => {
          const ws = new WebSocket(`${s.url.replace(/^http/, 'ws')}${SIGNALING_PATH}`, {
            perMessageDeflate: false,
          });
          ws.on('error', () => {});
          closes.push(
            new Promise((resolve) => ws.once('close', (code) => resolve({ code, at: Date.now() }))),
          );
          await new Promise((resolve) => ws.once('open', resolve));
          opened.push(ws);
        }),
      );
    }
    const openedIn = Date.now() - started;
    assert.equal(opened.length, 1000);
    const results = await Promise.all(closes);
    const lastClose = Math.max(...results.map((r) => r.at)) - started;
    console.log(
      `idle: 1000 connections opened in ${openedIn} ms, all closed ${lastClose} ms after the first opened`,
    );
    assert.deepEqual(
      [...new Set(results.map((r) => r.code))],
      [4000],
      'every idle connection closed with 4000 (not_authenticated)',
    );
    assert.ok(
      lastClose < openedIn + JOIN_TIMEOUT_MS + 5000,
      `closed within the join timeout (${lastClose} ms)`,
    );
    await bystanders.assertUnaffected();
  });

  await t.test('1,000 half-open upgrade requests do not keep others from connecting', async () => {
    const { hostname, port } = new URL(s.url);
    const sockets: Socket[] = [];
    for (let i = 0; i < 1000; i++) {
      const socket = connect({ host: hostname, port: Number(port) });
      socket.on('error', () => {});
      // Headers never finished: the server has to wait or time out, never to block.
      socket.write(`GET ${SIGNALING_PATH} HTTP/1.1\r\nHost: ${hostname}\r\nUpgrade: websocket\r\n`);
      sockets.push(socket);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    const newcomer = await NodeClient.connect(s.url, bystanders.token('newcomer'));
    assert.ok(newcomer.joined?.connectionId);
    await newcomer.leave();
    await bystanders.assertUnaffected();
    const stillOpen = sockets.filter((socket) => !socket.destroyed).length;
    console.log(
      `half-open: ${stillOpen}/1000 still open after 0.5 s; server headersTimeout ${s.server.http.headersTimeout} ms, requestTimeout ${s.server.http.requestTimeout} ms`,
    );
    assert.ok(
      s.server.http.headersTimeout > 0 && s.server.http.headersTimeout <= 60_000,
      'half-open requests time out',
    );
    for (const socket of sockets) socket.destroy();
  });
});

test('a reconnect storm of 200 clients: all rejoin, the bystanders are unaffected', {
  timeout: 240_000,
}, async (t) => {
  // A resume window far above the storm's duration: with 2 s, a loaded machine (joins taking
  // 10 s, seen at load average 37) let most resumes arrive after their participant was gone.
  const s = await bootAbuseServer(t, { signaling: { resumeWindowMs: 60_000 } });
  const bystanders = await startBystanders(t, s);
  const identities = Array.from({ length: 200 }, (_, i) => `storm-${i}`);
  const started = Date.now();
  const first = await Promise.all(identities.map((id) => NodeClient.connect(s.url, bystanders.token(id))));
  const joinedIn = Date.now() - started;
  // Every client drops at once (a network blip), then all come back at once, resuming.
  for (const client of first) client.drop();
  const again = Date.now();
  const second = await Promise.all(
    first.map((client, i) =>
      NodeClient.connect(s.url, bystanders.token(identities[i]!), {
        resume: { connectionId: client.connectionId, resumeToken: client.joined!.resumeToken },
      }),
    ),
  );
  const rejoinedIn = Date.now() - again;
  t.after(async () => {
    for (const client of second) await client.close();
  });
  console.log(`reconnect storm: 200 joined in ${joinedIn} ms, 200 resumed in ${rejoinedIn} ms`);
  assert.equal(second.length, 200);
  assert.equal(second.filter((c) => c.joined?.resumed).length, 200, 'every client resumed its participant');
  await bystanders.assertUnaffected();
});
