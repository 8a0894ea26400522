/**
 * SDP rewriting on a Chromium-shaped offer: what libdatachannel would otherwise copy into its
 * answer and what Chromium then does with it (MEDIA-NOTES).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { announceAddress, flipSimulcastDirection, preparePublishOffer } from '@conclave/server/media/sdp';

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
  assert.doesNotMatch(offer.sdp, /transport-cc/, 'no transport-cc until the SFU sends TWCC feedback');
  assert.doesNotMatch(offer.sdp, /toffset/);
  assert.match(offer.sdp, /a=rtcp-fb:98 nack pli/);
  assert.match(offer.sdp, /a=setup:active/);
  assert.doesNotMatch(offer.sdp, /a=setup:actpass/);
  assert.match(offer.sdp, /a=rid:q send/, 'the offer keeps its simulcast lines');
  assert.deepEqual(
    [...offer.extensions.keys()].sort((a, b) => a - b),
    [2, 4, 10, 11],
  );
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
