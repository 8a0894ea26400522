/**
 * Bandwidth estimate of one subscriber connection's downlink, from the browser's transport-cc
 * feedback on the packets the SFU sent (numbered by twcc-stamper.ts). A small relative of GCC
 * (draft-ietf-rmcat-gcc-02), with the same two signals:
 *
 * - Loss: over each update window (at least UPDATE_INTERVAL_MS and MIN_PACKETS_FOR_LOSS packets)
 *   the fraction of reported packets that did not arrive. Above 10%: estimate *= 1 - loss/2
 *   (GCC's rule), but not below 0.85 x the acknowledged rate (what overuse would set: an
 *   overflowing queue still delivers the link's rate). Below 2%: the estimate may grow. In
 *   between: hold. After any decrease only packets sent since count: the loss of those sent at
 *   the old rate keeps arriving in feedback for a round trip and a queue's drain, and would
 *   decrease the estimate again and again.
 * - Delay gradient: packets are grouped by send time (5 ms bursts, as GCC); for consecutive groups
 *   the one-way delay variation d = (arrival delta) - (send delta) is accumulated, smoothed
 *   (alpha 0.9) and a least-squares slope fitted over the last 20 groups (GCC's trendline
 *   filter). The slope is how fast a queue grows: 0.1 means the queue grows 100 ms per second,
 *   i.e. the SFU sends ~10% more than the link carries. Slope x min(groups, 60) x 4 above 12.5
 *   (GCC's gain and initial threshold; the threshold is fixed here, not adaptive) for at least
 *   100 ms of arrivals (a single event-loop stall must not count) is overuse:
 *   estimate = 0.85 x the bitrate the browser acknowledged receiving over the last second.
 *   Below -12.5 (a queue draining) the estimate holds.
 *
 * Growth, when neither signal objects: x1.08 per update (about +47% per second at 5 updates per
 * second; much faster than GCC's 8%/s because the SFU does not probe with padding, so each layer
 * step up is itself the probe, and the climb back to the high layer after a link recovers must
 * take under 10 s: measured in Chromium 4.3-5.8 s, against 4.2-9.8 s at x1.05), never above 2 x the acknowledged rate + 500 kbit/s, and not during
 * HOLD_AFTER_DECREASE_MS after a decrease (the queue needs time to drain before the delay signal
 * means anything again). Floor 30 kbit/s, ceiling 20 Mbit/s.
 *
 * Unconstrained until proven otherwise: until the first decrease the estimate only follows the
 * acknowledged rate upwards and `constrained` is false, and the allocator gives every consumer
 * what it asks for. A healthy link then never sees a paused or lowered video at the start of a
 * call; a congested one shows loss or overuse within a second and the estimate takes over.
 *
 * Pure logic: no timers, no I/O. Time is passed in (performance.now() ms).
 */
import { RTCP_RTPFB } from '../rtp/rtcp.ts';
import { parseTransportFeedback, RTPFB_TRANSPORT_CC, type TransportFeedback } from '../rtp/twcc.ts';
import type { TwccStamper } from './twcc-stamper.ts';

export const ESTIMATOR = {
  initialBps: 1_000_000,
  minBps: 30_000,
  maxBps: 20_000_000,
  updateIntervalMs: 200,
  minPacketsForLoss: 20,
  lossDecreaseAbove: 0.1,
  lossIncreaseBelow: 0.02,
  increaseFactor: 1.08,
  overuseBackoff: 0.85,
  ackedRateWindowMs: 1000,
  maxOverAcked: 2,
  probeHeadroomBps: 500_000,
  holdAfterDecreaseMs: 1000,
  groupSpanMs: 5,
  trendWindow: 20,
  smoothing: 0.9,
  trendGain: 4,
  overuseThreshold: 12.5,
  /** The trend must stay above the threshold this long (GCC: 10 ms; longer against event-loop stalls). */
  overuseTimeMs: 100,
  /** Growth held at the ceiling this long, with no congestion signal: unconstrained again. */
  releaseAfterMs: 1500,
  /** Nothing sent for this long: no feedback can come (see onIdle). */
  idleAfterMs: 1000,
} as const;

