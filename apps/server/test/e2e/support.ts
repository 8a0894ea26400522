/**
 * End-to-end support: the real server (bootTestServer: port 0, temp data dir, a media worker), the
 * real server SDK for tokens, and real Chromium driven through playwright-core. One browser per
 * test file; each participant is its own browser context (own cookies, devices, sockets).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { after, before, type TestContext } from 'node:test';
import type { CreateSessionRequest, Session } from '@conclave/protocol/rest';
import { Conclave } from '@conclave/server-sdk';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import type { RunningServer } from '../../src/app.ts';
import type { DeepPartial } from '../../src/config/index.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import { ImpairmentProxy } from '../../src/media/testing/impairment-proxy.ts';
import { pickUdpPort } from '../../src/media/worker/start.ts';
import { requireComponent } from '../support/env.ts';
import { bootTestServer } from '../support/server.ts';

export const CHROMIUM = '/usr/bin/chromium';
const SYSTEM = { id: 'system', source: 'local' };

export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--autoplay-policy=no-user-gesture-required',
  '--auto-select-desktop-capture-source=Entire screen',
];

export function chromiumPresent(): boolean {
  return existsSync(CHROMIUM);
}

/** Skips the test when Chromium is missing (fails in CI). */
export function requireChromium(t: TestContext): boolean {
  return requireComponent(t, 'chromium', chromiumPresent());
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/**
 * One server and one browser for all the tests of a file: started before the first test (when
 * Chromium is installed), closed after the last. Read `browser` and `env` inside the tests.
 */
export function shareBrowserAndServer(): { browser?: Browser; env?: E2eServer } {
  const shared: { browser?: Browser; env?: E2eServer } = {};
  before(async () => {
    if (!chromiumPresent()) return;
    shared.env = await startE2eServer();
    shared.browser = await launchChromium();
  });
  after(async () => {
    await shared.browser?.close();
    await shared.env?.close();
  });
  return shared;
}

export interface E2eServer {
  server: RunningServer;
  url: string;
  /** The real server SDK with the test application's credentials: it mints the tokens. */
  sdk: Conclave;
  apiKey: string;
  /** Creates a session of the test application through the control plane. */
  createSession(options: CreateSessionRequest): Promise<Session>;
  close(): Promise<void>;
}

/** Boots the real server on an ephemeral port with its own data dir, and an application for the test. */
export async function startE2eServer(overrides: DeepPartial<ConfigInput> = {}): Promise<E2eServer> {
  const { server, close } = await bootTestServer({ name: 'e2e', argv: ['--log-level=warn'], overrides });
  const credentials = await server.control.apps.create(`e2e-${process.pid}-${Date.now()}`, SYSTEM);
  const sdk = new Conclave({ url: server.url, apiKey: credentials.apiKey, apiSecret: credentials.apiSecret });
  return {
    server,
    url: server.url,
    sdk,
    apiKey: credentials.apiKey,
    createSession: (options) => server.control.sessions.create(credentials.appId, options, SYSTEM),
    close,
  };
}

const harnessSource = readFile(new URL('./harness/page.js', import.meta.url), 'utf8');

/** Records every WebSocket the page opens, so a test can drop the SDK's signaling socket. */
const RECORD_SOCKETS = `(() => {
  const Native = window.WebSocket;
  window.__conclaveSockets = [];
  window.WebSocket = class extends Native {
    constructor(...args) { super(...args); window.__conclaveSockets.push(this); }
  };
})();`;

/** Where a participant's media goes instead of the SFU's port (an ImpairmentProxy's `route`). */
/**
 * A server whose one media worker is reached only through an impairment proxy, and a browser:
 * participants opened with `{ mediaRoute: proxy.route }` send and receive all media through it.
 * Everything is closed when the test ends.
 */
export async function startBehindProxy(
  t: TestContext,
): Promise<{ env: E2eServer; proxy: ImpairmentProxy; browser: Browser }> {
  const rtcPort = await pickUdpPort('127.0.0.1');
  const env = await startE2eServer({ media: { workers: 1, rtcPort, bindAddress: '127.0.0.1' } });
  t.after(() => env.close());
  const proxy = await ImpairmentProxy.start({ target: { address: '127.0.0.1', port: rtcPort } });
  t.after(() => proxy.close());
  const browser = await launchChromium();
  t.after(() => browser.close());
  return { env, proxy, browser };
}

export interface MediaRoute {
  address: string;
  serverPort: number;
  proxyPort: number;
}

/**
 * Tests talk to loopback only. Chromium also gathers host candidates on the machine's other
 * interfaces; this keeps every candidate that is not 127.0.0.0/8 or ::1 from being handed to
 * the other side (trickled, in a description, or added), so no connectivity check is ever sent
 * to another address, by the browsers or by the SFU. With a `route` (media through an
 * impairment proxy), the server's candidates point at the proxy instead and the browser's own
 * candidates are withheld altogether, so the SFU cannot reach around the proxy.
 */
const loopbackOnlyIce = (route: MediaRoute | null) => `(() => {
  const route = ${JSON.stringify(route)};
  const loopback = (line) => {
    if (!line) return true;
    const address = line.replace(/^a=/, '').split(' ')[4] || '';
    return /^127\\./.test(address) || address === '::1';
  };
  const keepLocal = (line) => !line || (!route && loopback(line));
  const viaRoute = (text) => !route ? text
    : text.split(' ' + route.address + ' ' + route.serverPort + ' typ ').join(' ' + route.address + ' ' + route.proxyPort + ' typ ');
  // With a route, only the proxy's candidate stays (the worker's other ones would bypass it).
  const throughRoute = (line) => !route || !line || line.includes(' ' + route.address + ' ' + route.proxyPort + ' typ ');
  const strip = (sdp, keep) => sdp.split('\\r\\n').filter((l) => !l.startsWith('a=candidate:') || keep(l)).join('\\r\\n');
  const P = RTCPeerConnection.prototype;
  const addIceCandidate = P.addIceCandidate;
  P.addIceCandidate = function (candidate, ...rest) {
    if (candidate && !loopback(candidate.candidate)) return Promise.resolve();
    if (route && candidate && candidate.candidate) {
      const { sdpMid, sdpMLineIndex, usernameFragment } = candidate;
      candidate = { candidate: viaRoute(candidate.candidate), sdpMid, sdpMLineIndex, usernameFragment };
      if (!throughRoute(candidate.candidate)) return Promise.resolve();
    }
    return addIceCandidate.call(this, candidate, ...rest);
  };
  const setRemoteDescription = P.setRemoteDescription;
  P.setRemoteDescription = function (d, ...rest) {
    const sdp = d && d.sdp ? strip(viaRoute(strip(d.sdp, loopback)), throughRoute) : null;
    return setRemoteDescription.call(this, sdp ? { type: d.type, sdp } : d, ...rest);
  };
  const filtered = (fn, self) => (event) => {
    if (event.candidate && !keepLocal(event.candidate.candidate)) return;
    return fn.call(self, event);
  };
  const addEventListener = P.addEventListener;
  P.addEventListener = function (type, fn, ...rest) {
    if (type === 'icecandidate' && typeof fn === 'function') fn = filtered(fn, this);
    return addEventListener.call(this, type, fn, ...rest);
  };
  const onicecandidate = Object.getOwnPropertyDescriptor(P, 'onicecandidate');
  Object.defineProperty(P, 'onicecandidate', {
    configurable: true,
    get() { return onicecandidate.get.call(this); },
    set(fn) { onicecandidate.set.call(this, typeof fn === 'function' ? filtered(fn, this) : fn); },
  });
  for (const name of ['localDescription', 'currentLocalDescription', 'pendingLocalDescription']) {
    const original = Object.getOwnPropertyDescriptor(P, name);
    Object.defineProperty(P, name, {
      configurable: true,
      get() {
        const d = original.get.call(this);
        return d && d.sdp ? new RTCSessionDescription({ type: d.type, sdp: strip(d.sdp, keepLocal) }) : d;
      },
    });
  }
})();`;

export interface Participant {
  context: BrowserContext;
  page: Page;
  /** Calls a harness function in the page. */
  call<T>(fn: string, ...args: unknown[]): Promise<T>;
  close(): Promise<void>;
}

/**
 * A new participant: its own browser context, on a page of the server's own origin. Chromium's
 * Local Network Access checks only let documents that really came from a loopback server open
 * sockets to loopback, so the page is the server's demo page (development mode, on by default
 * on loopback) and the harness script is added to it; it is served from the same origin by
 * intercepting one path, which the page's CSP (script-src 'self') allows.
 */
export async function openParticipant(
  browser: Browser,
  serverUrl: string,
  options: { mediaRoute?: MediaRoute } = {},
): Promise<Participant> {
  const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
  await context.addInitScript(RECORD_SOCKETS);
  await context.addInitScript(loopbackOnlyIce(options.mediaRoute ?? null));
  await context.route(`${serverUrl}/__e2e__/harness.js`, async (route) =>
    route.fulfill({ status: 200, contentType: 'text/javascript', body: await harnessSource }),
  );
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error('[page error]', error.message));
  await page.goto(`${serverUrl}/`);
  await page.addScriptTag({ type: 'module', url: '/__e2e__/harness.js' });
  await page.waitForFunction(() => 'harness' in window, undefined, { timeout: 15_000 });
  return {
    context,
    page,
    call: <T>(fn: string, ...args: unknown[]) =>
      page.evaluate(
        ([name, params]) => {
          const harness = (window as unknown as { harness: Record<string, (...a: unknown[]) => unknown> })
            .harness;
          return harness[name as string]!(...(params as unknown[]));
        },
        [fn, args] as const,
      ) as Promise<T>,
    close: () => context.close(),
  };
}

/** The ICE candidate pair a participant's receiving connection uses (harness `selectedPath`). */
export interface SelectedPath {
  local: { address: string; port: number; type: string };
  remote: { address: string; port: number; type: string };
}

export interface Received {
  /** Video only: width of the last decoded frame, and the time frozen (freeze statistics, s). */
  frameWidth: number;
  totalFreezesDuration: number;
  streamId: string;
  connectionId: string;
  kind: 'audio' | 'video';
  source: string;
  /** MIME type of the codec received (video/VP8, video/H264, audio/opus); null before any. */
  codec: string | null;
  framesDecoded: number;
  packetsReceived: number;
  totalSamplesReceived: number;
  brightness: number | null;
}

export interface HarnessEvent {
  type: string;
  streamId?: string;
  connectionId?: string;
  signalType?: string;
  data?: string;
  from?: string | null;
  reason?: string;
  code?: string;
  resumed?: boolean;
}

/** Polls until `check` returns a value (not undefined/false), or fails with the last state. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T>,
  check: (value: T) => boolean,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await probe();
  while (!check(last)) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 250));
    last = await probe();
  }
  return last;
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
