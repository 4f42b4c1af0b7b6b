// swarmd's command line: SwarmKit's and Docker's flag names, with their defaults. Pure.
import { invalidArgument } from '../api/errors.js';

export interface DaemonFlags {
  stateDir: string;
  /** Volatile runtime state (Docker's --exec-root); swarmd keeps it on tmpfs. Default <stateDir>/exec. */
  execRoot: string | undefined;
  listenControlApi: string;
  hostname: string | undefined;
  listenRemoteApi: string;
  advertiseAddr: string | undefined;
  /** SwarmKit's one-step start: initialise a new swarm if this node is not in one yet. */
  init: boolean;
  joinAddr: string | undefined;
  joinToken: string | undefined;
  /**
   * Also serve the Engine API on this socket (opt-in: `--docker-socket` is /var/run/docker.sock),
   * for tools that expect Docker's socket (a task may bind-mount it to drive the swarm).
   */
  dockerSocket: string | undefined;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** host:port for Prometheus metrics at /metrics (off when unset), as dockerd's metrics-addr. */
  metricsAddr: string | undefined;
  /** Remove every trace of a node gone for good (its state dir included) instead of running it. */
  cleanup: boolean;
  /** With --cleanup: kill the containers that still run instead of refusing. */
  force: boolean;
  /** --tls as given (undefined: not given); --tls=false is the explicit consent to plain TCP. */
  tls: boolean | undefined;
  /** Serve TCP with TLS and verify client certificates against tlsCaCert (Docker's --tlsverify). */
  tlsVerify: boolean;
  tlsCaCert: string;
  tlsCert: string;
  tlsKey: string;
  /** Group owning the Engine API unix socket (Docker's -G/--group), when it exists. */
  group: string;
}

export const DEFAULT_FLAGS: DaemonFlags = {
  stateDir: '/var/lib/swarmd',
  execRoot: undefined,
  listenControlApi: '/run/swarmd/swarmd.sock',
  hostname: undefined,
  listenRemoteApi: '0.0.0.0:2377',
  advertiseAddr: undefined,
  init: false,
  joinAddr: undefined,
  joinToken: undefined,
  dockerSocket: undefined,
  logLevel: 'info',
  metricsAddr: undefined,
  cleanup: false,
  force: false,
  tls: undefined,
  tlsVerify: false,
  // Docker's daemon defaults: ~/.docker/{ca,cert,key}.pem.
  tlsCaCert: `${process.env.HOME ?? '/root'}/.docker/ca.pem`,
  tlsCert: `${process.env.HOME ?? '/root'}/.docker/cert.pem`,
  tlsKey: `${process.env.HOME ?? '/root'}/.docker/key.pem`,
  group: 'docker',
};

export const USAGE = `Usage: swarmd [OPTIONS]

Run a swarm node: the Docker Engine API on a unix socket, and, on managers, an etcd member.

Options:
      --state-dir string            State directory (default "/var/lib/swarmd")
      --exec-root string            Runtime state that must not outlive a reboot, kept on tmpfs
                                    (default "<state-dir>/exec")
      --listen-control-api string   Engine API socket (alias -H, --host) (default "/run/swarmd/swarmd.sock");
                                    tcp://HOST:PORT only with TLS (--tlsverify …) or an explicit --tls=false
  -G, --group string                Group of the Engine API socket, when it exists (default "docker")
      --tlsverify                   Serve TCP with TLS and require client certificates signed by --tlscacert
      --tls                         Serve TCP with TLS, without client certificates (--tls=false: plain TCP)
      --tlscacert string            CA of the clients' certificates (default "~/.docker/ca.pem")
      --tlscert string              The API's TLS certificate (default "~/.docker/cert.pem")
      --tlskey string               The API's TLS key (default "~/.docker/key.pem")
      --hostname string             Node hostname (default: the machine's)
      --listen-remote-api string    Address for other nodes (alias --listen-addr) (default "0.0.0.0:2377")
      --advertise-addr string       Address advertised to other nodes
      --init                        Initialise a new swarm if this node is not in one
      --join-addr string            Join the swarm through this manager address
      --join-token string           Join token (SWMTKN-1-...)
      --docker-socket[=path]        Also serve the Engine API on /var/run/docker.sock (or path): full
                                    control of the swarm to whoever can open it, as Docker's socket
      --log-level string            debug, info, warn or error (default "info")
      --metrics-addr string         Serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9323)
      --cleanup                     Remove every trace of this node (containers, mounts, network,
                                    cgroups, etcd, the state dir) instead of running it; refused while
                                    its containers run, unless --force (which kills them)
  -h, --help                        Print usage
`;

