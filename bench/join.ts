/**
 * Join time benchmark: from `Session.connect` in Chromium to the first decoded frame of a remote
 * video (requestVideoFrameCallback), on loopback against the real server. One participant
 * publishes; each run opens a fresh browser context that joins and subscribes. Prints every
 * run and the median. Target: under 300 ms.
 *
 *   npm run bench:join -- [runs]                    (default 9)
 *   npm run bench:join -- [runs] --relay udp|tcp|tls
 *
 * With --relay the viewer joins with iceTransportPolicy 'relay' through a local coturn (the
 * generated configuration) reached over that transport; the publisher connects directly.
 */
import type { Browser } from 'playwright-core';
import {
  chromiumPresent,
  type E2eServer,
  launchChromium,
  openParticipant,
  startE2eServer,
} from '../apps/server/test/e2e/support.ts';
import { launchTrusting, startTestCoturn, type TestCoturn } from '../apps/server/test/turn/fixture.ts';

const args = process.argv.slice(2);
const relayAt = args.indexOf('--relay');
const relay = relayAt >= 0 ? args.splice(relayAt, 2)[1] : undefined;
const runs = Number(args[0] ?? 9);

const TURN_URLS: Record<string, (c: TestCoturn) => string> = {
  udp: (c) => `turn:${c.host}:${c.port}?transport=udp`,
  tcp: (c) => `turn:${c.host}:${c.port}?transport=tcp`,
  tls: (c) => `turns:${c.host}:${c.tlsPort}?transport=tcp`,
};

async function setUp(): Promise<{ env: E2eServer; browser: Browser; coturn?: TestCoturn }> {
  if (!relay) return { env: await startE2eServer(), browser: await launchChromium() };
  const url = TURN_URLS[relay];
  if (!url) throw new Error('--relay takes udp, tcp or tls');
  const coturn = await startTestCoturn({ allowedPeers: ['127.0.0.1'], ipv6: false, userQuota: 50 });
  const env = await startE2eServer({ turn: { enabled: true, secret: coturn.secret, urls: [url(coturn)] } });
  return { env, browser: await launchTrusting(coturn.certificate), coturn };
}

interface JoinTiming {
  /** Session.connect resolved (signaling joined). */
  connectedMs: number;
  streamCreatedMs: number | null;
  /** The viewer's connection reached 'connected' (ICE and DTLS done). */
  mediaConnectedMs: number | null;
  firstFrameMs: number | null;
}

/** One run's phases, each from Session.connect: where a slow join spent its time. */
function describeRun(t: JoinTiming): string {
  const ms = (v: number | null) => (v === null ? '-' : `${v.toFixed(0)} ms`);
  return (
    `joined ${ms(t.connectedMs)}, stream announced ${ms(t.streamCreatedMs)}, ` +
    `media connected ${ms(t.mediaConnectedMs)}, first decoded frame ${ms(t.firstFrameMs)}`
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(): Promise<void> {
  if (!chromiumPresent()) throw new Error('bench:join needs /usr/bin/chromium');
  const { env, browser, coturn } = await setUp();
  try {
    const sessionId = (await env.createSession({ mediaMode: 'routed' })).id;
    const token = (identity: string, role: 'publisher' | 'subscriber'): string =>
      env.sdk.createToken(sessionId, { role, identity, data: JSON.stringify({ name: identity }) });
    const publisher = await openParticipant(browser, env.url);
    await publisher.call('join', token('publisher', 'publisher'), { sessionId, autoSubscribe: false });
    const published = await publisher.call<{ error?: string }>('publish', {
      video: true,
      audio: false,
      name: 'bench',
    });
    if (published.error) throw new Error(`publish failed: ${published.error}`);

    const firstFrame: number[] = [];
    const connected: number[] = [];
    for (let i = 0; i < runs; i++) {
      const viewer = await openParticipant(browser, env.url);
      const result = await viewer.call<JoinTiming>('measureJoin', token(`viewer-${i}`, 'subscriber'), {
        sessionId,
        ...(relay ? { iceTransportPolicy: 'relay' } : {}),
      });
      await viewer.call('leave');
      await viewer.close();
      if (result.firstFrameMs === null) {
        console.log(`run ${i + 1}: no frame within 15 s`);
        continue;
      }
      connected.push(result.connectedMs);
      firstFrame.push(result.firstFrameMs);
      console.log(`run ${i + 1}: ${describeRun(result)}`);
    }
    if (firstFrame.length === 0) throw new Error('no run decoded a frame');
    console.log(
      `${relay ? `relay over ${relay}: ` : ''}median over ${firstFrame.length} runs: Session.connect -> joined ${median(connected).toFixed(0)} ms, ` +
        `-> first decoded remote frame ${median(firstFrame).toFixed(0)} ms (target < 300 ms)`,
    );
  } finally {
    await browser.close();
    await env.close();
    await coturn?.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
