/**
 * A WebSocket client on a bare TCP socket, for frames a well-behaved library refuses to send:
 * text frames with invalid UTF-8, frames with RSV1 (compression) set without negotiation, or an
 * upgrade that never completes. Reads only what the tests need from the server: the upgrade
 * response, text messages and the close code.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { SIGNALING_PATH } from '@conclave/protocol/signaling';

export interface RawWebSocket {
  socket: Socket;
  /** The upgrade response head (status line and headers), lower-cased header names. */
  response: { status: number; headers: Record<string, string> };
  messages: string[];
  /** Resolves with the server's close code (1006 when the TCP connection ended without one). */
  closed: Promise<number>;
  sendFrame(opcode: number, payload: Buffer, options?: { rsv1?: boolean; fin?: boolean }): void;
}

export async function openRawWebSocket(
  baseUrl: string,
  extraHeaders: Record<string, string> = {},
): Promise<RawWebSocket> {
  const { hostname, port } = new URL(baseUrl);
  const socket = connect({ host: hostname, port: Number(port) });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const headers = {
    host: `${hostname}:${port}`,
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-key': randomBytes(16).toString('base64'),
    'sec-websocket-version': '13',
    ...extraHeaders,
  };
  socket.write(
    `GET ${SIGNALING_PATH} HTTP/1.1\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}\r\n`,
  );
  let buffer = Buffer.alloc(0);
  const messages: string[] = [];
  let resolveClosed: (code: number) => void = () => {};
  const closed = new Promise<number>((resolve) => {
    resolveClosed = resolve;
  });
  let closeCode: number | undefined;
  const response = await new Promise<RawWebSocket['response']>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      const [statusLine, ...lines] = buffer.subarray(0, end).toString('latin1').split('\r\n');
      buffer = buffer.subarray(end + 4);
      const parsed: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        parsed[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine?.split(' ')[1]), headers: parsed });
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
  const readFrames = () => {
    while (buffer.length >= 2) {
      const opcode = buffer[0]! & 0x0f;
      let length = buffer[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) return;
        length = Number(buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (buffer.length < offset + length) return;
      const payload = buffer.subarray(offset, offset + length);
      buffer = buffer.subarray(offset + length);
      if (opcode === 0x1) messages.push(payload.toString('utf8'));
      if (opcode === 0x8) closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
    }
  };
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    readFrames();
  });
  readFrames();
  socket.on('error', () => {});
  socket.on('close', () => resolveClosed(closeCode ?? 1006));
  return {
    socket,
    response,
    messages,
    closed,
    sendFrame(opcode, payload, options = {}) {
      const first = (options.fin === false ? 0 : 0x80) | (options.rsv1 ? 0x40 : 0) | opcode;
      const mask = randomBytes(4);
      const lengthBytes =
        payload.length < 126
          ? Buffer.from([0x80 | payload.length])
          : payload.length < 65536
            ? Buffer.from([0x80 | 126, payload.length >> 8, payload.length & 0xff])
            : Buffer.concat([Buffer.from([0x80 | 127]), bigEndian64(payload.length)]);
      const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
      socket.write(Buffer.concat([Buffer.from([first]), lengthBytes, mask, masked]));
    },
  };
}

function bigEndian64(value: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(BigInt(value));
  return out;
}
