/**
 * The media worker's tie-breaker relay on real loopback UDP sockets: one socket plays the SFU's
 * ICE port, others play browsers behind a TURN server. A check with a zero tie-breaker (what
 * Chromium sends over TURN/TCP and TLS) reaches the ICE port re-signed; everything else is
 * dropped without opening a socket. The whole path with Chromium and coturn is relay-e2e.test.ts.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { IceAttr, parseIceCheck } from '../../src/media/worker/ice-check.ts';
import { addRelayCandidates, TiebreakerRelay } from '../../src/media/worker/tiebreaker-relay.ts';
import {
  Attr,
  attribute,
  decodeStun,
  decodeXorAddress,
  encodeStun,
  encodeXorAddress,
  hasValidFingerprint,
  hasValidIntegrity,
  MessageClass,
  Method,
  type StunMessage,
} from '../../src/turn/testing/stun.ts';

const SFU_UFRAG = 'sfu1';
const SFU_PASSWORD = 'sfu-password-of-24-chars';
const KEY = Buffer.from(SFU_PASSWORD);

interface Received {
  datagram: Buffer;
  from: { address: string; port: number };
}

/** A bound loopback socket that queues what it receives. */
async function endpoint(): Promise<{
  socket: Socket;
  port: number;
  next(ms?: number): Promise<Received | null>;
}> {
  const socket = createSocket('udp4');
  const queue: Received[] = [];
  const waiters: ((r: Received) => void)[] = [];
  socket.on('message', (datagram, from) => {
    const r = { datagram, from: { address: from.address, port: from.port } };
    const waiter = waiters.shift();
    if (waiter) waiter(r);
    else queue.push(r);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    socket,
    port: socket.address().port,
    next: (ms = 2000) =>
      new Promise((resolve) => {
        const queued = queue.shift();
        if (queued) return resolve(queued);
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(onMessage), 1);
          resolve(null);
        }, ms);
        const onMessage = (r: Received) => {
          clearTimeout(timer);
          resolve(r);
        };
        waiters.push(onMessage);
      }),
  };
}

function check(options: { tiebreaker: bigint; password?: string; role?: number; ufrag?: string }): Buffer {
  const tiebreaker = Buffer.alloc(8);
  tiebreaker.writeBigUInt64BE(options.tiebreaker);
  const priority = Buffer.alloc(4);
  priority.writeUInt32BE(1853628415);
  return encodeStun({
    method: Method.binding,
    messageClass: MessageClass.request,
    attributes: [
      [Attr.username, Buffer.from(`${options.ufrag ?? SFU_UFRAG}:web1`)],
      [options.role ?? IceAttr.iceControlling, tiebreaker],
      [IceAttr.priority, priority],
    ],
    integrityKey: Buffer.from(options.password ?? SFU_PASSWORD),
    fingerprint: true,
  });
}

function sdpWithHostCandidate(port: number): string {
  return [
    'v=0',
    'a=ice-ufrag:' + SFU_UFRAG,
    'a=ice-pwd:' + SFU_PASSWORD,
    `a=candidate:1 1 UDP 2122317823 127.0.0.1 ${port} typ host`,
    'a=candidate:2 1 UDP 2122317823 127.0.0.1 9 typ host',
    '',
  ].join('\r\n');
}

