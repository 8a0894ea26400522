/**
 * Chromium pages driven straight against a media router (no signaling): a canvas publisher and a
 * subscriber page, with helpers reading their WebRTC statistics.
 */
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import type { Router } from '@conclave/server/media/api';
import { chromium, type Page } from 'playwright-core';
import { requireComponent } from '../support/env.ts';

export const CHROMIUM = '/usr/bin/chromium';

export function requireChromium(t: TestContext): boolean {
  return requireComponent(t, 'chromium', existsSync(CHROMIUM));
}

/** The part of a browser these tests use: pages that may gather local ICE candidates. */
export interface MediaBrowser {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/**
 * Chromium with one context whose pages hold camera and microphone permission. Without it
 * Chromium hides local addresses behind mDNS names and gathers only on the default route's
 * interface; in a loopback-only namespace (how npm test runs these files) that means never
 * finishing gathering. A page allowed the camera gathers loopback host candidates, as the
 * browser SDK's pages do after getUserMedia.
 */
export async function launch(): Promise<MediaBrowser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--allow-loopback-in-peer-connection',
      '--no-sandbox',
      '--force-fieldtrials=WebRTC-IPv6Default/Disabled/',
    ],
  });
  const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
  return { newPage: () => context.newPage(), close: () => browser.close() };
}

export interface CanvasOptions {
  width: number;
  height: number;
  /** RTCRtpEncodingParameters for simulcast (rid + scaleResolutionDownBy); none: one encoding. */
  encodings?: { rid: string; scaleResolutionDownBy: number }[];
  /** Offer only this codec (setCodecPreferences; RTX kept); default: Chromium's own order. */
  codec?: 'H264' | 'VP8';
}

/**
 * Creates a page publishing an animated, noisy canvas (hard to compress, so the encoder wants
 * bandwidth) and returns its offer; `pc` is kept on the page's globalThis.
 */
export async function canvasOffer(page: Page, options: CanvasOptions): Promise<string> {
  return page.evaluate(async ({ width, height, encodings, codec }) => {
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const context = canvas.getContext('2d')!;
    let frame = 0;
    setInterval(() => {
      frame++;
      context.fillStyle = `hsl(${(frame * 7) % 360} 80% 50%)`;
      context.fillRect(0, 0, width, height);
      for (let i = 0; i < 200; i++) {
        context.fillStyle = `hsl(${(i * 37 + frame * 13) % 360} 90% ${(i * 11) % 100}%)`;
        context.fillRect((i * 97 + frame * 5) % width, (i * 61 + frame * 3) % height, 24, 24);
      }
    }, 33);
    const track = canvas.captureStream(30).getVideoTracks()[0]!;
    const pc = new RTCPeerConnection();
    const transceiver = pc.addTransceiver(track, {
      direction: 'sendonly',
      ...(encodings ? { sendEncodings: encodings } : {}),
    });
    if (codec) {
      const wanted = RTCRtpSender.getCapabilities('video')!.codecs.filter(
        (c) => c.mimeType === `video/${codec}` || c.mimeType === 'video/rtx',
      );
      transceiver.setCodecPreferences(wanted);
    }
    await pc.setLocalDescription();
    await new Promise<void>((resolve) => {
      if (pc.iceGatheringState === 'complete') resolve();
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
    });
    (globalThis as unknown as { pc: RTCPeerConnection }).pc = pc;
    return pc.localDescription!.sdp;
  }, options);
}

export async function setAnswer(page: Page, sdp: string): Promise<void> {
  await page.evaluate(async (answer) => {
    await (globalThis as unknown as { pc: RTCPeerConnection }).pc.setRemoteDescription({
      type: 'answer',
      sdp: answer,
    });
  }, sdp);
}

/** A Chromium page publishing a canvas through `router`. */
export async function publishCanvas(page: Page, router: Router, options: CanvasOptions) {
  const offerSdp = await canvasOffer(page, options);
  const { transport, answerSdp } = await router.createPublisherTransport({
    participantId: 'alice',
    source: 'camera',
    kind: 'video',
    offerSdp,
  });
  await setAnswer(page, answerSdp);
  return transport;
}

/** Answers a server offer on a fresh page connection (kept as globalThis.pc). */
export async function answerOffer(page: Page, offerSdp: string): Promise<string> {
  return page.evaluate(async (sdp) => {
    const pc = new RTCPeerConnection();
    (globalThis as unknown as { pc: RTCPeerConnection }).pc = pc;
    await pc.setRemoteDescription({ type: 'offer', sdp });
    await pc.setLocalDescription();
    await new Promise<void>((resolve) => {
      if (pc.iceGatheringState === 'complete') resolve();
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
    });
    return pc.localDescription!.sdp;
  }, offerSdp);
}

/** The selected candidate pair's availableOutgoingBitrate (bps), 0 before there is one. */
export async function availableOutgoingBitrate(page: Page): Promise<number> {
  return page.evaluate(async () => {
    const pc = (globalThis as unknown as { pc: RTCPeerConnection }).pc;
    for (const s of (await pc.getStats()).values()) {
      if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') {
        return (s as { availableOutgoingBitrate?: number }).availableOutgoingBitrate ?? 0;
      }
    }
    return 0;
  });
}

export interface InboundVideo {
  framesDecoded: number;
  frameWidth: number;
  frameHeight: number;
  packetsLost: number;
  packetsReceived: number;
  freezeCount: number;
  totalFreezesDuration: number;
}

/** inbound-rtp statistics of the receiver of media section `mid` on the page's `pc`. */
export async function inboundVideo(page: Page, mid: string): Promise<InboundVideo> {
  return page.evaluate(async (wantedMid) => {
    const pc = (globalThis as unknown as { pc: RTCPeerConnection }).pc;
    const receiver = pc.getTransceivers().find((x) => x.mid === wantedMid)?.receiver;
    const stats = receiver ? [...(await receiver.getStats()).values()] : [];
    const inbound = (stats.find((s) => s.type === 'inbound-rtp') ?? {}) as Partial<InboundVideo>;
    return {
      framesDecoded: inbound.framesDecoded ?? 0,
      frameWidth: inbound.frameWidth ?? 0,
      frameHeight: inbound.frameHeight ?? 0,
      packetsLost: inbound.packetsLost ?? 0,
      packetsReceived: inbound.packetsReceived ?? 0,
      freezeCount: inbound.freezeCount ?? 0,
      totalFreezesDuration: inbound.totalFreezesDuration ?? 0,
    };
  }, mid);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `read` until `done` holds or `timeoutMs` passes; returns the last value read. */
export async function pollUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await sleep(250);
    value = await read();
  }
  return value;
}