/** What happened in the latest update, for stats and tests. */
export type EstimatorSignal = 'normal' | 'overuse' | 'underuse' | 'loss';

interface Group {
  sendMs: number;
  arrivalMs: number;
}

export class DownlinkEstimator {
  estimateBps: number = ESTIMATOR.initialBps;
  /** False until the first decrease: the estimate is then only a lower bound. */
  constrained = false;
  signal: EstimatorSignal = 'normal';
  /** Loss fraction of the latest complete window. */
  lossFraction = 0;
  #lastUpdateAt = -1;
  #holdUntil = 0;
  #windowReceived = 0;
  #windowLost = 0;
  /** Acknowledged packets (arrival ms, bytes), oldest first, for the acknowledged bitrate. */
  #acked: { arrivalMs: number; bytes: number }[] = [];
  #ackedBytes = 0;
  /** Delay-gradient state. */
  #group: Group | null = null;
  #previousGroup: Group | null = null;
  #accumulatedDelay = 0;
  #smoothedDelay = 0;
  #groups = 0;
  readonly #trend: { x: number; y: number }[] = [];
  #trendValue = 0;
  /** Arrival time at which the trend went above the threshold; -1 when it is below. */
  #overuseSince = -1;
  #overusing = false;
  /** Sequence numbers already counted as received (feedback may report a packet twice). */
  #highestCounted = -1;
  /** Next sequence number the SFU will send, as of the latest feedback. */
  #nextSent = 0;
  /** Packets numbered below this were sent before the latest decrease: their loss is not counted. */
  #lossFence = 0;
  /** Since when growth has been held at the ceiling with no congestion signal; -1: it is not. */
  #cappedSince = -1;

