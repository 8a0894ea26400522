/**
 * Routers live in real worker processes: they are spread over the workers, and a worker that dies
 * takes only its own routers with it while the plane replaces it and keeps serving.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { nextEvent, publish, releaseNodeDataChannel, startPlane, subscribe } from './support.ts';

after(releaseNodeDataChannel);

test('routers are placed on the least-loaded worker process, each with its own ICE port', async () => {
  const plane = await startPlane({ workers: 2 });
  try {
    const workers = plane.workers();
    assert.equal(workers.length, 2);
    assert.notEqual(workers[0]!.pid, workers[1]!.pid);
    assert.ok(
      workers.every((w) => w.pid !== process.pid && w.pid !== undefined),
      'real child processes',
    );
    assert.notEqual(workers[0]!.port, workers[1]!.port);
    await plane.createRouter('place-a');
    await plane.createRouter('place-b');
    await plane.createRouter('place-c');
    const loads = plane.workers().map((w) => w.routers);
    assert.deepEqual([...loads].sort(), [1, 2]);
    plane.getRouter('place-a')!.close();
    plane.getRouter('place-b')!.close();
    plane.getRouter('place-c')!.close();
    assert.deepEqual(
      plane.workers().map((w) => w.routers),
      [0, 0],
    );
  } finally {
    await plane.close();
  }
});

test('killing a worker closes its routers and producers; the plane replaces it and keeps serving', async () => {
  const plane = await startPlane({ workers: 2 });
  try {
    const doomed = await plane.createRouter('crash-doomed');
    const survivor = await plane.createRouter('crash-survivor');
    const doomedWorker = plane.workers().find((w) => w.routers === 1 && w.pid)!;
    const pub = await publish(doomed, 'video');
    const otherPub = await publish(survivor, 'video');
    otherPub.peer.start();
    const otherSub = await subscribe(survivor, [otherPub.producer.id]);
    await otherSub.peer.waitFor(() => (otherSub.peer.streamForMid('0')?.packets ?? 0) > 10, 10_000, 'media');

    const producerClosed = nextEvent(doomed, 'producerclose');
    const routerClosed = nextEvent(doomed, 'close');
    const transportClosed = nextEvent(pub.transport, 'close');
    process.kill(doomedWorker.pid!, 'SIGKILL');
    assert.deepEqual(await producerClosed, [pub.producer.id]);
    await Promise.all([routerClosed, transportClosed]);
    assert.equal(plane.getRouter('crash-doomed'), undefined);

    const before = otherSub.peer.streamForMid('0')!.packets;
    await otherSub.peer.waitFor(
      () => otherSub.peer.streamForMid('0')!.packets > before + 30,
      10_000,
      'the other worker keeps forwarding',
    );

    await otherSub.peer.waitFor(
      () => plane.workers().length === 2 && plane.workers().every((w) => w.pid !== doomedWorker.pid),
      20_000,
      'a replacement worker',
    );
    // New routers land on the replacement (it has no routers) and work end to end.
    const fresh = await plane.createRouter('crash-fresh');
    const freshPub = await publish(fresh, 'audio');
    freshPub.peer.start();
    const freshSub = await subscribe(fresh, [freshPub.producer.id]);
    await freshSub.peer.waitFor(
      () => (freshSub.peer.streamForMid('0')?.packets ?? 0) > 10,
      10_000,
      'fresh media',
    );
    freshPub.peer.stop();
    otherPub.peer.stop();
    await Promise.all([pub.peer.close(), otherPub.peer.close(), otherSub.peer.close()]);
    await Promise.all([freshPub.peer.close(), freshSub.peer.close()]);
  } finally {
    await plane.close();
  }
});

test('plane.close() ends every worker process', async () => {
  const plane = await startPlane({ workers: 2 });
  const pids = plane.workers().map((w) => w.pid!);
  await plane.close();
  for (const pid of pids) {
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `worker ${pid} is gone`);
  }
  await assert.rejects(plane.createRouter('after-close'), { code: 'media_unavailable' });
});
