/**
 * SDP rewriting the media plane needs around libdatachannel. Pure string work on lines, done once
 * per negotiation, never per packet.
 */
import { ConclaveError } from '@conclave/protocol/errors';
import type { MediaKind } from './api.ts';
import { AUDIO_LEVEL_URI } from './rtp/audio-level.ts';
import { type CodecInfo, codecByName } from './rtp/codecs.ts';
import { TRANSPORT_CC_URI } from './rtp/twcc.ts';

export const RTP_STREAM_ID_URI = 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id';
export const REPAIRED_RTP_STREAM_ID_URI = 'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id';

/** Header extensions the SFU understands; the answer copies the offer's, so others are removed. */
export const UNDERSTOOD_EXTENSIONS = new Set([
  'urn:ietf:params:rtp-hdrext:sdes:mid',
  RTP_STREAM_ID_URI,
  REPAIRED_RTP_STREAM_ID_URI,
  'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  AUDIO_LEVEL_URI,
  // Negotiated because the SFU answers with transport-wide feedback (worker/twcc-feedback.ts):
  // negotiated without feedback, Chromium's uplink estimate would decay to ~30 kbps (MEDIA-NOTES).
  TRANSPORT_CC_URI,
]);

/** Extensions whose values are per-connection (mid, rid) and must not reach a subscriber. */
export const CONNECTION_SCOPED_EXTENSIONS = new Set([
  'urn:ietf:params:rtp-hdrext:sdes:mid',
  'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
  'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
  // Transport-wide sequence numbers count the publisher's connection, not the subscriber's.
  TRANSPORT_CC_URI,
]);

const MAX_SDP_BYTES = 64 * 1024;

export interface PublishOffer {
  /** The offer as libdatachannel should see it. */
  sdp: string;
  mid: string;
  codec: CodecInfo;
  payloadType: number;
  /** RTX payload type paired with `payloadType` (the publisher's resends). */
  rtxPayloadType: number | null;
  /** The chosen payload type's fmtp parameters ('' when none), offered to subscribers as they are. */
  formatParameters: string;
  /** Header extension id -> URI, after filtering. */
  extensions: Map<number, string>;
  /**
   * Simulcast rids in the order of `a=simulcast:send`, which is the order of the sender's
   * encodings: the SDK lists them from the lowest resolution to the highest, and layer index
   * follows this order. Empty without simulcast.
   */
  rids: string[];
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
  const fmtps = parseFmtps(lines);
  const offered = mediaParts.slice(3);
  const chosen = choosePayloadType(offered, rtpmaps, fmtps, kind);
  if (!chosen) throw invalid(`no supported ${kind} codec offered`);
  const offeredPayloadTypes = new Set(offered.map(payloadTypeOf).filter((pt) => pt >= 0));
  const rtx = findRtxFor(lines, offeredPayloadTypes, rtpmaps, chosen.payloadType);
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
    formatParameters: fmtps.get(chosen.payloadType) ?? '',
    extensions,
    rids: simulcastRids(lines),
  };
}

/** At most this many layers are read from an offer (Chromium sends up to 3 for VP8). */
const MAX_SIMULCAST_LAYERS = 4;

/** The send rids of `a=simulcast:send a;b;c` (alternatives `a,b` keep the first, `~` = paused). */
function simulcastRids(lines: string[]): string[] {
  const line = lines.find((l) => l.startsWith('a=simulcast:send '));
  if (!line) return [];
  const rids = line
    .slice('a=simulcast:send '.length)
    .split(' ')[0]!
    .split(';')
    .map((entry) => entry.split(',')[0]!.replace(/^~/, ''))
    .filter((rid) => /^[A-Za-z0-9_-]{1,16}$/.test(rid));
  return rids.length >= 2 ? rids.slice(0, MAX_SIMULCAST_LAYERS) : [];
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
    // dropped rather than passed through.
    const format = formatLine[1]!;
    const wildcard = format === '*' && line.startsWith('a=rtcp-fb:');
    if (!wildcard && !keep.has(payloadTypeOf(format))) return null;
    return line;
  }
  if (line.startsWith('a=extmap:')) {
    // Anything but a well-formed extmap of an extension we understand is dropped, so a malformed
    // line can never carry an extension past the filter.
    const extmap = /^a=extmap:(\d{1,3})(?:\/(?:sendrecv|sendonly|recvonly|inactive))? (\S+)/.exec(line);
    const id = Number(extmap?.[1]);
    if (!extmap || !isExtensionId(id) || !UNDERSTOOD_EXTENSIONS.has(extmap[2]!)) return null;
    extensions.set(id, extmap[2]!);
    return line;
  }
  if (activeSetup && line === 'a=setup:actpass') return 'a=setup:active';
  return line;
}

