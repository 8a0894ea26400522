/**
 * Valid inputs of each parser, built by hand from the RFCs and from what Chromium sends. They seed
 * the jsfuzz corpora (fuzz/seeds/write.ts) and the fast-check "mutated valid input" properties.
 */

/** RTP: V=2, X=1, CC=1, PT=96, one-byte extensions (mid id 1, abs-send-time id 3), payload, padding. */
export function rtpOneByteExtension(): Buffer {
  const header = Buffer.from([0xb1, 0x60, 0x12, 0x34, 0, 0, 0x0b, 0xb8, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 7]);
  const extension = Buffer.from([0xbe, 0xde, 0, 2, 0x10, 0x30, 0x22, 0x01, 0x02, 0x03, 0x00, 0x00]);
  const payload = Buffer.from([0x90, 0x80, 0x12, 0x00, 0x9d, 0x01, 0x2a]);
  const padding = Buffer.from([0, 0, 3]);
  return Buffer.concat([header, extension, payload, padding]);
}

/** RTP with the two-byte extension form (RFC 8285 profile 0x100x), rid id 10, no CSRC. */
export function rtpTwoByteExtension(): Buffer {
  const header = Buffer.from([0x90, 0xe0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 42]);
  const extension = Buffer.from([0x10, 0x00, 0, 2, 10, 1, 0x68, 0, 12, 2, 0xff, 0xff]);
  return Buffer.concat([header, extension, Buffer.from([0x10, 0x00, 0x9d, 0x01, 0x2a])]);
}

/** Opus as Chromium sends it: one-byte mid (id 4), transport-cc (id 5) and audio level (id 1, voice, -38 dBov). */
export function rtpAudioLevel(): Buffer {
  const header = Buffer.from([0x90, 0x6f, 0x01, 0x02, 0, 0, 0x03, 0xc0, 0x11, 0x22, 0x33, 0x44]);
  const extension = Buffer.from([0xbe, 0xde, 0, 2, 0x40, 0x30, 0x51, 0x00, 0x2a, 0x10, 0x80 | 38, 0x00]);
  return Buffer.concat([header, extension, Buffer.from([0xf8, 0xff, 0xfe])]);
}

export function rtpPlain(): Buffer {
  return Buffer.from([0x80, 0x6f, 0, 9, 0, 0, 0x03, 0xc0, 0, 0, 0, 5, 0xf8, 0xff, 0xfe]);
}

function rtcpHeader(count: number, type: number, words: number): number[] {
  return [0x80 | count, type, words >> 8, words & 0xff];
}

/** A compound of SR, RR with one report block, PLI, FIR, generic NACK, REMB and transport-cc. */
export function rtcpCompound(): Buffer {
  const sr = [
    ...rtcpHeader(0, 200, 6),
    0,
    0,
    0,
    7,
    0xe9,
    0,
    0,
    0,
    0x80,
    0,
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    10,
    0,
    0,
    4,
    0,
  ];
  const rr = [
    ...rtcpHeader(1, 201, 7),
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    7,
    0,
    0,
    0,
    0,
    0,
    0,
    0x12,
    0x34,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
  ];
  const pli = [...rtcpHeader(1, 206, 2), 0, 0, 0, 1, 0, 0, 0, 7];
  const fir = [...rtcpHeader(4, 206, 4), 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 3, 0, 0, 0];
  const nack = [...rtcpHeader(1, 205, 3), 0, 0, 0, 1, 0, 0, 0, 7, 0x12, 0x34, 0x00, 0x05];
  const remb = [
    ...rtcpHeader(15, 206, 5),
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    0x52,
    0x45,
    0x4d,
    0x42,
    1,
    0x0c,
    0x35,
    0x00,
    0,
    0,
    0,
    7,
  ];
  const twcc = [
    ...rtcpHeader(15, 205, 5),
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    7,
    0,
    1,
    0,
    2,
    0,
    0,
    1,
    0,
    0x20,
    0x02,
    0x04,
    0x08,
  ];
  return Buffer.from([...sr, ...rr, ...pli, ...fir, ...nack, ...remb, ...twcc]);
}

/** VP8 descriptor with X, I (15-bit picture id), L, T/K, then a key frame payload header. */
export function vp8KeyFrame(): Buffer {
  return Buffer.from([0x90, 0xe0, 0x80, 0x01, 0x05, 0x20, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a]);
}

/** H.264 STAP-A with SPS and PPS (what Chromium sends ahead of an IDR), then an FU-A IDR start. */
export function h264KeyFrame(): Buffer {
  const stapA = [0x78, 0x00, 0x04, 0x67, 0x42, 0xc0, 0x1f, 0x00, 0x03, 0x68, 0xce, 0x3c];
  const fuA = [0x7c, 0x85, 0x88, 0x84];
  return Buffer.from([...stapA, ...fuA]);
}

