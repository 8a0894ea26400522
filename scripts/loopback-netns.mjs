// Runs a command in a fresh network namespace whose only interface is loopback.
//
// Why: Chromium gathers ICE candidates on every interface it finds, loopback included only
// because of --allow-loopback-in-peer-connection. On a machine with an Ethernet address, it also
// sends checks from that address to the SFU's loopback candidate, and the SFU answers: the
// packets never leave the host, but they carry an address outside 127.0.0.0/8 and ::1, which
// our tests must not use. In a namespace of its own, with only `lo` up, the browser, the server
// and coturn have nothing but loopback to talk over.
//
// Needs util-linux's `unshare` and iproute2's `ip`; as root a plain network namespace, otherwise
// one inside a user namespace (where the kernel allows unprivileged user namespaces).
import { spawn, spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';

const asRoot = process.getuid?.() === 0;
const unshareArgs = asRoot ? ['--net'] : ['--net', '--map-root-user'];
// `sh -c '...' sh cmd args...`: bring lo up, then become the command, arguments passed untouched.
const shellPrefix = ['sh', '-c', 'ip link set lo up && exec "$@"', 'sh'];

/**
 * `{ argv }` that runs `command args...` inside a loopback-only namespace, or `{ argv: null,
 * reason }` when this machine cannot create one.
 */
export function inLoopbackNamespace(command, args) {
  const probe = spawnSync('unshare', [...unshareArgs, ...shellPrefix, 'true'], { stdio: 'pipe' });
  if (probe.error || probe.status !== 0) {
    const reason = probe.error?.message ?? probe.stderr.toString('utf8').trim();
    return { argv: null, reason: reason || `unshare exited with ${probe.status}` };
  }
  // CONCLAVE_LOOPBACK_NETNS tells the tests inside that they may assert loopback-only paths.
  const argv = [
    'unshare',
    ...unshareArgs,
    ...shellPrefix,
    'env',
    'CONCLAVE_LOOPBACK_NETNS=1',
    command,
    ...args,
  ];
  return { argv, reason: null };
}

// As a command: `node scripts/loopback-netns.mjs <command> [args...]` runs the command in such a
// namespace (the benchmarks use it) and exits with its status. Without one it refuses, unless
// CONCLAVE_ALLOW_HOST_NETWORK=1 accepts running on this machine's network.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [command, ...args] = process.argv.slice(2);
  if (!command) {
    console.error('usage: node scripts/loopback-netns.mjs <command> [args...]');
    process.exit(2);
  }
  let { argv, reason } = inLoopbackNamespace(command, args);
  if (!argv) {
    if (process.env.CONCLAVE_ALLOW_HOST_NETWORK !== '1') {
      console.error(`cannot create a loopback-only network namespace (${reason});`);
      console.error("set CONCLAVE_ALLOW_HOST_NETWORK=1 to run on this machine's network instead");
      process.exit(1);
    }
    argv = [command, ...args];
  }
  const child = spawn(argv[0], argv.slice(1), { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
}
