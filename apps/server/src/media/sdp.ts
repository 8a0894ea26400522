/**
 * SDP rewriting the media plane needs around libdatachannel. Pure string work on lines, done once
 * per negotiation, never per packet.
 */
import { ConclaveError } from '@conclave/protocol/errors';
import type { MediaKind } from './api.ts';
import { type CodecInfo, codecByName } from './rtp/codecs.ts';

/** Header extensions the SFU understands; the answer copies the offer's, so others are removed. */
export const UNDERSTOOD_EXTENSIONS = new Set([
  'urn:ietf:params:rtp-hdrext:sdes:mid',
  'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
  'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
  'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  'urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  // transport-cc is deliberately absent until the SFU sends TWCC feedback (issue 4): negotiated
  // without feedback, Chromium's uplink estimate decays to ~30 kbps (MEDIA-NOTES).
]);

/** Extensions whose values are per-connection (mid, rid) and must not reach a subscriber. */
export const CONNECTION_SCOPED_EXTENSIONS = new Set([
  'urn:ietf:params:rtp-hdrext:sdes:mid',
  'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
  'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
]);

const MAX_SDP_BYTES = 64 * 1024;

export interface PublishOffer {
  /** The offer as libdatachannel should see it. */
  sdp: string;
  mid: string;
  codec: CodecInfo;
  payloadType: number;
  /** RTX payload type paired with `payloadType`, kept for NACK/RTX later. */
  rtxPayloadType: number | null;
  /** Header extension id -> URI, after filtering. */
  extensions: Map<number, string>;
}

function splitLines(sdp: string): string[] {
  return sdp.split(/\r?\n/).filter((line) => line.length > 0);
}

function joinLines(lines: string[]): string {
  return lines.join('\r\n') + '\r\n';
}

function invalid(reason: string): ConclaveError {
  return new ConclaveError('sdp_invalid', `The session description is not valid: ${reason}`);
}

/**
 * Checks a publisher's offer and rewrites it for the SFU: exactly one media section of the
 * expected kind, one forwardable codec (plus its RTX), understood header extensions only, and
 * (when `activeSetup`) `a=setup:active` so libdatachannel becomes the DTLS server and picks
 * AEAD_AES_256_GCM where the browser offers it.
 */
export function preparePublishOffer(offerSdp: string, kind: MediaKind, activeSetup: boolean): PublishOffer {
  if (typeof offerSdp !== 'string' || offerSdp.length > MAX_SDP_BYTES) throw invalid('too large');
  const lines = splitLines(offerSdp);
  if (lines[0] !== 'v=0') throw invalid('it does not start with v=0');
  const mediaStarts = lines.flatMap((line, i) => (line.startsWith('m=') ? [i] : []));
  if (mediaStarts.length !== 1) throw invalid('a publisher connection must have exactly one media section');
  const mediaLine = lines[mediaStarts[0]!]!;
  const mediaParts = mediaLine.slice(2).split(' ');
  if (mediaParts[0] !== kind) throw invalid(`the media section is not ${kind}`);
  if (!lines.some((l) => l.startsWith('a=fingerprint:'))) throw invalid('no DTLS fingerprint');
  if (!lines.some((l) => l.startsWith('a=ice-ufrag:')) || !lines.some((l) => l.startsWith('a=ice-pwd:'))) {
    throw invalid('no ICE credentials');
  }
  const mid = lines.find((l) => l.startsWith('a=mid:'))?.slice(6) ?? '0';
  if (!/^[A-Za-z0-9_\-.]{1,32}$/.test(mid)) throw invalid('bad mid');
  const rtpmaps = parseRtpmaps(lines);
  const chosen = choosePayloadType(mediaParts.slice(3), rtpmaps, kind);
  if (!chosen) throw invalid(`no supported ${kind} codec offered`);
  const rtx = findRtxFor(lines, rtpmaps, chosen.payloadType);
  const keep = new Set([chosen.payloadType, ...(rtx === null ? [] : [rtx])]);
  const extensions = new Map<number, string>();
  const out: string[] = [];
  for (const line of lines) {
    const rewritten = rewriteOfferLine(line, keep, extensions, activeSetup);
    if (rewritten !== null) out.push(rewritten);
  }
  return {
    sdp: joinLines(out),
    mid,
    codec: chosen.codec,
    payloadType: chosen.payloadType,
    rtxPayloadType: rtx,
    extensions,
  };
}

