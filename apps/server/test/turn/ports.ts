import { createSocket } from 'node:dgram';
import { createServer as createTcpServer } from 'node:net';

/** A port free for TCP and UDP on 127.0.0.1 (and ::1): coturn listens on both protocols. */
export async function freePort(ipv6: boolean): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createTcpServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    if ((await udpFree(port, 'udp4', '127.0.0.1')) && (!ipv6 || (await udpFree(port, 'udp6', '::1'))))
      return port;
  }
}

function udpFree(port: number, type: 'udp4' | 'udp6', address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket(type);
    socket.once('error', () => resolve(false));
    socket.bind(port, address, () => socket.close(() => resolve(true)));
  });
}
