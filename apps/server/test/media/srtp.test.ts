/**
 * DTLS-SRTP: with preferAes256Gcm the SFU turns the publisher's `a=setup:actpass` into
 * `a=setup:active`, so the SFU is the DTLS server and picks AEAD_AES_256_GCM; the profile shows in
 * transport stats. The announced address replaces the bind address in the SFU's candidates.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createPublisherPeer } from '@conclave/server/media/testing/rtp-peer';
import { pickUdpPort } from '@conclave/server/media/worker/start';
import { publish, releaseNodeDataChannel, startPlane, subscribe } from './support.ts';

after(releaseNodeDataChannel);

test('publisher and subscriber connections negotiate AEAD_AES_256_GCM, visible in stats', async () => {
  const plane = await startPlane({ workers: 1, preferAes256Gcm: true });
  try {
    const router = await plane.createRouter('srtp-gcm');
    const pub = await publish(router, 'video');
    pub.peer.start();
    const sub = await subscribe(router, [pub.producer.id]);
    await sub.peer.waitFor(() => (sub.peer.streamForMid('0')?.packets ?? 0) > 5, 10_000, 'media');
    const [pubStats, subStats] = await Promise.all([pub.transport.getStats(), sub.transport.getStats()]);
    assert.equal(pubStats.srtpProfile, 'AEAD_AES_256_GCM');
    assert.equal(subStats.srtpProfile, 'AEAD_AES_256_GCM');
    assert.equal(pubStats.dtlsState, 'connected');
    assert.ok(['connected', 'completed'].includes(pubStats.iceState), pubStats.iceState);
    assert.ok(pubStats.packetsReceived > 5 && pubStats.bytesReceived > 5 * 1000);
    pub.peer.stop();
    await Promise.all([pub.peer.close(), sub.peer.close()]);
  } finally {
    await plane.close();
  }
});

test('the SFU answers as DTLS server only when preferAes256Gcm is set', async () => {
  const plane = await startPlane({ inProcess: true, preferAes256Gcm: false });
  const gcmPlane = await startPlane({ inProcess: true, preferAes256Gcm: true });
  const peer = await createPublisherPeer({ kind: 'audio' });
  try {
    assert.match(peer.offer, /a=setup:actpass/);
    const params = { participantId: 'a', source: 'microphone', kind: 'audio', offerSdp: peer.offer } as const;
    const plain = await (await plane.createRouter('setup-plain')).createPublisherTransport(params);
    assert.match(plain.answerSdp, /a=setup:active/, 'without the rewrite the SFU answers as DTLS client');
    const gcm = await (await gcmPlane.createRouter('setup-gcm')).createPublisherTransport(params);
    assert.match(gcm.answerSdp, /a=setup:passive/, 'the SFU is the DTLS server');
    plain.transport.close();
    gcm.transport.close();
  } finally {
    await peer.close();
    await Promise.all([plane.close(), gcmPlane.close()]);
  }
});

test('the announced address replaces the bind address in the SFU candidates', async () => {
  // 192.0.2.0/24 is TEST-NET-1: the answer is only inspected, never connected to.
  const plane = await startPlane({ inProcess: true, announcedAddress: '192.0.2.10' });
  const peer = await createPublisherPeer({ kind: 'audio' });
  try {
    const router = await plane.createRouter('announce');
    const { transport, answerSdp } = await router.createPublisherTransport({
      participantId: 'a',
      source: 'microphone',
      kind: 'audio',
      offerSdp: peer.offer,
    });
    const candidates = answerSdp.split('\r\n').filter((l) => l.startsWith('a=candidate:'));
    assert.ok(candidates.length >= 1);
    for (const candidate of candidates) assert.match(candidate, / 192\.0\.2\.10 \d+ typ host/);
    assert.doesNotMatch(answerSdp, /127\.0\.0\.1/);
    const port = plane.workers()[0]!.port;
    // Besides the ICE mux port, the worker's tie-breaker relay (foundation suffixed "r").
    const direct = candidates.filter((c) => !/^a=candidate:\S+r /.test(c));
    assert.ok(
      direct.length >= 1 && direct.every((c) => c.includes(` ${port} typ host`)),
      'the worker ICE mux port',
    );
    transport.close();
  } finally {
    await peer.close();
    await plane.close();
  }
});

test('the tie-breaker relay listens on its configured port, and can be turned off', async () => {
  const relayCandidates = async (tiebreakerRelayPort: number | null) => {
    const plane = await startPlane({ inProcess: true, tiebreakerRelayPort });
    const peer = await createPublisherPeer({ kind: 'audio' });
    try {
      const router = await plane.createRouter('relay-port');
      // The relay binds asynchronously; a description made before then carries no relay candidate.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const { transport, answerSdp } = await router.createPublisherTransport({
        participantId: 'a',
        source: 'microphone',
        kind: 'audio',
        offerSdp: peer.offer,
      });
      transport.close();
      return answerSdp.split('\r\n').filter((l) => /^a=candidate:\S+r /.test(l));
    } finally {
      await peer.close();
      await plane.close();
    }
  };
  const port = await pickUdpPort('127.0.0.1');
  const configured = await relayCandidates(port);
  assert.equal(configured.length, 1, 'one relay candidate');
  assert.match(configured[0]!, new RegExp(` ${port} typ host`));
  assert.deepEqual(await relayCandidates(null), [], 'no relay candidate when turned off');
});
