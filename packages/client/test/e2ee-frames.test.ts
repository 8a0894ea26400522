/**
 * The E2EE frame format and frame crypto, in Node (the same WebCrypto the browser worker uses).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrameCryptor, RATCHET_WINDOW } from '../src/e2ee/frame-cryptor.ts';
import { FRAME_MAGIC, FRAME_OVERHEAD, readTrailer } from '../src/e2ee/frame-format.ts';
import { importMediaKey, randomKeyMaterial, ratchetForward } from '../src/e2ee/media-keys.ts';

const ALICE = 'con_alice';

/** A VP8 keyframe as an encoder makes it: frame tag, start code, 640x480, then data. */
function vp8KeyFrame(size = 600): Uint8Array {
  const frame = new Uint8Array(size);
  for (let i = 0; i < size; i++) frame[i] = (i * 7) & 0xff;
  frame.set([0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01], 0);
  return frame;
}

async function pair(): Promise<{ sender: FrameCryptor; receiver: FrameCryptor; material: Uint8Array }> {
  const material = randomKeyMaterial();
  const sender = new FrameCryptor();
  const receiver = new FrameCryptor();
  await sender.setLocalKey(0, material);
  await receiver.setRemoteKey(ALICE, 0, material);
  return { sender, receiver, material };
}

describe('E2EE frames', () => {
  it('a VP8 keyframe keeps 10 clear bytes, a delta frame 3, audio 1, and decrypts back', async () => {
    const { sender, receiver } = await pair();
    const key = vp8KeyFrame();
    for (const [frame, kind, keyFrame, clear] of [
      [key, 'video', true, 10],
      [key.slice(0, 300), 'video', false, 3],
      [key.slice(0, 80), 'audio', false, 1],
    ] as const) {
      const sealed = (await sender.encrypt(frame, kind, keyFrame))!;
      assert.equal(sealed.length, frame.length + FRAME_OVERHEAD);
      assert.deepEqual(sealed.subarray(0, clear), frame.subarray(0, clear), 'header in clear');
      assert.notDeepEqual(sealed.subarray(clear, clear + 32), frame.subarray(clear, clear + 32));
      assert.equal(sealed[sealed.length - 1], FRAME_MAGIC);
      assert.equal(readTrailer(sealed)?.headerLength, clear);
      const opened = await receiver.decrypt(ALICE, sealed);
      assert.ok(opened.ok);
      assert.deepEqual(opened.data, frame);
    }
  });

  it('every frame gets its own counter, so the same frame never encrypts the same way', async () => {
    const { sender } = await pair();
    const frame = vp8KeyFrame(100);
    const a = (await sender.encrypt(frame, 'video', false))!;
    const b = (await sender.encrypt(frame, 'video', false))!;
    assert.equal(readTrailer(b)!.counter, readTrailer(a)!.counter + 1);
    assert.notDeepEqual(a.subarray(3, 90), b.subarray(3, 90));
  });

  it('a changed clear header, trailer or ciphertext byte is refused', async () => {
    const { sender, receiver } = await pair();
    const sealed = (await sender.encrypt(vp8KeyFrame(), 'video', true))!;
    for (const index of [0, 5, 20, sealed.length - 5, sealed.length - 3]) {
      const forged = sealed.slice();
      forged[index]! ^= 0x01;
      const result = await receiver.decrypt(ALICE, forged);
      assert.equal(result.ok, false, `byte ${index} flipped`);
    }
    assert.deepEqual(await receiver.decrypt(ALICE, vp8KeyFrame()), {
      ok: false,
      reason: 'malformed',
      keyId: null,
    });
  });

  it('without the key, or with another key, nothing decrypts', async () => {
    const { sender } = await pair();
    const sealed = (await sender.encrypt(vp8KeyFrame(), 'video', true))!;
    const stranger = new FrameCryptor();
    assert.equal((await stranger.decrypt(ALICE, sealed)).ok, false);
    await stranger.setRemoteKey(ALICE, 0, randomKeyMaterial());
    assert.deepEqual(await stranger.decrypt(ALICE, sealed), { ok: false, reason: 'auth_failed', keyId: 0 });
  });

  it('a receiver follows a ratchet on its own, within the window, and keeps the previous key', async () => {
    const { sender, receiver, material } = await pair();
    const base = await importMediaKey(0, material);
    const old = (await sender.encrypt(vp8KeyFrame(), 'video', true))!;
    const next = await ratchetForward(base, 3);
    await sender.setLocalKey(3, next.material);
    const ratcheted = (await sender.encrypt(vp8KeyFrame(), 'video', true))!;
    assert.ok((await receiver.decrypt(ALICE, ratcheted)).ok, 'ratchets 3 steps');
    assert.ok((await receiver.decrypt(ALICE, old)).ok, 'a late frame of the previous key still opens');
    const far = await ratchetForward(next, RATCHET_WINDOW + 1);
    await sender.setLocalKey(far.keyId, far.material);
    const beyond = (await sender.encrypt(vp8KeyFrame(), 'video', true))!;
    assert.equal((await receiver.decrypt(ALICE, beyond)).ok, false, 'not beyond the window');
  });

  it('a fresh random key is not guessed by ratcheting: a departed holder of the old key cannot open it', async () => {
    const { sender, receiver } = await pair();
    await sender.setLocalKey(1, randomKeyMaterial());
    const after = (await sender.encrypt(vp8KeyFrame(), 'video', true))!;
    assert.deepEqual(await receiver.decrypt(ALICE, after), { ok: false, reason: 'missing_key', keyId: 1 });
  });

  it('there is no key before a key is set: a sender drops rather than sends in clear', async () => {
    assert.equal(await new FrameCryptor().encrypt(vp8KeyFrame(), 'video', true), null);
  });
});
