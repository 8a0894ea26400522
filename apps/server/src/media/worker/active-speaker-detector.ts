/**
 * Active speaker detection for one router, from the audio levels publishers put in every audio
 * packet (RFC 6464, rtp/audio-level.ts).
 *
 * Each microphone producer owns an AudioLevelMeter that the packet path feeds (two additions per
 * packet). Every SAMPLE_MS the router takes each meter's loudness since the last sample and hands
 * the set to the ActiveSpeakerDetector, which
 * - smooths each producer over a window of WINDOW_SAMPLES samples (1.2 s by default), silence and
 *   DTX gaps counting as zero;
 * - keeps a producer in the list while its smoothed level is at least MIN_LEVEL;
 * - puts the dominant speaker first and the others after it, loudest first;
 * - changes the dominant speaker only with hysteresis: a challenger must be clearly louder
 *   (SWITCH_MARGIN above the dominant's smoothed level, the dominant counting as zero when
 *   silent) in every sample for SWITCH_AFTER_MS, and audible in each of them, so a cough, a laugh
 *   or a door never takes the floor;
 * - reports the list only when its order or membership changed or a level moved by LEVEL_STEP
 *   or more since the last report, and at most once per MIN_EMIT_INTERVAL_MS (a change that comes
 *   sooner goes out with a later sample, if it still holds).
 *
 * Levels are 0..1 on a dB scale: 1 is 0 dBov (full scale), 0 is ACTIVE_THRESHOLD_DBOV or
 * quieter. They rank speakers; they are not a meter (the browser has its own per-receiver levels).
 * The voice-activity bit is not used: Chromium derives it from the encoder's frame type (set for
 * every Opus frame that is not DTX), so it says nothing the level does not.
 */

export const ACTIVE_SPEAKER = {
  sampleMs: 300,
  windowSamples: 4,
  /** Quieter than -50 dBov is background (noise suppression leaves rooms around -60 and below). */
  activeThresholdDbov: 50,
  minLevel: 0.02,
  /** On the 0..1 scale: 0.1 is 5 dB with the default threshold. */
  switchMargin: 0.1,
  switchAfterMs: 1000,
  minEmitIntervalMs: 500,
  levelStep: 0.1,
} as const;

export type ActiveSpeakerOptions = { -readonly [K in keyof typeof ACTIVE_SPEAKER]: number };

/** Loudness (0..1) of one level in -dBov: linear in dB, 0 at the threshold and below. */
export function loudnessOf(dBov: number, thresholdDbov: number = ACTIVE_SPEAKER.activeThresholdDbov): number {
  return dBov >= thresholdDbov ? 0 : (thresholdDbov - dBov) / thresholdDbov;
}

/** Sums one producer's packet levels between two samples; fed per packet, allocation-free. */
export class AudioLevelMeter {
  readonly #thresholdDbov: number;
  #sum = 0;
  #packets = 0;

  constructor(thresholdDbov: number = ACTIVE_SPEAKER.activeThresholdDbov) {
    this.#thresholdDbov = thresholdDbov;
  }

  /** One packet's level in -dBov (0 loudest, 127 silence). */
  add(dBov: number): void {
    this.#packets++;
    if (dBov < this.#thresholdDbov) this.#sum += (this.#thresholdDbov - dBov) / this.#thresholdDbov;
  }

  /** Mean loudness (0..1) of the packets since the last call; 0 when none came. Resets. */
  take(): number {
    const loudness = this.#packets === 0 ? 0 : this.#sum / this.#packets;
    this.#sum = 0;
    this.#packets = 0;
    return loudness;
  }
}

export interface ActiveSpeaker {
  /** The producer's id. */
  id: string;
  /** Smoothed level, 0..1, two decimals. */
  level: number;
}

interface Track {
  readonly id: string;
  readonly samples: Float64Array;
  next: number;
  smoothed: number;
  /** The latest sample was audible (at least minLevel). */
  audible: boolean;
}

export class ActiveSpeakerDetector {
  readonly #options: ActiveSpeakerOptions;
  readonly #tracks = new Map<string, Track>();
  #dominant: Track | null = null;
  #challenger: Track | null = null;
  #challengeStartedAt = 0;
  #reported: ActiveSpeaker[] = [];
  #reportedAt = Number.NEGATIVE_INFINITY;