  /** Reads one feedback packet: loss counts, acknowledged bytes and the delay trend. */
  onFeedback(feedback: TransportFeedback, sent: TwccStamper, nowMs: number): void {
    // Arrival times are relative to the reference time; only differences between them matter.
    let arrivalUs = feedback.referenceTime * 64_000;
    for (const status of feedback.packets) {
      const unwrapped = sent.unwrap(status.sequence);
      const counted = unwrapped > this.#highestCounted && unwrapped >= this.#lossFence;
      if (status.deltaUs === null) {
        if (counted) this.#windowLost++;
        continue;
      }
      arrivalUs += status.deltaUs;
      if (unwrapped < 0) continue;
      if (unwrapped <= this.#highestCounted) continue;
      this.#highestCounted = unwrapped;
      if (counted) this.#windowReceived++;
      this.#onArrival(sent.sentAt(unwrapped), arrivalUs / 1000, sent.sizeOf(unwrapped));
    }
    this.#nextSent = sent.nextSequence;
    if (this.#lastUpdateAt < 0) this.#lastUpdateAt = nowMs;
    if (nowMs - this.#lastUpdateAt >= ESTIMATOR.updateIntervalMs) this.#update(nowMs);
  }

  /** Bits per second the browser acknowledged over the last ackedRateWindowMs of arrivals. */
  get ackedBps(): number {
    const acked = this.#acked;
    if (acked.length < 2) return 0;
    const span = acked[acked.length - 1]!.arrivalMs - acked[0]!.arrivalMs;
    return span > 0 ? (this.#ackedBytes * 8 * 1000) / Math.max(span, 100) : 0;
  }

  #onArrival(sendMs: number, arrivalMs: number, bytes: number): void {
    this.#acked.push({ arrivalMs, bytes });
    this.#ackedBytes += bytes;
    while (this.#acked.length > 0 && arrivalMs - this.#acked[0]!.arrivalMs > ESTIMATOR.ackedRateWindowMs) {
      this.#ackedBytes -= this.#acked.shift()!.bytes;
    }
    const group = this.#group;
    if (group && sendMs - group.sendMs <= ESTIMATOR.groupSpanMs && sendMs >= group.sendMs) {
      group.arrivalMs = Math.max(group.arrivalMs, arrivalMs);
      return;
    }
    if (group) this.#closeGroup(group);
    this.#group = { sendMs, arrivalMs };
  }

  #closeGroup(group: Group): void {
    const previous = this.#previousGroup;
    this.#previousGroup = group;
    if (!previous) return;
    const variation = group.arrivalMs - previous.arrivalMs - (group.sendMs - previous.sendMs);
    this.#accumulatedDelay += variation;
    this.#smoothedDelay =
      ESTIMATOR.smoothing * this.#smoothedDelay + (1 - ESTIMATOR.smoothing) * this.#accumulatedDelay;
    this.#groups++;
    this.#trend.push({ x: group.arrivalMs, y: this.#smoothedDelay });
    if (this.#trend.length > ESTIMATOR.trendWindow) this.#trend.shift();
    if (this.#trend.length === ESTIMATOR.trendWindow) {
      this.#trendValue = slope(this.#trend) * Math.min(this.#groups, 60) * ESTIMATOR.trendGain;
    }
    if (this.#trendValue <= ESTIMATOR.overuseThreshold) this.#overuseSince = -1;
    else if (this.#overuseSince < 0) this.#overuseSince = group.arrivalMs;
    this.#overusing =
      this.#overuseSince >= 0 && group.arrivalMs - this.#overuseSince >= ESTIMATOR.overuseTimeMs;
  }

  #update(nowMs: number): void {
    const elapsed = nowMs - this.#lastUpdateAt;
    this.#lastUpdateAt = nowMs;
    const reported = this.#windowReceived + this.#windowLost;
    if (reported >= ESTIMATOR.minPacketsForLoss) {
      this.lossFraction = this.#windowLost / reported;
      this.#windowReceived = 0;
      this.#windowLost = 0;
    }
    const acked = this.ackedBps;
    if (!this.constrained) this.estimateBps = clamp(Math.max(this.estimateBps, acked));
    let capped = false;
    if (this.#overusing) {
      this.signal = 'overuse';
      if (acked > 0) this.#decrease(Math.min(this.estimateBps, ESTIMATOR.overuseBackoff * acked), nowMs);
    } else if (this.lossFraction > ESTIMATOR.lossDecreaseAbove) {
      this.signal = 'loss';
      // Never below what overuse would set: when a queue overflows, the link still delivered what
      // was acknowledged, and halving on top of that (the loss of packets sent while the SFU was
      // still switching down) paused a low layer that fitted.
      const floor = Math.min(this.estimateBps, ESTIMATOR.overuseBackoff * acked);
      this.#decrease(Math.max(floor, this.estimateBps * (1 - this.lossFraction / 2)), nowMs);
      this.lossFraction = 0; // one decrease per measured window
    } else if (this.#trendValue < -ESTIMATOR.overuseThreshold) {
      this.signal = 'underuse';
    } else {
      this.signal = 'normal';
      if (this.lossFraction < ESTIMATOR.lossIncreaseBelow && nowMs >= this.#holdUntil) {
        const steps = Math.min(elapsed / ESTIMATOR.updateIntervalMs, 5);
        const grown = this.estimateBps * ESTIMATOR.increaseFactor ** steps;
        const ceiling = ESTIMATOR.maxOverAcked * acked + ESTIMATOR.probeHeadroomBps;
        // What the link carried over the last second with no queue building or draining, it
        // carries: after a layer step up works out, the estimate covers the new layer at once
        // (growing towards it, the allocator would take the step back as a failed one).
        this.estimateBps = clamp(Math.max(this.estimateBps, Math.min(grown, ceiling), acked));
        capped = grown >= ceiling;
      }
    }
    this.#release(capped, nowMs);
  }

  /**
   * Growth held at the ceiling for RELEASE_AFTER_MS with no congestion signal: the link carries
   * everything sent with room to spare, and only sending more can show how much more. The next
   * layer up is often 3-5 times the one forwarded, beyond 2 x acknowledged + 500 kbit/s: the
   * estimate alone would never reach it again and the subscriber would stay a layer down for
   * good. So the connection counts as unconstrained again, as at the start of a call; the
   * allocator's next upgrade (after its backoff) is the probe, and the loss or overuse it causes
   * makes the estimate binding again.
   */
  #release(capped: boolean, nowMs: number): void {
    if (!capped || !this.constrained) {
      this.#cappedSince = -1;
      return;
    }
    if (this.#cappedSince < 0) this.#cappedSince = nowMs;
    else if (nowMs - this.#cappedSince >= ESTIMATOR.releaseAfterMs) {
      this.constrained = false;
      this.#cappedSince = -1;
    }
  }

  /**
   * Called on the allocation timer. When nothing has been sent for IDLE_AFTER_MS (every video of
   * the connection paused and no audio), no feedback can come and the estimate would stay where
   * the last decrease left it: the paused video would never resume. The signals of that time
   * are dropped and the estimate grows as in a normal update, so the allocator's resume (after
   * its backoff) becomes the probe.
   */
  onIdle(sent: TwccStamper, nowMs: number): void {
    if (!this.constrained || sent.stamped === 0) return;
    if (nowMs - sent.sentAt(sent.nextSequence - 1) < ESTIMATOR.idleAfterMs) return;
    if (nowMs - this.#lastUpdateAt < ESTIMATOR.updateIntervalMs) return;
    this.#group = null;
    this.#previousGroup = null;
    this.#accumulatedDelay = 0;
    this.#smoothedDelay = 0;
    this.#groups = 0;
    this.#trend.length = 0;
    this.#trendValue = 0;
    this.#overuseSince = -1;
    this.#overusing = false;
    this.#windowReceived = 0;
    this.#windowLost = 0;
    this.lossFraction = 0;
    this.#update(nowMs);
  }

  #decrease(to: number, nowMs: number): void {
    this.constrained = true;
    // What was sent before now was sent at the old rate: its loss, still arriving in feedback for
    // a round trip and a queue's drain, must not decrease the estimate once more.
    this.#lossFence = this.#nextSent;
    this.#windowReceived = 0;
    this.#windowLost = 0;
    this.estimateBps = clamp(to);
    this.#holdUntil = nowMs + ESTIMATOR.holdAfterDecreaseMs;
    this.#cappedSince = -1;
  }
}

function clamp(bps: number): number {
  return Math.min(ESTIMATOR.maxBps, Math.max(ESTIMATOR.minBps, bps));
}

/** Least-squares slope of y over x. */
function slope(points: { x: number; y: number }[]): number {
  let sumX = 0;
  let sumY = 0;
  for (const p of points) {
    sumX += p.x;
    sumY += p.y;
  }
  const meanX = sumX / points.length;
  const meanY = sumY / points.length;
  let numerator = 0;
  let denominator = 0;
  for (const p of points) {
    numerator += (p.x - meanX) * (p.y - meanY);
    denominator += (p.x - meanX) ** 2;
  }
  return denominator === 0 ? 0 : numerator / denominator;
}

/**
 * Calls `onFeedback` for every well-formed transport-cc feedback in a compound RTCP packet. The
 * browser addresses it to any of the connection's SSRCs (MEDIA-NOTES): it is read per connection.
 */
export function forEachTransportFeedback(
  packet: Uint8Array,
  onFeedback: (feedback: TransportFeedback) => void,
): void {
  let offset = 0;
  while (offset + 4 <= packet.length) {
    const bytes = (((packet[offset + 2]! << 8) | packet[offset + 3]!) + 1) * 4;
    if (packet[offset]! >> 6 !== 2 || offset + bytes > packet.length) return;
    if (packet[offset + 1] === RTCP_RTPFB && (packet[offset]! & 0x1f) === RTPFB_TRANSPORT_CC) {
      const feedback = parseTransportFeedback(packet, offset);
      if (feedback) onFeedback(feedback);
    }
    offset += bytes;
  }
}