const stringFlags: Record<string, keyof DaemonFlags> = {
  '--state-dir': 'stateDir',
  '--exec-root': 'execRoot',
  '--listen-control-api': 'listenControlApi',
  '-H': 'listenControlApi',
  '--host': 'listenControlApi',
  '-G': 'group',
  '--group': 'group',
  '--tlscacert': 'tlsCaCert',
  '--tlscert': 'tlsCert',
  '--tlskey': 'tlsKey',
  '--hostname': 'hostname',
  '--listen-remote-api': 'listenRemoteApi',
  '--listen-addr': 'listenRemoteApi',
  '--advertise-addr': 'advertiseAddr',
  '--join-addr': 'joinAddr',
  '--join-token': 'joinToken',
  '--log-level': 'logLevel',
  '--metrics-addr': 'metricsAddr',
};
const boolFlags: Record<string, keyof DaemonFlags> = {
  '--init': 'init',
  '--tls': 'tls',
  '--tlsverify': 'tlsVerify',
  '--cleanup': 'cleanup',
  '--force': 'force',
};
export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

/** `--docker-socket` alone or =true/1: Docker's path; =false/0: off; =PATH: there (absolute). */
function dockerSocketOf(inline: string | undefined): string | undefined {
  if (inline === undefined || inline === 'true' || inline === '1') return DEFAULT_DOCKER_SOCKET;
  if (inline === 'false' || inline === '0') return undefined;
  if (!inline.startsWith('/'))
    throw invalidArgument(`invalid --docker-socket "${inline}": give an absolute path`);
  return inline;
}

export function parseFlags(argv: string[]): DaemonFlags | 'help' {
  const out: Record<string, unknown> = { ...DEFAULT_FLAGS };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '-h' || arg === '--help') return 'help';
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    const sKey = stringFlags[name];
    const bKey = boolFlags[name];
    if (name === '--docker-socket') {
      out.dockerSocket = dockerSocketOf(inline);
    } else if (sKey) {
      const value = inline ?? argv[++i];
      if (value === undefined || value === '') throw invalidArgument(`flag needs an argument: ${name}`);
      out[sKey] = value;
    } else if (bKey) {
      out[bKey] = inline === undefined ? true : inline === 'true' || inline === '1';
    } else {
      throw invalidArgument(`unknown flag: ${name}\nSee 'swarmd --help'.`);
    }
  }
  const flags = out as unknown as DaemonFlags;
  if (!['debug', 'info', 'warn', 'error'].includes(flags.logLevel)) {
    throw invalidArgument(`invalid --log-level "${flags.logLevel}": use debug, info, warn or error`);
  }
  if (flags.joinToken && !flags.joinAddr) throw invalidArgument('--join-token needs --join-addr');
  if (flags.init && flags.joinAddr) throw invalidArgument('--init and --join-addr cannot be used together');
  if (flags.force && !flags.cleanup) throw invalidArgument('--force goes with --cleanup');
  apiListen(flags); // a TCP address without TLS or consent is refused here, before anything starts
  if (flags.cleanup && (flags.init || flags.joinAddr))
    throw invalidArgument('--cleanup removes a node: it cannot be used with --init or --join-addr');
  return flags;
}

/** How the Engine API listens on its control address, decided from the flags. Pure. */
export type ApiListen =
  | { kind: 'unix'; path: string }
  | { kind: 'tls'; address: string; verifyClients: boolean }
  | { kind: 'plain-tcp'; address: string };

export function apiListen(flags: DaemonFlags): ApiListen {
  const address = flags.listenControlApi;
  if (!address.startsWith('tcp://')) return { kind: 'unix', path: address.replace(/^unix:\/\//, '') };
  if (flags.tlsVerify) return { kind: 'tls', address, verifyClients: true };
  if (flags.tls === true) return { kind: 'tls', address, verifyClients: false };
  if (flags.tls === false) return { kind: 'plain-tcp', address };
  throw invalidArgument(
    `refusing to serve the Engine API on ${address} without TLS: it gives root on this machine to anyone who can reach it. ` +
      'Use --tlsverify --tlscacert CA --tlscert CERT --tlskey KEY, or --tls=false to accept the risk',
  );
}