function rewriteOfferLine(
  line: string,
  keep: Set<number>,
  extensions: Map<number, string>,
  activeSetup: boolean,
): string | null {
  if (line.startsWith('m=')) {
    const parts = line.split(' ');
    return [...parts.slice(0, 3), ...parts.slice(3).filter((pt) => keep.has(payloadTypeOf(pt)))].join(' ');
  }
  const formatLine = /^a=(?:rtpmap|fmtp|rtcp-fb):(\S*)/.exec(line);
  if (formatLine) {
    // Only lines of a kept payload type (or rtcp-fb's '*') survive; a malformed payload type is
    // dropped rather than passed through, so it cannot smuggle transport-cc past the filter.
    const format = formatLine[1]!;
    const wildcard = format === '*' && line.startsWith('a=rtcp-fb:');
    if (!wildcard && !keep.has(payloadTypeOf(format))) return null;
    if (line.includes('transport-cc')) return null;
    return line;
  }
  if (line.startsWith('a=extmap:')) {
    // Anything but a well-formed extmap of an extension we understand is dropped, so a malformed
    // line can never carry an extension (transport-cc, say) past the filter.
    const extmap = /^a=extmap:(\d{1,3})(?:\/(?:sendrecv|sendonly|recvonly|inactive))? (\S+)/.exec(line);
    const id = Number(extmap?.[1]);
    if (!extmap || !isExtensionId(id) || !UNDERSTOOD_EXTENSIONS.has(extmap[2]!)) return null;
    extensions.set(id, extmap[2]!);
    return line;
  }
  if (activeSetup && line === 'a=setup:actpass') return 'a=setup:active';
  return line;
}

/** RTP payload types are 7 bits, written in decimal: anything else is not one (-1). */
function payloadTypeOf(text: string | undefined): number {
  if (!text || !/^\d{1,3}$/.test(text)) return -1;
  const value = Number(text);
  return value <= 127 ? value : -1;
}

/** RFC 8285: 0 is padding, 15 is reserved in the one-byte form Chromium uses, 255 is the maximum. */
function isExtensionId(id: number): boolean {
  return Number.isInteger(id) && id >= 1 && id <= 255 && id !== 15;
}

function parseRtpmaps(lines: string[]): Map<number, string> {
  const rtpmaps = new Map<number, string>();
  for (const line of lines) {
    const match = /^a=rtpmap:(\d+) ([^/\s]+)\//.exec(line);
    const payloadType = payloadTypeOf(match?.[1]);
    if (match && payloadType >= 0) rtpmaps.set(payloadType, match[2]!);
  }
  return rtpmaps;
}

function choosePayloadType(
  payloadTypes: string[],
  rtpmaps: Map<number, string>,
  kind: MediaKind,
): { payloadType: number; codec: CodecInfo } | null {
  for (const text of payloadTypes) {
    const payloadType = payloadTypeOf(text);
    if (payloadType < 0) continue;
    const codec = codecByName(rtpmaps.get(payloadType) ?? '');
    if (codec && codec.kind === kind) return { payloadType, codec };
  }
  return null;
}

function findRtxFor(lines: string[], rtpmaps: Map<number, string>, payloadType: number): number | null {
  for (const line of lines) {
    const match = /^a=fmtp:(\d+) apt=(\d+)/.exec(line);
    if (match && Number(match[2]) === payloadType && rtpmaps.get(Number(match[1]))?.toLowerCase() === 'rtx') {
      return Number(match[1]);
    }
  }
  return null;
}

/**
 * libdatachannel copies `a=rid:X send` and `a=simulcast:send` into its answer unchanged, and
 * Chromium then deactivates every encoding: the answerer receives, so flip them to recv.
 */
export function flipSimulcastDirection(answerSdp: string): string {
  return answerSdp
    .replace(/^a=rid:(\S+) send/gm, 'a=rid:$1 recv')
    .replace(/^a=simulcast:send /gm, 'a=simulcast:recv ');
}

/** Puts `address` into host candidates and connection lines (servers behind NAT). */
export function announceAddress(sdp: string, address: string): string {
  const family = address.includes(':') ? 'IP6' : 'IP4';
  return sdp
    .replace(
      /^(a=candidate:\S+ \d+ \S+ \d+ )(\S+)( \d+ typ host)/gm,
      (_all, head: string, _old: string, tail: string) => `${head}${address}${tail}`,
    )
    .replace(/^c=IN IP[46] \S+/gm, `c=IN ${family} ${address}`)
    .replace(/^(o=\S+ \S+ \S+) IN IP[46] \S+/m, `$1 IN ${family} ${address}`);
}

/** The mids of an SDP, in order, for checking an answer against the offer. */
export function midsOf(sdp: string): string[] {
  return splitLines(sdp)
    .filter((l) => l.startsWith('a=mid:'))
    .map((l) => l.slice(6));
}

/** Basic shape check of a subscriber's answer before libdatachannel parses it. */
export function checkAnswer(answerSdp: string, expectedMids: string[]): string {
  if (typeof answerSdp !== 'string' || answerSdp.length > MAX_SDP_BYTES) throw invalid('too large');
  const lines = splitLines(answerSdp);
  if (lines[0] !== 'v=0') throw invalid('it does not start with v=0');
  if (!lines.some((l) => l.startsWith('a=fingerprint:'))) throw invalid('no DTLS fingerprint');
  const mids = midsOf(answerSdp);
  if (mids.length !== expectedMids.length || mids.some((m, i) => m !== expectedMids[i])) {
    throw invalid('the answer does not match the offer');
  }
  return joinLines(lines);
}
