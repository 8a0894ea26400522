/**
 * TLS for the HTTP/WebSocket listener. Plain HTTP is allowed only on loopback (browsers treat
 * localhost as a secure context); anywhere else the server needs a certificate, either
 * configured or generated with --tls-self-signed.
 */
import { X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecureContextOptions } from 'node:tls';
import { generate } from 'selfsigned';
import { type Config, ConfigError, isLoopbackHost } from '../config/index.ts';

export interface TlsMaterial {
  cert: string;
  key: string;
  /** Where the certificate came from, for the start-up message. */
  origin: 'configured' | 'self-signed';
  certFile: string;
}

/**
 * TLS 1.2 and 1.3 only; for 1.2 only ECDHE with AEAD ciphers (forward secrecy, no CBC, no RSA
 * key exchange). TLS 1.3 suites are all strong and keep Node's defaults.
 */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
] as const;

export const TLS_OPTIONS: SecureContextOptions = {
  minVersion: 'TLSv1.2',
  maxVersion: 'TLSv1.3',
  ciphers: [
    'TLS_AES_256_GCM_SHA384',
    'TLS_CHACHA20_POLY1305_SHA256',
    'TLS_AES_128_GCM_SHA256',
    ...TLS12_CIPHERS,
  ].join(':'),
  honorCipherOrder: true,
  ecdhCurve: 'X25519:P-256:P-384',
};

export async function loadTls(config: Config): Promise<TlsMaterial | null> {
  const { cert, key, selfSigned } = config.server.tls;
  if (cert || key) {
    if (!cert || !key)
      throw new ConfigError('Invalid configuration: server.tls.cert and server.tls.key go together');
    await refuseReadableKey(key);
    return {
      cert: await readFile(cert, 'utf8'),
      key: await readFile(key, 'utf8'),
      origin: 'configured',
      certFile: cert,
    };
  }
  if (selfSigned) return selfSignedCertificate(config);
  return null;
}

/** Refuses to listen beyond loopback without TLS. */
export function assertListenSecurity(config: Config, tls: TlsMaterial | null): void {
  if (tls || isLoopbackHost(config.server.host)) return;
  throw new ConfigError(
    `Refusing to listen on ${config.server.host} without TLS: set server.tls.cert and server.tls.key, ` +
      'or pass --tls-self-signed for a generated certificate',
  );
}

async function refuseReadableKey(path: string): Promise<void> {
  const info = await stat(path).catch(() => null);
  if (!info) throw new ConfigError(`TLS key file ${path} does not exist`);
  if ((info.mode & 0o077) !== 0) {
    throw new ConfigError(`TLS key file ${path} is readable by group or others: chmod 600 ${path}`);
  }
}

/** Generates (once) an ECDSA P-256 certificate for the listen host, localhost and loopback. */
async function selfSignedCertificate(config: Config): Promise<TlsMaterial> {
  const dir = join(config.dataDir, 'tls');
  const certFile = join(dir, 'self-signed.crt');
  const keyFile = join(dir, 'self-signed.key');
  const existing = await readExisting(certFile, keyFile, config.server.host);
  if (existing) return existing;

  await mkdir(dir, { recursive: true, mode: 0o700 });
  const host = config.server.host;
  const altNames: { type: 2 | 7; value?: string; ip?: string }[] = [
    { type: 2, value: 'localhost' },
    { type: 7, ip: '127.0.0.1' },
    { type: 7, ip: '::1' },
    ...(host && !isLoopbackHost(host) && host !== '0.0.0.0' && host !== '::'
      ? [/^[\d.]+$|:/.test(host) ? { type: 7 as const, ip: host } : { type: 2 as const, value: host }]
      : []),
  ];
  const notAfter = new Date(Date.now() + 90 * 86400_000);
  const pems = await generate([{ name: 'commonName', value: 'Conclave development' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: false },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  await writeFile(keyFile, pems.private, { mode: 0o600 });
  await chmod(keyFile, 0o600);
  await writeFile(certFile, pems.cert, { mode: 0o644 });
  return { cert: pems.cert, key: pems.private, origin: 'self-signed', certFile };
}

async function readExisting(certFile: string, keyFile: string, host: string): Promise<TlsMaterial | null> {
  try {
    const [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
    await refuseReadableKey(keyFile);
    const x509 = new X509Certificate(cert);
    const expiresSoon = new Date(x509.validTo).getTime() < Date.now() + 7 * 86400_000;
    const coversHost =
      isLoopbackHost(host) || ['0.0.0.0', '::'].includes(host) || x509.checkHost(host) || x509.checkIP(host);
    if (expiresSoon || !coversHost) return null;
    return { cert, key, origin: 'self-signed', certFile };
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    return null;
  }
}
