import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';
import {
  type CoturnConfigOptions,
  coturnOptionsFor,
  renderCoturnConfig,
} from '../../src/turn/coturn-config.ts';

const base: CoturnConfigOptions = {
  realm: 'example.com',
  secret: 'abcdef0123',
  listeningIps: [],
  relayIps: [],
  externalIp: '',
  listenPort: 3478,
  tlsListenPort: 443,
  tls: { certFile: '/etc/conclave/cert.pem', keyFile: '/etc/conclave/key.pem' },
  allowedPeers: ['203.0.113.10'],
  userQuota: 10,
  totalQuota: 1000,
  logFile: 'stdout',
  pidFile: '/run/conclave/turnserver.pid',
};

function directives(text: string): string[] {
  return text.split('\n').filter((l) => l && !l.startsWith('#'));
}

test('renderCoturnConfig() writes the shared-secret scheme, quotas and a locked-down surface', () => {
  const lines = directives(renderCoturnConfig(base));
  for (const expected of [
    'use-auth-secret',
    'static-auth-secret=abcdef0123',
    'realm=example.com',
    'stale-nonce=600',
    'user-quota=10',
    'total-quota=1000',
    'no-multicast-peers',
    'no-cli',
    'no-tlsv1',
    'no-tlsv1_1',
    'fingerprint',
    'no-software-attribute',
    'no-tcp-relay',
    'cert=/etc/conclave/cert.pem',
    'pkey=/etc/conclave/key.pem',
    'tls-listening-port=443',
    'log-file=stdout',
  ]) {
    assert.ok(lines.includes(expected), `missing ${expected}`);
  }
  assert.ok(!lines.includes('allow-loopback-peers'));
  assert.ok(lines.some((l) => l.startsWith('cipher-list=') && !/CBC|SHA1\b|RC4|3DES/i.test(l)));
});

test('renderCoturnConfig() denies private, loopback, link-local, CGNAT, multicast and IPv6 special ranges', () => {
  const denied = directives(renderCoturnConfig(base))
    .filter((l) => l.startsWith('denied-peer-ip='))
    .map((l) => l.slice('denied-peer-ip='.length));
  for (const range of [
    '0.0.0.0-0.255.255.255',
    '10.0.0.0-10.255.255.255',
    '100.64.0.0-100.127.255.255',
    '127.0.0.0-127.255.255.255',
    '169.254.0.0-169.254.255.255',
    '172.16.0.0-172.31.255.255',
    '192.0.0.0-192.0.0.255',
    '192.168.0.0-192.168.255.255',
    '198.18.0.0-198.19.255.255',
    '224.0.0.0-239.255.255.255',
    '240.0.0.0-255.255.255.255',
    '::-::ffff:ffff',
    '::ffff:0:0-::ffff:ffff:ffff',
    '64:ff9b::-64:ff9b::ffff:ffff',
    '2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff',
    'fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    'fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    'ff00::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
  ]) {
    assert.ok(denied.includes(range), `missing denied range ${range}`);
  }
  assert.deepEqual(
    directives(renderCoturnConfig(base)).filter((l) => l.startsWith('allowed-peer-ip=')),
    ['allowed-peer-ip=203.0.113.10'],
  );
});

test('renderCoturnConfig() allows loopback peers only when a media node is on loopback', () => {
  const lines = directives(renderCoturnConfig({ ...base, allowedPeers: ['127.0.0.1'] }));
  assert.ok(lines.includes('allow-loopback-peers'));
  assert.ok(lines.includes('allowed-peer-ip=127.0.0.1'));
  assert.ok(lines.includes('denied-peer-ip=127.0.0.0-127.255.255.255'));
});

test('renderCoturnConfig() without a certificate disables the TLS listener', () => {
  const lines = directives(renderCoturnConfig({ ...base, tls: null }));
  assert.ok(lines.includes('no-tls'));
  assert.ok(!lines.some((l) => l.startsWith('cert=')));
});

test('renderCoturnConfig() refuses a secret coturn would misread', () => {
  assert.throws(() => renderCoturnConfig({ ...base, secret: 'abc # def' }), /printable ASCII/);
  assert.throws(() => renderCoturnConfig({ ...base, secret: '' }), /printable ASCII/);
});

test('coturnOptionsFor() takes ports, realm and the media node addresses from the server configuration', () => {
  const config = loadConfig({
    argv: [],
    env: {},
    cwd: '/tmp',
    overrides: {
      media: { bindAddress: '10.1.2.3', announcedAddress: '198.51.100.7' },
      turn: { secret: 'abc', realm: 'video.example', listenPort: 3479, tlsListenPort: 443 },
      server: { tls: { cert: '/etc/c.pem', key: '/etc/k.pem' } },
    },
  });
  const options = coturnOptionsFor(config);
  assert.equal(options.realm, 'video.example');
  assert.equal(options.listenPort, 3479);
  assert.equal(options.tlsListenPort, 443);
  assert.deepEqual(options.allowedPeers, ['198.51.100.7', '10.1.2.3']);
  assert.deepEqual(options.tls, { certFile: '/etc/c.pem', keyFile: '/etc/k.pem' });
});
