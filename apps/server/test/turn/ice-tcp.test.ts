/**
 * Why the media server offers no ICE-TCP passive candidate (issue 5, point 4): the bundled
 * libdatachannel 0.24.5 uses libjuice, whose ICE-TCP only connects out (tcptype active, port 9)
 * and never listens. A browser behind a UDP-blocking firewall can only connect out too, and two
 * active candidates never pair (RFC 6544), so such participants need TURN over TCP/TLS.
 * This test pins that finding: when an upgrade starts offering a passive candidate, it fails and
 * the media plane can expose one on a configurable port.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import nodeDataChannel from 'node-datachannel';

test('node-datachannel with enableIceTcp gathers only an active TCP candidate, never a passive one', async () => {
  const pc = new nodeDataChannel.PeerConnection('ice-tcp-probe', {
    iceServers: [],
    enableIceTcp: true,
    bindAddress: '127.0.0.1',
  });
  const gathered = new Promise<void>((resolve) => {
    pc.onGatheringStateChange((state) => {
      if (state === 'complete') resolve();
    });
  });
  pc.createDataChannel('probe');
  await Promise.race([gathered, new Promise((r) => setTimeout(r, 5000))]);
  // The local description carries every gathered candidate once gathering is complete.
  const sdp = pc.localDescription()?.sdp ?? '';
  pc.close();
  const candidates = sdp.split(/\r?\n/).filter((line) => line.startsWith('a=candidate:'));

  const tcp = candidates.filter((c) => / tcp /i.test(c));
  assert.ok(
    candidates.some((c) => / udp /i.test(c)),
    `no UDP host candidate: ${candidates.join(' | ')}`,
  );
  assert.ok(
    tcp.length > 0 && tcp.every((c) => /tcptype active/.test(c) && / 9 typ host/.test(c)),
    tcp.join(' | '),
  );
  assert.ok(!tcp.some((c) => /tcptype passive/.test(c)));
});
