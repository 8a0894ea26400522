/**
 * A fetch that trusts one extra certificate authority, for servers started with
 * `--tls-self-signed`. Node's global fetch cannot take a CA without undici's Agent, which is
 * not a dependency here, so this speaks node:https directly and returns a standard Response.
 * Certificate and host name checks stay on: only the trust anchor changes.
 */
import { request } from 'node:https';

export function fetchTrusting(ca: string | Buffer): typeof fetch {
  return (input, init) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (url.protocol !== 'https:') {
        reject(new TypeError('A custom CA only applies to https:// URLs'));
        return;
      }
      const headers = Object.fromEntries(new Headers(init?.headers).entries());
      const body = typeof init?.body === 'string' ? init.body : undefined;
      if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
      const req = request(url, { method: init?.method ?? 'GET', headers, ca }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (typeof value === 'string') responseHeaders.set(name, value);
          }
          resolve(
            new Response(Buffer.concat(chunks), { status: res.statusCode ?? 502, headers: responseHeaders }),
          );
        });
      });
      req.on('error', reject);
      req.end(body);
    });
}
