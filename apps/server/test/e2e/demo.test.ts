/**
 * The demo page and the development token endpoint exist in development mode only; the SDK
 * bundle is always served; two tabs on the demo page make a call; the SDK refuses to run
 * outside a secure context.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { DEMO_CSP } from '../../src/demo/index.ts';
import {
  chromiumPresent,
  type E2eServer,
  eventually,
  launchChromium,
  requireChromium,
  startE2eServer,
} from './support.ts';

async function postToken(url: string, body: unknown): Promise<Response> {
  return fetch(`${url}/dev/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

describe('outside development mode', () => {
  let env: E2eServer;
  before(async () => {
    env = await startE2eServer({ devMode: false });
  });
  after(() => env.close());

  it('has no demo page and no development token endpoint', async () => {
    assert.equal((await fetch(`${env.url}/`)).status, 404);
    assert.equal((await fetch(`${env.url}/demo.js`)).status, 404);
    const token = await postToken(env.url, { room: 'lobby', name: 'Eve' });
    assert.equal(token.status, 404);
    assert.ok(!(await env.server.control.apps.find('development')), 'no development application was created');
  });

  it('still serves the SDK bundle, without the schema library in it', async () => {
    const response = await fetch(`${env.url}/sdk/conclave.js`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /javascript/);
    const source = await response.text();
    // Checked with includes(): a failing match would print the whole bundle.
    assert.ok(source.includes('Conclave needs a secure context'), 'it is the browser SDK');
    assert.ok(source.includes('export {'), 'as an ES module');
    assert.ok(!/typebox/i.test(source), 'without the schema library');
  });
});

describe('in development mode', { timeout: 120_000 }, () => {
  let env: E2eServer;
  let browser: Browser | undefined;
  before(async () => {
    env = await startE2eServer({ devMode: true });
    if (chromiumPresent()) browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await env.close();
  });

  it('serves the demo page under a strict Content-Security-Policy with no inline script', async () => {
    const response = await fetch(`${env.url}/`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-security-policy'), DEMO_CSP);
    assert.doesNotMatch(DEMO_CSP, /unsafe-inline|unsafe-eval/);
    const html = await response.text();
    const scripts = [...html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)];
    assert.ok(scripts.length > 0);
    for (const [tag, body] of scripts) {
      assert.match(tag, /src="\/demo\.js"/);
      assert.equal(body?.trim(), '');
    }
    assert.doesNotMatch(html, /\son[a-z]+=/i, 'no inline event handlers');
    assert.equal((await fetch(`${env.url}/demo.js`)).status, 200);
  });

  it('mints tokens for a room: the same room name is the same session, another name another one', async () => {
    const a = await postToken(env.url, { room: 'standup', name: 'Ada' });
    assert.equal(a.status, 200);
    const first = (await a.json()) as { token: string; sessionId: string };
    const second = (await (await postToken(env.url, { room: 'standup', name: 'Grace' })).json()) as {
      sessionId: string;
    };
    const other = (await (await postToken(env.url, { room: 'retro', name: 'Ada' })).json()) as {
      sessionId: string;
    };
    assert.equal(second.sessionId, first.sessionId);
    assert.notEqual(other.sessionId, first.sessionId);
    const claims = JSON.parse(Buffer.from(first.token.split('.')[1]!, 'base64url').toString()) as {
      sid: string;
      data: string;
      role: string;
    };
    assert.equal(claims.sid, first.sessionId);
    assert.equal(claims.role, 'publisher');
    assert.deepEqual(JSON.parse(claims.data), { name: 'Ada' });
    const app = await env.server.control.apps.find('development');
    assert.ok(app, 'the development application was created');
  });

  it('refuses a bad room or name with invalid_request', async () => {
    for (const body of [
      { room: '', name: 'x' },
      { room: '../etc', name: 'x' },
      { room: 'ok', name: '' },
      'nope',
    ]) {
      const response = await postToken(env.url, body);
      assert.equal(response.status, 400);
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'invalid_request');
    }
  });

  it('two tabs on the demo page join the same room and see each other', async (t) => {
    if (!requireChromium(t) || !browser) return;
    const open = async (name: string): Promise<Page> => {
      const context = await browser!.newContext();
      const page = await context.newPage();
      page.on('pageerror', (e) => console.error('[demo page]', e.message));
      await page.goto(`${env.url}/`);
      await page.fill('#room', 'demo-room');
      await page.fill('#name', name);
      await page.click('#join');
      await page.waitForSelector('[data-tile="self"] video');
      return page;
    };
    const pages = [await open('Ada'), await open('Grace')];
    for (const page of pages) {
      await eventually(
        'a remote camera tile playing',
        () =>
          page.evaluate(() =>
            [...document.querySelectorAll<HTMLVideoElement>('[data-tile^="cam:"] video')].map(
              (v) => v.videoWidth,
            ),
          ),
        (widths) => widths.length === 1 && widths[0]! > 0,
      );
    }
    const labels = await pages[0]!.evaluate(() =>
      [...document.querySelectorAll('[data-tile^="cam:"] .label')].map((l) => l.textContent),
    );
    assert.deepEqual(labels, ['Grace'], 'the display name comes from the connection data');
    await pages[1]!.click('#leave');
    await eventually(
      'the tile goes away when the other leaves',
      () => pages[0]!.evaluate(() => document.querySelectorAll('[data-tile^="cam:"]').length),
      (count) => count === 0,
    );
    for (const page of pages) await page.context().close();
  });

  it('the SDK refuses to run outside a secure context, with a clear error', async (t) => {
    if (!requireChromium(t) || !browser) return;
    const sdk = await (await fetch(`${env.url}/sdk/conclave.js`)).text();
    const context = await browser.newContext();
    const page = await context.newPage();
    // A data: document is an opaque, non-secure origin; no network is involved.
    await page.goto('data:text/html,<title>insecure</title>');
    assert.equal(await page.evaluate(() => window.isSecureContext), false);
    await page.addScriptTag({ type: 'module', content: `${sdk}\nwindow.__sdk = { Session };` });
    await page.waitForFunction(() => '__sdk' in window);
    const outcome = await page.evaluate(async (url) => {
      const { Session } = (
        window as unknown as { __sdk: { Session: { connect(u: string, t: string): Promise<unknown> } } }
      ).__sdk;
      try {
        await Session.connect(url, 'token');
        return { code: 'connected', message: '' };
      } catch (error) {
        const e = error as { code: string; message: string };
        return { code: e.code, message: e.message };
      }
    }, env.url);
    assert.equal(outcome.code, 'insecure_context');
    assert.match(outcome.message, /secure context/);
    await context.close();
  });
});
