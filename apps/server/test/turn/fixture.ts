/**
 * A real coturn on loopback with the generated, hardened configuration, for tests: ephemeral
 * ports, a temporary directory, a self-signed certificate for `turns:`. The end-to-end relay
 * test (Chromium with iceTransportPolicy 'relay') uses it with allowedPeers set to the media
 * node's loopback address.
 */

import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { generate } from 'selfsigned';
import { type CoturnConfigOptions, renderCoturnConfig } from '../../src/turn/coturn-config.ts';
import { spawnCoturn, writeConfigFile } from '../../src/turn/coturn-process.ts';
import { CHROMIUM, CHROMIUM_ARGS } from '../e2e/support.ts';
import { hasCommand } from '../support/env.ts';
import { freePort } from './ports.ts';

export const coturnInstalled = hasCommand('turnserver');

export interface TestCoturnOptions {
  /** Peers coturn may relay to despite the denied ranges (the media node in an e2e test). */
  allowedPeers?: string[];
  userQuota?: number;
  totalQuota?: number;
  /** Also listen and relay on ::1 (for IPv6 permission tests). Default true. */
  ipv6?: boolean;
  /** Rewrites the generated configuration (tests that show what one directive does). */
  editConfig?: (text: string) => string;
}

export interface TestCoturn {
  host: string;
  /** UDP and TCP port. */
  port: number;
  tlsPort: number;
  realm: string;
  secret: string;
  /** turn: (UDP), turn: (TCP) and turns: URLs, ready for mintTurnCredentials. */
  urls: string[];
  /** PEM of the self-signed certificate coturn serves on the TLS port (a client's `ca`). */
  certificate: string;
  configText: string;
  /** Everything coturn logged so far. */
  logs: string[];
  stop(): Promise<void>;
}

export async function startTestCoturn(options: TestCoturnOptions = {}): Promise<TestCoturn> {
  const dir = await mkdtemp(join(tmpdir(), 'conclave-coturn-'));
  const host = '127.0.0.1';
  const ipv6 = options.ipv6 ?? true;
  const tls = await writeSelfSignedCertificate(dir);
  const realm = 'conclave.test';
  const secret = `test-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  const logs: string[] = [];
  // Two tries: a free port found here can be taken by a parallel test before coturn binds it.
  for (let attempt = 1; ; attempt++) {
    const [port, tlsPort] = [await freePort(ipv6), await freePort(ipv6)];
    const coturn: CoturnConfigOptions = {
      realm,
      secret,
      listeningIps: ipv6 ? [host, '::1'] : [host],
      relayIps: ipv6 ? [host, '::1'] : [host],
      externalIp: '',
      listenPort: port,
      tlsListenPort: tlsPort,
      tls: { certFile: tls.certFile, keyFile: tls.keyFile },
      allowedPeers: options.allowedPeers ?? [],
      userQuota: options.userQuota ?? 5,
      totalQuota: options.totalQuota ?? 100,
      logFile: 'stdout',
      pidFile: join(dir, 'turnserver.pid'),
    };
    const configText = (options.editConfig ?? ((text) => text))(renderCoturnConfig(coturn));
    const configPath = join(dir, 'turnserver.conf');
    await writeConfigFile(configPath, configText);
    try {
      const child = await spawnCoturn({ configPath, probe: { host, port }, onLog: (l) => logs.push(l) });
      return {
        host,
        port,
        tlsPort,
        realm,
        secret,
        urls: [
          `turn:${host}:${port}?transport=udp`,
          `turn:${host}:${port}?transport=tcp`,
          `turns:${host}:${tlsPort}?transport=tcp`,
        ],
        certificate: tls.cert,
        configText,
        logs,
        stop: async () => {
          await child.stop();
          await rm(dir, { recursive: true, force: true });
        },
      };
    } catch (err) {
      if (attempt >= 2) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }
}

async function writeSelfSignedCertificate(dir: string) {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    extensions: [
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  });
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  await writeFile(certFile, pems.cert);
  await writeFile(keyFile, pems.private, { mode: 0o600 });
  return { cert: pems.cert, certFile, keyFile };
}

/**
 * Chromium checks the TURN server's certificate like any other. The fixture's is self-signed, so
 * the browser is told to accept that one key (by SPKI hash), and nothing else.
 */
export function launchTrusting(certificatePem: string): Promise<Browser> {
  const spki = new X509Certificate(certificatePem).publicKey.export({ type: 'spki', format: 'der' });
  const hash = createHash('sha256').update(spki).digest('base64');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [...CHROMIUM_ARGS, `--ignore-certificate-errors-spki-list=${hash}`],
  });
}