/** A generic NACK (PID 1000, BLP 0x0005) followed by an RTX packet repairing sequence 1000. */
export function nackAndRtx(): Buffer {
  const nack = [0x81, 0xcd, 0x00, 0x03, 0, 0, 0, 1, 0x12, 0x34, 0x56, 0x78, 0x03, 0xe8, 0x00, 0x05];
  const rtx = [
    0x80, 0x61, 0x00, 0x07, 0, 0, 0x10, 0, 0xaa, 0xbb, 0xcc, 0xdd, 0x03, 0xe8, 0x90, 0x80, 0x81, 0x02,
  ];
  return Buffer.from([...nack, ...rtx]);
}

const CHROMIUM_VIDEO_OFFER = [
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'a=extmap-allow-mixed',
  'a=msid-semantic: WMS stream',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 45',
  'c=IN IP4 0.0.0.0',
  'a=rtcp:9 IN IP4 0.0.0.0',
  'a=ice-ufrag:Hv3t',
  'a=ice-pwd:bAL8cSxZb8mXkKXrTyw6KcVZ',
  'a=ice-options:trickle',
  'a=fingerprint:sha-256 5A:0B:6C:93:47:DE:2A:1D:3C:6E:88:46:F1:0B:4E:19:9C:6A:0A:8B:A1:D5:28:2B:65:9F:AB:61:7A:4D:3C:B1',
  'a=setup:actpass',
  'a=mid:0',
  'a=extmap:1 urn:ietf:params:rtp-hdrext:toffset',
  'a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  'a=extmap:3 urn:3gpp:video-orientation',
  'a=extmap:4 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'a=extmap:9 urn:ietf:params:rtp-hdrext:sdes:mid',
  'a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
  'a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
  'a=sendonly',
  'a=msid:stream track',
  'a=rtcp-mux',
  'a=rtcp-rsize',
  'a=rtpmap:96 VP8/90000',
  'a=rtcp-fb:96 goog-remb',
  'a=rtcp-fb:96 transport-cc',
  'a=rtcp-fb:96 ccm fir',
  'a=rtcp-fb:96 nack',
  'a=rtcp-fb:96 nack pli',
  'a=rtpmap:97 rtx/90000',
  'a=fmtp:97 apt=96',
  'a=rtpmap:102 H264/90000',
  'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f',
  'a=rtpmap:103 rtx/90000',
  'a=fmtp:103 apt=102',
  'a=rtpmap:45 AV1/90000',
  'a=ssrc-group:FID 1234 5678',
  'a=ssrc:1234 cname:abc',
  'a=ssrc:5678 cname:abc',
];

export function chromiumVideoOffer(): string {
  return `${CHROMIUM_VIDEO_OFFER.join('\r\n')}\r\n`;
}

export function chromiumAudioOffer(): string {
  return chromiumVideoOffer()
    .replace('m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 45', 'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 0')
    .replace('a=rtpmap:96 VP8/90000', 'a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1')
    .replace(
      'a=extmap:3 urn:3gpp:video-orientation',
      'a=extmap:3 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
    );
}

export function simulcastAnswer(): string {
  return chromiumVideoOffer()
    .replace('a=setup:actpass', 'a=setup:active')
    .replace('a=mid:0', 'a=mid:0\r\na=rid:h send\r\na=rid:l send\r\na=simulcast:send h;l\r\na=mid:1');
}

export const SIGNALING_MESSAGES: readonly unknown[] = [
  {
    type: 'join',
    id: 1,
    token: 'eyJhbGciOiJIUzI1NiJ9.e30.c2ln',
    protocol: 1,
    sdk: { name: 'js', version: '0.1.0' },
    capabilities: { e2ee: false, simulcast: true },
  },
  {
    type: 'join',
    id: 2,
    token: 't',
    sessionId: 'ses_abc',
    protocol: 1,
    resume: { connectionId: 'c1', resumeToken: 'r' },
  },
  { type: 'publish', id: 3, source: 'camera', kind: 'video', name: 'cam', sdp: 'v=0\r\n' },
  { type: 'unpublish', id: 4, streamId: 'str_1' },
  { type: 'subscribe', id: 5, streamId: 'str_1' },
  { type: 'unsubscribe', id: 6, streamId: 'str_1' },
  { type: 'subscriberAnswer', id: 7, sdp: 'v=0\r\n' },
  {
    type: 'candidate',
    target: 'subscriber',
    candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0', sdpMLineIndex: 0 },
  },
  { type: 'signal', id: 8, signalType: 'chat', data: 'hello', to: ['c1', 'c2'] },
  { type: 'refreshToken', id: 9, token: 'x.y.z' },
  { type: 'relay', to: 'c2', sdp: { type: 'offer', sdp: 'v=0\r\n' } },
  { type: 'leave' },
];

export const CONFIG_FILES: readonly string[] = [
  'server:\n  host: 127.0.0.1\n  port: 7443\n  tls:\n    selfSigned: true\nlog:\n  level: warn\n',
  '{"server": {"port": 8080}, "tokens": {"maxLifetimeSeconds": 600}, "media": {"workers": 1}}\n',
  'a: &a [1, 2, 3]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n',
  'devMode: false\naudit:\n  retentionDays: 30\n',
];