/**
 * RTP payload types are 7 bits, written in canonical decimal (no sign, no leading zero: "096" is
 * not 96): anything else is not one (-1).
 */
function payloadTypeOf(text: string | undefined): number {
  if (!text || !/^(?:0|[1-9]\d{0,2})$/.test(text)) return -1;
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

function parseFmtps(lines: string[]): Map<number, string> {
  const fmtps = new Map<number, string>();
  for (const line of lines) {
    const match = /^a=fmtp:(\d+) (\S{1,256})$/.exec(line);
    const payloadType = payloadTypeOf(match?.[1]);
    if (match && payloadType >= 0) fmtps.set(payloadType, match[2]!);
  }
  return fmtps;
}

/** The H.264 fmtp parameters the SFU forwards: non-interleaved mode and a plain profile-level-id. */
function forwardableH264(parameters: string): boolean {
  return (
    /(?:^|;)packetization-mode=1(?:;|$)/.test(parameters) &&
    /(?:^|;)profile-level-id=[0-9a-fA-F]{6}(?:;|$)/.test(parameters)
  );
}

/**
 * The first forwardable codec in the offer's order, which is the publisher's preference: Chromium
 * lists VP8 first unless the page chose H.264 with setCodecPreferences.
 */
function choosePayloadType(
  payloadTypes: string[],
  rtpmaps: Map<number, string>,
  fmtps: Map<number, string>,
  kind: MediaKind,
): { payloadType: number; codec: CodecInfo } | null {
  for (const text of payloadTypes) {
    const payloadType = payloadTypeOf(text);
    if (payloadType < 0) continue;
    const codec = codecByName(rtpmaps.get(payloadType) ?? '');
    if (!codec || codec.kind !== kind) continue;
    if (codec.name === 'H264' && !forwardableH264(fmtps.get(payloadType) ?? '')) continue;
    return { payloadType, codec };
  }
  return null;
}

/**
 * The RTX payload type repairing `payloadType`: only one the media line offers, since an
 * `a=rtpmap` without its format on the m= line negotiates nothing (RFC 8866 section 6.6).
 */
function findRtxFor(
  lines: string[],
  offered: Set<number>,
  rtpmaps: Map<number, string>,
  payloadType: number,
): number | null {
  for (const line of lines) {
    const match = /^a=fmtp:(\d+) apt=(\d+)/.exec(line);
    const rtx = payloadTypeOf(match?.[1]);
    if (
      offered.has(rtx) &&
      payloadTypeOf(match?.[2]) === payloadType &&
      rtpmaps.get(rtx)?.toLowerCase() === 'rtx'
    ) {
      return rtx;
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

/** A subscriber slot's media SSRC and the RTX SSRC that repairs it. */
export interface RtxSsrcPair {
  mid: string;
  mediaSsrc: number;
  rtxSsrc: number;
}

/**
 * Declares each slot's RTX SSRC in the SFU's offer (`a=ssrc-group:FID` plus its own ssrc lines,
 * copied from the media SSRC's): libdatachannel writes the RTX payload type but has no way to
 * group SSRCs, and a receiver pairs RTX with its media stream through that group.
 */
export function addRtxSsrcGroups(sdp: string, pairs: readonly RtxSsrcPair[]): string {
  const lines = splitLines(sdp);
  const out: string[] = [];
  let mid: string | null = null;
  const pending = new Map(pairs.map((p) => [p.mid, p]));
  const flush = (before: string[]) => {
    const pair = mid === null ? undefined : pending.get(mid);
    if (!pair) return;
    pending.delete(pair.mid);
    const mediaLines = before.filter((l) => l.startsWith(`a=ssrc:${pair.mediaSsrc} `));
    out.push(`a=ssrc-group:FID ${pair.mediaSsrc} ${pair.rtxSsrc}`);
    for (const line of mediaLines)
      out.push(line.replace(`a=ssrc:${pair.mediaSsrc} `, `a=ssrc:${pair.rtxSsrc} `));
  };
  let section: string[] = [];
  for (const line of lines) {
    if (line.startsWith('m=')) {
      flush(section);
      section = [];
      mid = null;
    }
    if (line.startsWith('a=mid:')) mid = line.slice(6);
    section.push(line);
    out.push(line);
  }
  flush(section);
  return joinLines(out);
}

/**
 * The RTX payload type a subscriber's answer accepted for `payloadType` in section `mid`, or null
 * when it did not negotiate RTX there (retransmissions then go out as the original packet).
 */
export function answeredRtxPayloadType(answerSdp: string, mid: string, payloadType: number): number | null {
  const section = splitLines(answerSdp)
    .join('\n')
    .split(/\nm=/)
    .find((s) => new RegExp(`^a=mid:${mid.replace(/[^A-Za-z0-9]/g, '')}$`, 'm').test(s));
  if (!section) return null;
  for (const match of section.matchAll(/^a=fmtp:(\d{1,3}) apt=(\d{1,3})$/gm)) {
    const rtx = payloadTypeOf(match[1]);
    if (
      rtx >= 0 &&
      payloadTypeOf(match[2]) === payloadType &&
      new RegExp(`^a=rtpmap:${rtx} rtx/`, 'im').test(section)
    )
      return rtx;
  }
  return null;
}

/** Opus options the SFU negotiates both ways: in-band FEC (loss concealment) and DTX (silence costs almost nothing). */
export const OPUS_OPTIONS: Readonly<Record<string, string>> = { useinbandfec: '1', usedtx: '1' };

/**
 * Sets OPUS_OPTIONS in the fmtp of every Opus payload type of `sdp` (adding the line if there is
 * none): libdatachannel writes useinbandfec but not usedtx in its offers, and copies the offer's
 * fmtp into its answers.
 */
export function withOpusOptions(sdp: string): string {
  const lines = splitLines(sdp);
  const opus = new Set(
    lines.flatMap((l) => {
      const match = /^a=rtpmap:(\d{1,3}) opus\//i.exec(l);
      return match ? [match[1]!] : [];
    }),
  );
  if (opus.size === 0) return sdp;
  const withFmtp = new Set<string>();
  const out = lines.map((line) => {
    const match = /^a=fmtp:(\d{1,3}) (.*)$/.exec(line);
    if (!match || !opus.has(match[1]!)) return line;
    withFmtp.add(match[1]!);
    return `a=fmtp:${match[1]} ${mergeParameters(match[2]!, OPUS_OPTIONS)}`;
  });
  const result: string[] = [];
  for (const line of out) {
    result.push(line);
    const rtpmap = /^a=rtpmap:(\d{1,3}) opus\//i.exec(line);
    if (rtpmap && !withFmtp.has(rtpmap[1]!))
      result.push(`a=fmtp:${rtpmap[1]} ${mergeParameters('', OPUS_OPTIONS)}`);
  }
  return joinLines(result);
}

/** `a=1;b=2` with `options` set (replacing values of the same keys, keeping the others in order). */
function mergeParameters(parameters: string, options: Readonly<Record<string, string>>): string {
  const kept = parameters
    .split(';')
    .filter((p) => p.length > 0 && !Object.hasOwn(options, p.split('=')[0]!.trim()));
  return [...kept, ...Object.entries(options).map(([k, v]) => `${k}=${v}`)].join(';');
}

/**
 * libdatachannel offers no header extensions to subscribers, and node-datachannel has no API to
 * add one: transport-wide sequence numbers (worker/twcc-stamper.ts) and the feedback asking for
 * them are added to every media section of the offer here.
 */
export function offerTransportCc(offerSdp: string, extensionId: number): string {
  const lines = splitLines(offerSdp);
  const out: string[] = [];
  for (const line of lines) {
    out.push(line);
    if (line.startsWith('a=mid:')) out.push(`a=extmap:${extensionId} ${TRANSPORT_CC_URI}`);
    const rtpmap = /^a=rtpmap:(\d+) /.exec(line);
    if (rtpmap) out.push(`a=rtcp-fb:${rtpmap[1]} transport-cc`);
  }
  return joinLines(out);
}

/** True when the answer kept transport-cc: only then does the browser send feedback. */
export function answerAcceptsTransportCc(answerSdp: string): boolean {
  return splitLines(answerSdp).some(
    (line) => /^a=extmap:\d+(\/\S+)? (\S+)$/.exec(line)?.[2] === TRANSPORT_CC_URI,
  );
}