  constructor(options: Partial<ActiveSpeakerOptions> = {}) {
    this.#options = { ...ACTIVE_SPEAKER, ...options };
  }

  /** The dominant speaker's producer id (kept while silent, until someone takes over), or null. */
  get dominant(): string | null {
    return this.#dominant?.id ?? null;
  }

  /** The list last returned by update(). */
  get speakers(): readonly ActiveSpeaker[] {
    return this.#reported;
  }

  /**
   * One sample: the loudness (AudioLevelMeter.take()) of every producer that is still there;
   * a producer missing from `samples` has left. Returns the new list when it is to be reported,
   * else null.
   */
  update(nowMs: number, samples: Iterable<readonly [id: string, loudness: number]>): ActiveSpeaker[] | null {
    const seen = new Set<string>();
    for (const [id, loudness] of samples) {
      seen.add(id);
      this.#record(this.#trackOf(id), loudness);
    }
    for (const [id, track] of this.#tracks) if (!seen.has(id)) this.#forget(track);
    this.#elect(nowMs);
    const list = this.#ranked();
    if (this.#sameAsReported(list)) return null;
    if (nowMs - this.#reportedAt < this.#options.minEmitIntervalMs) return null;
    this.#reported = list;
    this.#reportedAt = nowMs;
    return list;
  }

  #trackOf(id: string): Track {
    let track = this.#tracks.get(id);
    if (!track) {
      track = {
        id,
        samples: new Float64Array(this.#options.windowSamples),
        next: 0,
        smoothed: 0,
        audible: false,
      };
      this.#tracks.set(id, track);
    }
    return track;
  }

  #record(track: Track, loudness: number): void {
    const value = Number.isFinite(loudness) ? Math.min(1, Math.max(0, loudness)) : 0;
    track.samples[track.next] = value;
    track.next = (track.next + 1) % track.samples.length;
    let sum = 0;
    for (const sample of track.samples) sum += sample;
    track.smoothed = sum / track.samples.length;
    track.audible = value >= this.#options.minLevel;
  }

  #forget(track: Track): void {
    this.#tracks.delete(track.id);
    if (this.#dominant === track) this.#dominant = null;
    if (this.#challenger === track) this.#challenger = null;
  }

  #active(track: Track): boolean {
    return track.smoothed >= this.#options.minLevel;
  }

  /** Hysteresis: the loudest other speaker takes the floor only when clearly louder for long enough. */
  #elect(nowMs: number): void {
    const o = this.#options;
    const floor = this.#dominant && this.#active(this.#dominant) ? this.#dominant.smoothed : 0;
    let best: Track | null = null;
    for (const track of this.#tracks.values()) {
      if (track === this.#dominant || !track.audible || !this.#active(track)) continue;
      if (!best || louder(track, best)) best = track;
    }
    if (!best || best.smoothed < floor + o.switchMargin) {
      this.#challenger = null;
      return;
    }
    if (this.#challenger !== best) {
      this.#challenger = best;
      // The sample covers the interval before it: the challenge started one sample ago.
      this.#challengeStartedAt = nowMs - o.sampleMs;
    }
    if (nowMs - this.#challengeStartedAt >= o.switchAfterMs) {
      this.#dominant = best;
      this.#challenger = null;
    }
  }

  #sameAsReported(list: readonly ActiveSpeaker[]): boolean {
    const reported = this.#reported;
    if (list.length !== reported.length) return false;
    const step = this.#options.levelStep - 1e-9; // levels are rounded to hundredths
    return list.every((s, i) => s.id === reported[i]!.id && Math.abs(s.level - reported[i]!.level) < step);
  }

  /** Active speakers: the dominant one first when it is active, then the others, loudest first. */
  #ranked(): ActiveSpeaker[] {
    const others: Track[] = [];
    for (const track of this.#tracks.values()) {
      if (track !== this.#dominant && this.#active(track)) others.push(track);
    }
    others.sort((a, b) => (louder(a, b) ? -1 : 1));
    const ordered = this.#dominant && this.#active(this.#dominant) ? [this.#dominant, ...others] : others;
    return ordered.map((track) => ({ id: track.id, level: Math.round(track.smoothed * 100) / 100 }));
  }
}

/** Louder by smoothed level; equal levels by id, so the order never depends on map order. */
function louder(a: Track, b: Track): boolean {
  return a.smoothed > b.smoothed || (a.smoothed === b.smoothed && a.id < b.id);
}
