/**
 * Dynacast at the media plane: the publisher transport reports the simulcast rids its consumers
 * want (`layerswanted`), so the SDK can pause the others. A synthetic three-layer publisher and a
 * node subscriber: capped to low, only the low rid is wanted; raised to high, the high one comes
 * back (with low kept while the switch waits for a keyframe); with no subscriber left, none.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createSimulcastPublisherPeer, waitFor } from '@conclave/server/media/testing/rtp-peer';
import { releaseNodeDataChannel, startPlane, subscribe } from './support.ts';

after(releaseNodeDataChannel);

test('layerswanted follows what the consumers of a simulcast producer receive', {
  timeout: 120_000,
}, async (t) => {
  const plane = await startPlane({ workers: 1 });
  const router = await plane.createRouter('dynacast');
  const video = await createSimulcastPublisherPeer({
    layers: [
      { rid: 'q', packetsPerSecond: 30, packetBytes: 500 },
      { rid: 'h', packetsPerSecond: 30, packetBytes: 800 },
      { rid: 'f', packetsPerSecond: 60, packetBytes: 1000 },
    ],
  });
  const published = await router.createPublisherTransport({
    participantId: 'alice',
    source: 'camera',
    kind: 'video',
    offerSdp: video.offer,
  });
  const reports: string[][] = [];
  published.transport.on('layerswanted', (rids) => reports.push(rids));
  await video.setAnswer(published.answerSdp);
  video.start();
  t.after(async () => {
    await video.close();
    await plane.close();
  });
  const latest = () => reports.at(-1)?.join(',');

  await waitFor(() => latest() === '', 10_000, 'every layer off while nobody subscribes');
  const { peer, transport, consumers } = await subscribe(router, [published.transport.producer.id]);
  const consumerId = consumers[0]!.consumerId;
  await waitFor(
    () => latest() === 'q,f',
    5_000,
    'the top layer (and the lowest, never the middle one) wanted by a new subscriber',
  );

  await transport.setPreferredLayer(consumerId, 'low');
  await waitFor(() => latest() === 'q', 10_000, 'only the low layer once the subscriber is capped to it');

  await transport.setPreferredLayer(consumerId, 'high');
  await waitFor(() => latest()?.includes('f') === true, 5_000, 'the high layer wanted again');
  assert.ok(latest()?.startsWith('q'), `the low layer stays on: ${latest()}`);

  await peer.close();
  transport.close();
  await waitFor(() => latest() === '', 10_000, 'every layer off after the last subscriber left');
  t.diagnostic(`reports: ${reports.map((r) => `[${r.join(',')}]`).join(' ')}`);
});
