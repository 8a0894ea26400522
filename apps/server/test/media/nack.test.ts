/**
 * Loss recovery toward subscribers (worker/packet-cache.ts, worker/nack-responder.ts): a
 * node-datachannel subscriber behind the impairment proxy loses packets on its downlink; with
 * NACKs the SFU resends them from its cache (as RTX, which the SFU offers) and the subscriber ends
 * up missing far fewer than the proxy dropped; a subscriber that sends no NACKs on the same link
 * misses about what was dropped.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Router } from '@conclave/server/media/api';
import type { LocalMediaPlane } from '@conclave/server/media/index';
import { ImpairmentProxy, stripClientCandidates } from '@conclave/server/media/testing/impairment-proxy';
import { createSubscriberPeer, type ReceivedStream } from '@conclave/server/media/testing/rtp-peer';
import { publish, releaseNodeDataChannel, startPlane } from './support.ts';

let plane: LocalMediaPlane;
before(async () => {
  plane = await startPlane({ workers: 1 });
});
after(async () => {
  await plane.close();
  await releaseNodeDataChannel();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A subscriber whose media goes through `proxy` (server candidates rewritten, its own withheld). */
async function subscribeThrough(router: Router, proxy: ImpairmentProxy, producerId: string, nack: boolean) {
  const peer = await createSubscriberPeer({ nack });
  const transport = await router.createSubscriberTransport({ participantId: nack ? 'bob' : 'carol' });
  await transport.consume(producerId);
  const offer = await transport.createOffer();
  const answer = await peer.answer(proxy.rewriteServerSdp(offer));
  await transport.setAnswer(stripClientCandidates(answer));
  await peer.connected();
  return { peer, transport, offer, answer };
}

/** Sequence numbers between the first and last received that never arrived, as a share. */
function finalLoss(stream: ReceivedStream): { missing: number; share: number } {
  const span = ((stream.lastSequence - stream.firstSequence) & 0xffff) + 1;
  const missing = span - stream.uniquePackets;
  return { missing, share: missing / span };
}

test('NACKs from a subscriber on a lossy downlink are answered from the packet cache', {
  timeout: 90_000,
}, async (t) => {
  const router = await plane.createRouter('nack-downlink');
  t.after(() => router.close());
  const proxy = await ImpairmentProxy.start({
    target: { address: '127.0.0.1', port: plane.workers()[0]!.port },
    seed: 4,
  });
  t.after(() => proxy.close());
  const pub = await publish(router, 'video', 'alice', { midExtension: true });
  t.after(() => pub.peer.close());
  const withNack = await subscribeThrough(router, proxy, pub.producer.id, true);
  const withoutNack = await subscribeThrough(router, proxy, pub.producer.id, false);
  t.after(() => withNack.peer.close());
  t.after(() => withoutNack.peer.close());
  assert.match(withNack.offer, /a=ssrc-group:FID \d+ \d+/, 'the SFU offers an RTX SSRC per video slot');
  assert.match(withNack.answer, /a=fmtp:97 apt=96/, 'the subscriber accepts RTX');

  proxy.configure('toClient', { loss: 0.08 });
  pub.peer.start();
  await sleep(8000);
  pub.peer.stop();
  await sleep(1500); // the last retransmissions
  const dropped = proxy.counters('toClient');
  const repaired = withNack.peer.streamForMid('0');
  const control = withoutNack.peer.streamForMid('0');
  assert.ok(repaired && control, 'both subscribers receive the stream');
  const withLoss = finalLoss(repaired);
  const withoutLoss = finalLoss(control);
  const stats = await withNack.transport.getStats();
  console.log(
    `8% downlink loss: proxy dropped ${dropped.dropped} of ${dropped.received} datagrams; ` +
      `with NACK ${withLoss.missing} missing (${(withLoss.share * 100).toFixed(2)}%), ${repaired.retransmissions} repaired, ${withNack.peer.nacksSent()} NACKs sent; ` +
      `without NACK ${withoutLoss.missing} missing (${(withoutLoss.share * 100).toFixed(2)}%); ${stats.packetsSent} packets sent`,
  );
  assert.ok(repaired.packets > 900, `${repaired.packets} packets received`);
  assert.ok(
    withoutLoss.share > 0.04 && withoutLoss.share < 0.13,
    `the control loses about the injected 8% (${(withoutLoss.share * 100).toFixed(2)}%)`,
  );
  assert.ok(repaired.retransmissions > 0.5 * withoutLoss.missing, 'retransmissions arrived');
  assert.ok(
    withLoss.share < 0.01 && withLoss.share < withoutLoss.share / 5,
    `with NACK the final loss is far below the injected loss (${(withLoss.share * 100).toFixed(2)}%)`,
  );
  assert.equal(control.retransmissions, 0, 'nothing is resent to a subscriber that did not ask');
});
