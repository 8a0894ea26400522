/**
 * Compound RTCP (apps/server/src/media/rtp/rtcp.ts): SR/RR, PLI, FIR, and whatever else a
 * publisher or subscriber sends (NACK, REMB, transport-wide feedback are walked over). Runs on
 * every RTCP datagram from the network: never throws, reports only what lies inside the packet.
 */
import { findSenderReport, forEachKeyFrameRequest, RTCP_SR } from '../../apps/server/src/media/rtp/rtcp.ts';
import { check, expectOnly } from './contract.ts';

const never = () => false;

export function fuzz(data: Buffer): void {
  const packet = Uint8Array.from(data);
  const ssrcs: number[] = [];
  const walk = expectOnly(
    'forEachKeyFrameRequest',
    () => forEachKeyFrameRequest(packet, (s) => ssrcs.push(s)),
    never,
  );
  check(walk.ok, 'forEachKeyFrameRequest');
  // Each request needs at least 4 bytes of its own (PLI media SSRC / FIR entry).
  check(ssrcs.length <= packet.length / 4, `${ssrcs.length} key frame requests from ${packet.length} bytes`);
  check(
    ssrcs.every((s) => Number.isInteger(s) && s >= 0 && s <= 0xffffffff),
    'a key frame request names a non-uint32 SSRC',
  );
  const sr = expectOnly('findSenderReport', () => findSenderReport(packet), never);
  check(sr.ok, 'findSenderReport');
  if (sr.value === -1) return;
  check(Number.isInteger(sr.value) && sr.value >= 0 && sr.value % 4 === 0, `sender report at ${sr.value}`);
  check(sr.value + 28 <= packet.length, `sender report at ${sr.value} overruns ${packet.length} bytes`);
  check(packet[sr.value + 1] === RTCP_SR, 'findSenderReport points at something that is not an SR');
}
