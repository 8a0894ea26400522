/**
 * The one way tests and scripts boot a throwaway real server: startServer on loopback, an
 * ephemeral HTTP port, its own temp data dir (SQLite unless told otherwise), one media worker,
 * silent logs. Callers layer their own flags and config overrides on top.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { type RunningServer, startServer } from '../../src/app.ts';
import { type DeepPartial, loadConfig } from '../../src/config/index.ts';
import type { ConfigInput } from '../../src/config/schema.ts';

export interface TestServerOptions {
  /** Names the temp data dir (`conclave-<name>-…`), so a leftover says which test made it. */
  name: string;
  /** Flags, after the defaults below (a later flag wins). */
  argv?: readonly string[];
  /** Config values, applied after every flag (deep-merged). */
  overrides?: DeepPartial<ConfigInput>;
  /** Where the server logs (stdout otherwise). */
  logStream?: Writable;
}

export interface BootedServer {
  server: RunningServer;
  url: string;
  dataDir: string;
  /** Stops the server and removes its data dir. */
  close(): Promise<void>;
}

const DEFAULT_FLAGS = [
  '--server.host=127.0.0.1',
  '--port=0',
  '--media-workers=1',
  '--rtc-port=0',
  '--media.bindAddress=127.0.0.1',
  '--log-level=silent',
];

export async function bootTestServer(options: TestServerOptions): Promise<BootedServer> {
  const dataDir = await mkdtemp(join(tmpdir(), `conclave-${options.name}-`));
  const removeDataDir = () => rm(dataDir, { recursive: true, force: true });
  let server: RunningServer;
  try {
    const config = loadConfig({
      argv: [...DEFAULT_FLAGS, ...(options.argv ?? [])],
      env: {},
      cwd: dataDir,
      overrides: { ...options.overrides, dataDir },
    });
    server = await startServer(config, options.logStream ? { logStream: options.logStream } : {});
  } catch (error) {
    await removeDataDir();
    throw error;
  }
  return {
    server,
    url: server.url,
    dataDir,
    close: async () => {
      await server.close();
      await removeDataDir();
    },
  };
}
