/**
 * `npm start`: loads the configuration (defaults, file, CONCLAVE_* environment, flags), starts
 * the server, prints where it listens and how to create an application, and shuts down
 * cleanly on SIGINT/SIGTERM.
 */
import { X509Certificate } from 'node:crypto';
import { startServer } from './app.ts';
import { ConfigError, loadConfig } from './config/index.ts';

const HELP = `Usage: npm start -- [options]

Starts the Conclave server. With no options: plain HTTP on 127.0.0.1:7880, SQLite and files in
./.conclave, development mode (demo page at /) on.

Options (every configuration key can also be set as --dotted.key=value):
  --config FILE           YAML or JSON configuration file (see conclave.example.yaml)
  --host ADDRESS          listen address (non-loopback requires TLS)
  --port N                listen port (0 = any free port)
  --tls-cert FILE         PEM certificate
  --tls-key FILE          PEM private key (mode 0600)
  --tls-self-signed       generate a self-signed certificate in <dataDir>/tls
  --data-dir DIR          data directory
  --database-url URL      postgres://... to use PostgreSQL instead of SQLite
  --dev / --no-dev        force development mode on or off
  --log-level LEVEL       fatal|error|warn|info|debug|trace|silent
  --media-workers N       media worker processes (0 = one per core)
  --rtc-port N            UDP port of the first media worker
  --announced-address IP  address announced in ICE candidates (behind NAT)
  --turn-spawn            development: run coturn as a child process
  -h, --help              this help
`;

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP);
    return 0;
  }
  const config = loadConfig({ argv });
  const server = await startServer(config);

  const lines = [`Conclave listening on ${server.url}`];
  if (server.tls) {
    const fingerprint = new X509Certificate(server.tls.cert).fingerprint256;
    lines.push(
      `  TLS certificate (${server.tls.origin}): ${server.tls.certFile}`,
      `  SHA-256 fingerprint: ${fingerprint}`,
    );
  }
  lines.push(
    `  Data directory: ${config.dataDir} (${config.database.url ? 'PostgreSQL' : 'SQLite'})`,
    config.devMode
      ? `  Development mode: demo page at ${server.url.replace('127.0.0.1', 'localhost')}/`
      : '  Development mode: off',
    '',
    'Create an application (its API secret is shown once):',
    `  npx conclave app create my-app --json${config.configFile ? ` --config ${config.configFile}` : ''}`,
    `REST API reference: ${server.url}/v1/openapi.json`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    // Expected failures (bad configuration, refused key file, port in use) get one clear line.
    const message = err instanceof ConfigError || err instanceof Error ? err.message : String(err);
    process.stderr.write(`conclave: ${message}\n`);
    process.exit(1);
  },
);
