/**
 * SDP rewriting on a Chromium-shaped offer: what libdatachannel would otherwise copy into its
 * answer and what Chromium then does with it (MEDIA-NOTES).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  addRtxSsrcGroups,
  announceAddress,
  answeredRtxPayloadType,
  flipSimulcastDirection,
  preparePublishOffer,
  withOpusOptions,
} from '@conclave/server/media/sdp';

const CHROMIUM_VIDEO_OFFER = [
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'a=msid-semantic: WMS',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 45 46',
  'c=IN IP4 0.0.0.0',
  'a=rtcp:9 IN IP4 0.0.0.0',
  'a=ice-ufrag:abcd',
  'a=ice-pwd:abcdefghijklmnopqrstuvwx',
  'a=ice-options:trickle',
  'a=fingerprint:sha-256 01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:1E:1F:20',
  'a=setup:actpass',
  'a=mid:0',
  'a=extmap:1 urn:ietf:params:rtp-hdrext:toffset',
  'a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
  'a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
  'a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
  'a=sendonly',
  'a=msid:- 7c1b',
  'a=rtcp-mux',
  'a=rtpmap:96 VP9/90000',
  'a=rtcp-fb:96 nack',
  'a=fmtp:96 profile-id=0',
  'a=rtpmap:97 rtx/90000',
  'a=fmtp:97 apt=96',
  'a=rtpmap:98 VP8/90000',
  'a=rtcp-fb:98 goog-remb',
  'a=rtcp-fb:98 transport-cc',
  'a=rtcp-fb:98 ccm fir',
  'a=rtcp-fb:98 nack',
  'a=rtcp-fb:98 nack pli',
  'a=rtpmap:99 rtx/90000',
  'a=fmtp:99 apt=98',
  'a=rtpmap:45 AV1/90000',
  'a=rtpmap:46 rtx/90000',
  'a=fmtp:46 apt=45',
  'a=rid:q send',
  'a=rid:h send',
  'a=simulcast:send q;h',
  '',
].join('\r\n');

test('preparePublishOffer() keeps one forwardable codec with its RTX and the understood extensions', () => {
  const offer = preparePublishOffer(CHROMIUM_VIDEO_OFFER, 'video', true);
  assert.equal(offer.codec.name, 'VP8');
  assert.equal(offer.payloadType, 98, 'the first VP8 payload type, whatever its position');
  assert.equal(offer.rtxPayloadType, 99);
  assert.match(offer.sdp, /^m=video 9 UDP\/TLS\/RTP\/SAVPF 98 99$/m);
  assert.doesNotMatch(offer.sdp, /VP9|AV1|apt=96|apt=45/);
  assert.match(offer.sdp, /^a=rtcp-fb:98 transport-cc$/m, 'transport-cc: the SFU sends TWCC feedback');
  assert.match(offer.sdp, /^a=extmap:3 \S+transport-wide-cc/m);
  assert.doesNotMatch(offer.sdp, /toffset/);
  assert.match(offer.sdp, /a=rtcp-fb:98 nack pli/);
  assert.match(offer.sdp, /a=setup:active/);
  assert.doesNotMatch(offer.sdp, /a=setup:actpass/);
  assert.match(offer.sdp, /a=rid:q send/, 'the offer keeps its simulcast lines');
  assert.deepEqual(
    [...offer.extensions.keys()].sort((a, b) => a - b),
    [2, 3, 4, 10, 11],
  );
});

test('preparePublishOffer() reads payload types only in canonical form: "098" is not 98', () => {
  // Found by the fast-check SDP property: a zero-padded rtcp-fb line outlived the rewrite.
  const padded = CHROMIUM_VIDEO_OFFER.replace('a=rtcp-fb:98 goog-remb', 'a=rtcp-fb:098 goog-remb').replace(
    'a=fmtp:99 apt=98',
    'a=fmtp:099 apt=098',
  );
  const offer = preparePublishOffer(padded, 'video', true);
  assert.equal(offer.payloadType, 98);
  assert.equal(offer.rtxPayloadType, null, 'an RTX pairing written with padded numbers is not one');
  assert.doesNotMatch(offer.sdp, /^a=(?:rtpmap|fmtp|rtcp-fb):0\d/m, 'no zero-padded payload type survives');
});

test('preparePublishOffer() pairs RTX only when the media line offers its payload type', () => {
  // Found by jsfuzz in CI: an rtx rtpmap missing from the m= line was kept with its rtcp-fb lines.
  const unlisted = CHROMIUM_VIDEO_OFFER.replace('SAVPF 96 97 98 99 45 46', 'SAVPF 96 97 98 45 46').replace(
    'a=fmtp:99 apt=98',
    'a=fmtp:99 apt=98\r\na=rtcp-fb:99 nack',
  );
  const offer = preparePublishOffer(unlisted, 'video', true);
  assert.equal(offer.rtxPayloadType, null, 'an RTX the media line does not offer is not negotiated');
  assert.match(offer.sdp, /^m=video 9 UDP\/TLS\/RTP\/SAVPF 98$/m);
  assert.doesNotMatch(offer.sdp, /^a=(?:rtpmap|fmtp|rtcp-fb):99/m);
});

test('preparePublishOffer() leaves actpass alone when AES-256-GCM is not preferred', () => {
  assert.match(preparePublishOffer(CHROMIUM_VIDEO_OFFER, 'video', false).sdp, /a=setup:actpass/);
});

test('preparePublishOffer() refuses an offer for the other kind with sdp_invalid', () => {
  assert.throws(() => preparePublishOffer(CHROMIUM_VIDEO_OFFER, 'audio', true), { code: 'sdp_invalid' });
});

test('flipSimulcastDirection() turns the copied send lines into recv', () => {
  const answer = 'a=rid:q send\r\na=rid:h send\r\na=simulcast:send q;h\r\n';
  assert.equal(flipSimulcastDirection(answer), 'a=rid:q recv\r\na=rid:h recv\r\na=simulcast:recv q;h\r\n');
});

test('announceAddress() rewrites host candidates, connection and origin lines', () => {
  const sdp = [
    'o=rtc 1 0 IN IP4 127.0.0.1',
    'c=IN IP4 127.0.0.1',
    'a=candidate:1 1 UDP 2114977791 127.0.0.1 7882 typ host',
    '',
  ].join('\r\n');
  assert.equal(
    announceAddress(sdp, '2001:db8::1'),
    [
      'o=rtc 1 0 IN IP6 2001:db8::1',
      'c=IN IP6 2001:db8::1',
      'a=candidate:1 1 UDP 2114977791 2001:db8::1 7882 typ host',
      '',
    ].join('\r\n'),
  );
});

/** The Chromium offer with H.264 payload types in front of VP8 (in the order given). */
function withH264First(formats: { pt: number; fmtp: string }[]): string {
  const pts = formats.map((f) => f.pt).join(' ');
  const lines = formats.flatMap((f) => [`a=rtpmap:${f.pt} H264/90000`, `a=fmtp:${f.pt} ${f.fmtp}`]);
  return CHROMIUM_VIDEO_OFFER.replace('SAVPF 96 97', `SAVPF ${pts} 96 97`).replace(
    'a=rtpmap:96 VP9/90000',
    [...lines, 'a=rtpmap:96 VP9/90000'].join('\r\n'),
  );
}

