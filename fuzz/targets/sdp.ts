/**
 * SDP checks and rewriting (apps/server/src/media/sdp.ts): a publisher's offer and a
 * subscriber's answer arrive from the browser through signaling. Contract: a result, or
 * ConclaveError('sdp_invalid'); a result only carries what RTP can express (payload types are
 * 7 bits, extension ids 1-255) and only extensions the SFU understands.
 *
 * Input: first byte picks kind and DTLS role, the rest is the SDP text (UTF-8).
 */
import {
  announceAddress,
  checkAnswer,
  flipSimulcastDirection,
  midsOf,
  preparePublishOffer,
  UNDERSTOOD_EXTENSIONS,
} from '../../apps/server/src/media/sdp.ts';
import { check, conclaveErrorWith, expectOnly, InputReader } from './contract.ts';

const sdpInvalid = conclaveErrorWith('sdp_invalid');
const never = () => false;

export function fuzz(data: Buffer): void {
  const reader = new InputReader(data);
  const selector = reader.byte();
  const text = Buffer.from(reader.rest()).toString('utf8');
  const kind = selector & 1 ? 'video' : 'audio';
  checkOffer(text, kind, (selector & 2) !== 0);
  const answer = expectOnly('checkAnswer', () => checkAnswer(text, ['0', '1']), sdpInvalid);
  if (answer.ok) check(answer.value.startsWith('v=0\r\n'), 'an accepted answer starts with v=0');
  for (const [name, run] of [
    ['flipSimulcastDirection', () => flipSimulcastDirection(text)],
    ['announceAddress', () => announceAddress(text, '192.0.2.1')],
    ['midsOf', () => midsOf(text)],
  ] as const) {
    check(expectOnly<unknown>(name, run, never).ok, name);
  }
}

function checkOffer(text: string, kind: 'audio' | 'video', activeSetup: boolean): void {
  const offer = expectOnly(
    'preparePublishOffer',
    () => preparePublishOffer(text, kind, activeSetup),
    sdpInvalid,
  );
  if (!offer.ok) return;
  const result = offer.value;
  const isRtpPayloadType = (pt: number) => Number.isInteger(pt) && pt >= 0 && pt <= 127;
  check(
    isRtpPayloadType(result.payloadType),
    `accepted payload type ${result.payloadType} is not a 7-bit RTP payload type`,
  );
  check(
    result.rtxPayloadType === null ||
      (isRtpPayloadType(result.rtxPayloadType) && result.rtxPayloadType !== result.payloadType),
    `accepted RTX payload type ${result.rtxPayloadType}`,
  );
  check(result.codec.kind === kind, 'the chosen codec is of the requested kind');
  check(/^[A-Za-z0-9_\-.]{1,32}$/.test(result.mid), 'mid');
  for (const [id, uri] of result.extensions) {
    check(Number.isInteger(id) && id >= 1 && id <= 255, `accepted header extension id ${id}`);
    check(UNDERSTOOD_EXTENSIONS.has(uri), `kept an extension the SFU does not understand: ${uri}`);
  }
  const lines = result.sdp.split('\r\n');
  check(lines[0] === 'v=0', 'rewritten offer starts with v=0');
  const mediaLines = lines.filter((l) => l.startsWith('m='));
  check(mediaLines.length === 1, 'rewritten offer has one media section');
  const formats = mediaLines[0]!.split(' ').slice(3);
  check(
    formats.every((f) => /^\d{1,3}$/.test(f) && isRtpPayloadType(Number(f))),
    `rewritten media line carries formats that are not RTP payload types: ${formats.join(' ')}`,
  );
  // transport-cc is negotiated now that the SFU sends feedback; what must still go is feedback
  // (rtcp-fb) of a payload type the rewrite dropped, malformed ones included.
  const feedbackFormats = lines.flatMap((l) => /^a=rtcp-fb:(\S+) /.exec(l)?.slice(1) ?? []);
  check(
    feedbackFormats.every((f) => f === '*' || formats.includes(f)),
    'rtcp-fb line of a payload type that is not in the media line survives the rewrite',
  );
}
