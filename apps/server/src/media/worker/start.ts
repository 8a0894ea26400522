/** Builds a worker's core and context; shared by worker processes and in-process mode. */
import { createSocket } from 'node:dgram';
import type { WorkerEvent, WorkerOptions } from '../rpc.ts';
import type { WorkerContext } from './context.ts';
import { WorkerCore } from './core.ts';
import { SrtpProfileLog } from './srtp-profile.ts';
import { TiebreakerRelay } from './tiebreaker-relay.ts';

/**
 * Creates the core. `ownsLogger`: libdatachannel has one logger per process; a worker process
 * installs it (it is where the SRTP profile is learnt), in-process mode leaves it to the host.
 */
export function createWorkerCore(
  options: WorkerOptions,
  emit: (event: WorkerEvent) => void,
  ownsLogger: boolean,
): WorkerCore {
  const profiles = new SrtpProfileLog();
  if (ownsLogger) profiles.install();
  const ctx: WorkerContext = {
    bindAddress: options.bindAddress,
    port: options.port,
    announcedAddress: options.announcedAddress || undefined,
    preferAes256Gcm: options.preferAes256Gcm,
    pliThrottleMs: options.pliThrottleMs,
    maxPublishBitrate: options.maxPublishBitrate ?? 0,
    emit,
    claimSrtpProfile: (assign) => profiles.claim(assign),
    ...(options.tiebreakerRelayPort === null
      ? {}
      : {
          tiebreakerRelay: new TiebreakerRelay({
            bindAddress: options.bindAddress,
            icePort: options.port,
            port: options.tiebreakerRelayPort ?? 0,
          }),
        }),
  };
  return new WorkerCore(ctx);
}

/** A free UDP port on `address` (rtcPort 0): bound by the OS, released, then used for the ICE mux. */
export function pickUdpPort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(address.includes(':') ? 'udp6' : 'udp4');
    socket.once('error', reject);
    socket.bind(0, address, () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}
