/**
 * Token expiry during a call: the SDK asks the page for a fresh token (onTokenExpiring) and
 * stays connected past the first token's expiry; without the callback the server ends the
 * connection at expiry and the SDK reports it as `expired`. A failed refresh is retried.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import {
  eventually,
  type HarnessEvent,
  openParticipant,
  requireChromium,
  shareBrowserAndServer,
} from './support.ts';

/** The server warns 60 s before expiry (SIGNALING_LIMITS.tokenRefreshLeadMs): warn after ~3 s. */
const SHORT_TTL_SECONDS = 63;

const shared = shareBrowserAndServer();

it('a refreshed token keeps the participant in; an unrefreshed one is disconnected at expiry', {
  timeout: 180_000,
}, async (t) => {
  const { browser, env } = shared;
  if (!requireChromium(t) || !browser || !env) return;
  const { id: sessionId } = await env.createSession({});
  const mint = (identity: string, ttlSeconds: number): string =>
    env.sdk.createToken(sessionId, { role: 'publisher', identity, ttlSeconds });

  const keeper = await openParticipant(browser, env.url);
  const lapser = await openParticipant(browser, env.url);
  const retrier = await openParticipant(browser, env.url);
  const joinedAt = Date.now();
  const kept = await keeper.call<{ error?: string }>('join', mint('keeper', SHORT_TTL_SECONDS), {
    sessionId,
    refreshTokens: [mint('keeper', 600)],
  });
  const lapsed = await lapser.call<{ error?: string }>('join', mint('lapser', SHORT_TTL_SECONDS), {
    sessionId,
  });
  // Its back-end fails the first time: the SDK tries again before the token runs out.
  const retried = await retrier.call<{ error?: string }>('join', mint('retrier', SHORT_TTL_SECONDS), {
    sessionId,
    refreshTokens: [null, mint('retrier', 600)],
  });
  assert.equal(kept.error, undefined);
  assert.equal(lapsed.error, undefined);
  assert.equal(retried.error, undefined);

  await eventually(
    'the SDK asks for a fresh token',
    () => keeper.call<HarnessEvent[]>('events'),
    (list) => list.some((e) => e.type === 'tokenExpiring'),
  );
  const ended = await eventually(
    'the participant without a fresh token is disconnected',
    () => lapser.call<HarnessEvent[]>('events'),
    (list) => list.some((e) => e.type === 'disconnected'),
    120_000,
  );
  assert.equal(ended.find((e) => e.type === 'disconnected')?.reason, 'expired');
  assert.ok(Date.now() - joinedAt >= (SHORT_TTL_SECONDS - 5) * 1000, 'not before the token expired');

  // The participant that refreshed is still there past the first token's expiry, and usable.
  assert.equal(await keeper.call('sessionState'), 'connected');
  const keeperEvents = await keeper.call<HarnessEvent[]>('events');
  assert.ok(!keeperEvents.some((e) => e.type === 'disconnected' || e.type === 'error'));
  assert.deepEqual(await keeper.call('signal', 'still-here', 'yes'), { ok: true });

  // The one whose first refresh failed got in on its second attempt.
  assert.equal(await retrier.call('sessionState'), 'connected');
  const retrierEvents = await retrier.call<HarnessEvent[]>('events');
  assert.equal(retrierEvents.filter((e) => e.type === 'tokenExpiring').length, 2);
  assert.ok(!retrierEvents.some((e) => e.type === 'disconnected'));
  await keeper.close();
  await lapser.close();
  await retrier.close();
});