describe('TiebreakerRelay', () => {
  let ice: Awaited<ReturnType<typeof endpoint>>;
  let relay: TiebreakerRelay;

  before(async () => {
    ice = await endpoint();
    relay = new TiebreakerRelay({ bindAddress: '127.0.0.1', icePort: ice.port });
    while (relay.port === 0) await new Promise((r) => setTimeout(r, 10));
    relay.advertise(sdpWithHostCandidate(ice.port));
  });

  after(() => {
    relay.close();
    ice.socket.close();
  });

  it('advertise() adds a relay candidate next to each host candidate on the ICE port, checked first', () => {
    const sdp = relay.advertise(sdpWithHostCandidate(ice.port));
    const lines = sdp.split('\r\n').filter((l) => l.startsWith('a=candidate:'));
    assert.deepEqual(lines, [
      `a=candidate:1r 1 UDP ${2122317823 + 256} 127.0.0.1 ${relay.port} typ host`,
      `a=candidate:1 1 UDP 2122317823 127.0.0.1 ${ice.port} typ host`,
      'a=candidate:2 1 UDP 2122317823 127.0.0.1 9 typ host',
    ]);
  });

  it('forwards a zero tie-breaker check re-signed, and relays both ways from then on', async () => {
    const browser = await endpoint();
    try {
      browser.socket.send(check({ tiebreaker: 0n }), relay.port, '127.0.0.1');
      const got = await ice.next();
      assert.ok(got, 'the check reaches the ICE port');
      const request = decodeStun(got.datagram);
      assert.equal(attribute(request, IceAttr.iceControlling)?.readBigUInt64BE(0), 1n);
      assert.equal(attribute(request, IceAttr.priority)?.readUInt32BE(0), 0xffffffff);
      assert.ok(hasValidIntegrity(request, KEY), 'signed with the SFU password');
      assert.ok(hasValidFingerprint(request));
      assert.equal(attribute(request, Attr.username)?.toString(), `${SFU_UFRAG}:web1`);

      // The SFU answers the address it saw (the relay's socket); the browser is told its own.
      const response = successResponse(request, got.from);
      ice.socket.send(response, got.from.port, got.from.address);
      const answered = await browser.next();
      assert.ok(answered, 'the answer reaches the browser');
      const decoded = decodeStun(answered.datagram);
      const mapped = decodeXorAddress(attribute(decoded, Attr.xorMappedAddress)!, decoded.transactionId);
      assert.deepEqual(mapped, { address: '127.0.0.1', port: browser.port });
      assert.ok(hasValidIntegrity(decoded, KEY));
      assert.ok(hasValidFingerprint(decoded));

      // DTLS and SRTP are not STUN: relayed unchanged, same socket both ways.
      const record = Buffer.from([0x16, 0xfe, 0xfd, 1, 2, 3]);
      browser.socket.send(record, relay.port, '127.0.0.1');
      const media = await ice.next();
      assert.deepEqual(media?.datagram, record);
      assert.deepEqual(media?.from, got.from);
      ice.socket.send(Buffer.from([0x80, 0x60, 9]), got.from.port, got.from.address);
      assert.deepEqual((await browser.next())?.datagram, Buffer.from([0x80, 0x60, 9]));
      assert.equal(relay.repairedChecks, 1);
    } finally {
      browser.socket.close();
    }
  });

  it('repairs ICE-CONTROLLED too (the browser answering a subscriber offer)', async () => {
    const browser = await endpoint();
    try {
      browser.socket.send(check({ tiebreaker: 0n, role: IceAttr.iceControlled }), relay.port, '127.0.0.1');
      const got = await ice.next();
      assert.ok(got);
      const request = decodeStun(got.datagram);
      assert.equal(attribute(request, IceAttr.iceControlled)?.readBigUInt64BE(0), 1n);
      assert.ok(hasValidIntegrity(request, KEY));
    } finally {
      browser.socket.close();
    }
  });

  it('drops what a browser can deliver directly or what is not ours, and opens no socket for it', async () => {
    const browser = await endpoint();
    try {
      const sessions = relay.sessionCount;
      const refused = [
        check({ tiebreaker: 0x1234n }), // a working tie-breaker: the ICE port takes it directly
        check({ tiebreaker: 0n, password: 'not-the-sfu-password-xx' }), // forged
        check({ tiebreaker: 0n, ufrag: 'gone' }), // a connection this worker does not know
        Buffer.from([0x16, 0xfe, 0xfd, 0, 0]), // DTLS from a stranger
        Buffer.from('garbage'),
        check({ tiebreaker: 0n }).subarray(0, 30), // truncated
      ];
      for (const datagram of refused) browser.socket.send(datagram, relay.port, '127.0.0.1');
      assert.equal(await ice.next(300), null, 'nothing reaches the ICE port');
      assert.equal(relay.sessionCount, sessions);
    } finally {
      browser.socket.close();
    }
  });
});

describe('parseIceCheck()', () => {
  it('refuses a check that carries both role attributes (left to the ICE agent)', () => {
    const both = encodeStun({
      method: Method.binding,
      messageClass: MessageClass.request,
      attributes: [
        [Attr.username, Buffer.from('a:b')],
        [IceAttr.iceControlling, Buffer.alloc(8)],
        [IceAttr.iceControlled, Buffer.alloc(8)],
      ],
      integrityKey: KEY,
    });
    assert.equal(parseIceCheck(both), null);
  });

  it('refuses an attribute running past the end of the message', () => {
    const datagram = check({ tiebreaker: 0n });
    datagram.writeUInt16BE(200, 22); // USERNAME length
    assert.equal(parseIceCheck(datagram), null);
  });
});

describe('addRelayCandidates()', () => {
  it('keeps CRLF and leaves other ports and TCP candidates alone', () => {
    const sdp = 'a=candidate:7 1 tcp 1518280447 127.0.0.1 5000 typ host tcptype passive\r\n';
    assert.equal(addRelayCandidates(sdp, 5000, 6000), sdp);
  });
});

function successResponse(request: StunMessage, seen: { address: string; port: number }): Buffer {
  return encodeStun({
    method: Method.binding,
    messageClass: MessageClass.success,
    transactionId: request.transactionId,
    attributes: [[Attr.xorMappedAddress, encodeXorAddress(seen, request.transactionId)]],
    integrityKey: KEY,
    fingerprint: true,
  });
}