test('preparePublishOffer() takes H.264 when the publisher put it first, packetization-mode 1 only', () => {
  const offer = preparePublishOffer(
    withH264First([
      { pt: 35, fmtp: 'level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f' },
      { pt: 36, fmtp: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f' },
    ]),
    'video',
    true,
  );
  assert.equal(offer.codec.name, 'H264');
  assert.equal(offer.payloadType, 36, 'mode 0 (single NAL only) is skipped');
  assert.equal(
    offer.formatParameters,
    'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
  );
  assert.match(offer.sdp, /^m=video 9 UDP\/TLS\/RTP\/SAVPF 36$/m);
  const vp8 = preparePublishOffer(CHROMIUM_VIDEO_OFFER, 'video', true);
  assert.equal(vp8.codec.name, 'VP8', "Chromium's default order puts VP8 before H.264");
  const onlyMode0 = withH264First([{ pt: 35, fmtp: 'packetization-mode=0;profile-level-id=42e01f' }]);
  assert.equal(preparePublishOffer(onlyMode0, 'video', true).codec.name, 'VP8');
});

test('withOpusOptions() negotiates in-band FEC and DTX, keeping the other parameters', () => {
  const sdp =
    'v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=0\r\n';
  assert.match(withOpusOptions(sdp), /^a=fmtp:111 minptime=10;useinbandfec=1;usedtx=1$/m);
  const bare = 'v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 109\r\na=rtpmap:109 opus/48000/2\r\n';
  assert.match(withOpusOptions(bare), /^a=rtpmap:109 opus\/48000\/2\r\na=fmtp:109 useinbandfec=1;usedtx=1$/m);
  const video = 'v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=fmtp:96 x=1\r\n';
  assert.equal(withOpusOptions(video), video, 'no Opus: unchanged');
});

test('addRtxSsrcGroups() pairs each slot with its RTX SSRC; answeredRtxPayloadType() reads the answer', () => {
  const offer = [
    'v=0',
    'm=video 9 UDP/TLS/RTP/SAVPF 96 97',
    'a=mid:0',
    'a=ssrc:1111 cname:c',
    'a=ssrc:1111 msid:s t',
    'a=rtpmap:96 VP8/90000',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111',
    'a=mid:1',
    '',
  ].join('\r\n');
  const grouped = addRtxSsrcGroups(offer, [{ mid: '0', mediaSsrc: 1111, rtxSsrc: 2222 }]);
  const video = grouped.split('m=audio')[0]!;
  assert.match(video, /^a=ssrc-group:FID 1111 2222$/m);
  assert.match(video, /^a=ssrc:2222 cname:c$/m);
  assert.match(video, /^a=ssrc:2222 msid:s t$/m);
  assert.doesNotMatch(grouped.split('m=audio')[1]!, /2222/);
  const answer = 'v=0\r\nm=video 9 X 96 97\r\na=mid:0\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n';
  assert.equal(answeredRtxPayloadType(answer, '0', 96), 97);
  assert.equal(answeredRtxPayloadType(answer, '1', 96), null);
  assert.equal(answeredRtxPayloadType(answer.replace('apt=96', 'apt=98'), '0', 96), null);
});
