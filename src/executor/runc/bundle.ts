// Pure: a container's spec + its image config + the host facts → the OCI runtime config (config.json)
// that runc reads. No I/O here: callers read /etc/passwd, /proc/self/limits etc. and pass them in.
import { invalidArgument, SwarmError } from '../../api/errors.js';
import type { ContainerSpec, ImageConfig, ResourceRequirements } from '../types.js';

/** The subset of the OCI runtime spec (1.0.2) we write. */
export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}
export interface OciRlimit {
  type: string;
  soft: number;
  hard: number;
}
export interface OciSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: { bounding: string[]; effective: string[]; permitted: string[] };
    rlimits: OciRlimit[];
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: OciMount[];
  linux: {
    cgroupsPath: string;
    resources: {
      devices: { allow: boolean; access: string }[];
      memory?: { limit: number; swap: number };
      cpu?: { quota: number; period: number };
      pids?: { limit: number };
    };
    namespaces: { type: string; path?: string }[];
    sysctl?: Record<string, string>;
    maskedPaths: string[];
    readonlyPaths: string[];
  };
}

/** Docker's default capability set (moby oci/caps/defaults.go). */
export const DEFAULT_CAPS = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
] as const;

/** Every capability the kernel knows as of 6.x (for "ALL" in CapabilityAdd/Drop). */
const ALL_CAPS = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

/** Docker's masked and read-only /proc and /sys paths (moby oci/defaults.go). */
export const MASKED_PATHS = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Where the init binary appears inside the container when ContainerSpec.Init is set (as Docker). */
export const INIT_TARGET = '/sbin/docker-init';
const CPU_PERIOD = 100_000;

/** Host-side files and facts the config refers to; all paths absolute on the host. */
export interface BundleInput {
  spec: ContainerSpec;
  image: ImageConfig;
  resources?: ResourceRequirements;
  hostname: string;
  /** Root filesystem path as written into config.json (relative to the bundle, e.g. "rootfs"). */
  rootfs: string;
  cgroupsPath: string;
  netnsPath?: string;
  /** Sysctls the network needs in the container's netns (they win over the spec's). */
  netSysctls?: Record<string, string>;
  etcFiles: { hosts: string; hostname: string; resolvConf: string };
  /** Resolved host source of each spec mount, same order as spec.Mounts (tmpfs: ignored). */
  mountSources: string[];
  /** The daemon's own hard limits by OCI name (RLIMIT_NOFILE …): container limits are capped there. */
  daemonRlimits: Record<string, number>;
  /** Contents of the rootfs's /etc/passwd and /etc/group ('' when absent). */
  passwd: string;
  group: string;
  /** Host path of a static init binary (tini-static); required when spec.Init. */
  initPath?: string;
  /** Secrets and configs: host files (on tmpfs) bound read-only at their targets. */
  fileMounts?: { source: string; destination: string }[];
}

/** Docker's Entrypoint/Cmd merge: Command replaces the entrypoint and drops the image's Cmd. */
export function processArgs(spec: ContainerSpec, image: ImageConfig): string[] {
  const entrypoint = spec.Command && spec.Command.length > 0 ? spec.Command : (image.Entrypoint ?? []);
  const overridden = spec.Command && spec.Command.length > 0;
  const cmd = spec.Args && spec.Args.length > 0 ? spec.Args : overridden ? [] : (image.Cmd ?? []);
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) throw invalidArgument('no command specified');
  return args;
}

/** Image env, then spec env overriding by key; PATH defaulted and HOSTNAME set, as Docker does. */
export function mergeEnv(imageEnv: string[], specEnv: string[], hostname: string): string[] {
  const out = new Map<string, string>();
  out.set('PATH', `PATH=${DEFAULT_PATH}`);
  out.set('HOSTNAME', `HOSTNAME=${hostname}`);
  for (const kv of [...imageEnv, ...specEnv]) {
    const key = kv.includes('=') ? kv.slice(0, kv.indexOf('=')) : kv;
    if (key === '') throw invalidArgument(`invalid environment variable: ${kv}`);
    // "KEY" without '=' means "unset" in Docker's model; we drop it.
    if (kv.includes('=')) out.set(key, kv);
    else out.delete(key);
  }
  return [...out.values()];
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}
function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || line.startsWith('#')) continue;
    out.push({ name: f[0] ?? '', uid: Number(f[2]), gid: Number(f[3]) });
  }
  return out;
}
interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}
function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 3 || line.startsWith('#')) continue;
    out.push({ name: f[0] ?? '', gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) });
  }
  return out;
}

const isNumeric = (s: string) => /^\d+$/.test(s);

/** "user", "uid", "user:group", "uid:gid" → numeric ids, resolving names in the rootfs's files. */
export function resolveUser(
  user: string | undefined,
  passwd: string,
  group: string,
): { uid: number; gid: number; additionalGids: number[] } {
  const spec = user && user !== '' ? user : '0';
  const [u = '0', g] = spec.split(':', 2);
  const users = parsePasswd(passwd);
  const groups = parseGroup(group);
  let uid: number;
  let gid: number;
  let name: string | undefined;
  if (isNumeric(u)) {
    uid = Number(u);
    const entry = users.find((e) => e.uid === uid);
    gid = entry?.gid ?? 0;
    name = entry?.name;
  } else {
    const entry = users.find((e) => e.name === u);
    if (!entry) throw invalidArgument(`unable to find user ${u}: no matching entries in passwd file`);
    uid = entry.uid;
    gid = entry.gid;
    name = entry.name;
  }
  if (g !== undefined && g !== '') {
    if (isNumeric(g)) gid = Number(g);
    else {
      const entry = groups.find((e) => e.name === g);
      if (!entry) throw invalidArgument(`unable to find group ${g}: no matching entries in group file`);
      gid = entry.gid;
    }
  }
  const additionalGids =
    name === undefined
      ? []
      : groups.filter((e) => e.members.includes(name) && e.gid !== gid).map((e) => e.gid);
  return { uid, gid, additionalGids };
}

function normalizeCap(c: string): string {
  const up = c.toUpperCase();
  return up === 'ALL' || up.startsWith('CAP_') ? up : `CAP_${up}`;
}

/** Docker's default caps, then CapabilityAdd, then CapabilityDrop ("ALL" works in both). */
export function capabilities(add: string[] = [], drop: string[] = []): string[] {
  const set = new Set<string>(DEFAULT_CAPS);
  for (const c of add.map(normalizeCap)) {
    if (c === 'ALL') for (const a of ALL_CAPS) set.add(a);
    else if (ALL_CAPS.includes(c)) set.add(c);
    else throw invalidArgument(`unknown capability: "${c}"`);
  }
  for (const c of drop.map(normalizeCap)) {
    if (c === 'ALL') set.clear();
    else set.delete(c);
  }
  return [...set].sort();
}

/** Spec ulimits (Docker names: nofile, nproc …) over a NOFILE default, each capped at the daemon's own. */
export function rlimits(spec: ContainerSpec, daemon: Record<string, number>): OciRlimit[] {
  const out = new Map<string, OciRlimit>();
  const nofileCap = daemon.RLIMIT_NOFILE;
  if (nofileCap !== undefined)
    out.set('RLIMIT_NOFILE', { type: 'RLIMIT_NOFILE', soft: nofileCap, hard: nofileCap });
  for (const u of spec.Ulimits ?? []) {
    const type = `RLIMIT_${u.Name.toUpperCase()}`;
    const cap = daemon[type];
    // Raising a hard limit above our own needs CAP_SYS_RESOURCE, which the sandbox lacks (runtime.md §0).
    const hard = cap !== undefined && cap >= 0 ? Math.min(u.Hard, cap) : u.Hard;
    out.set(type, { type, soft: Math.min(u.Soft, hard), hard });
  }
  return [...out.values()];
}

function tmpfsOptions(m: {
  ReadOnly?: boolean;
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}): string[] {
  const opts = ['nosuid', 'nodev', 'noexec'];
  if (m.ReadOnly) opts.push('ro');
  if (m.TmpfsOptions?.SizeBytes) opts.push(`size=${m.TmpfsOptions.SizeBytes}`);
  opts.push(`mode=${(m.TmpfsOptions?.Mode ?? 0o1777).toString(8)}`);
  return opts;
}

function defaultMounts(): OciMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=67108864'],
    },
  ];
}

/** Builds config.json. Throws INVALID_ARGUMENT for specs Docker would refuse. */
export function buildOciSpec(input: BundleInput): OciSpec {
  const { spec, image } = input;
  let args = processArgs(spec, image);
  const mounts = defaultMounts();
  if (spec.Init) {
    if (!input.initPath) {
      throw new SwarmError('NOT_IMPLEMENTED', 'Init requires tini-static (Debian package tini) on the host');
    }
    mounts.push({ destination: INIT_TARGET, type: 'bind', source: input.initPath, options: ['bind', 'ro'] });
    args = [INIT_TARGET, '--', ...args];
  }
  const userTargets = new Set((spec.Mounts ?? []).map((m) => m.Target));
  const etc: [string, string][] = [
    ['/etc/hosts', input.etcFiles.hosts],
    ['/etc/hostname', input.etcFiles.hostname],
    ['/etc/resolv.conf', input.etcFiles.resolvConf],
  ];
  for (const [dest, src] of etc) {
    if (!userTargets.has(dest))
      mounts.push({ destination: dest, type: 'bind', source: src, options: ['rbind', 'rw'] });
  }
  for (const f of input.fileMounts ?? [])
    mounts.push({
      destination: f.destination,
      type: 'bind',
      source: f.source,
      options: ['bind', 'ro', 'nosuid', 'nodev', 'noexec'],
    });
  (spec.Mounts ?? []).forEach((m, i) => {
    if (!m.Target.startsWith('/'))
      throw invalidArgument(`invalid mount target, must be absolute: ${m.Target}`);
    if (m.Type === 'tmpfs') {
      mounts.push({ destination: m.Target, type: 'tmpfs', source: 'tmpfs', options: tmpfsOptions(m) });
      return;
    }
    const source = input.mountSources[i];
    if (!source) throw invalidArgument(`invalid mount config for type "${m.Type}": missing source`);
    mounts.push({
      destination: m.Target,
      type: 'bind',
      source,
      options: ['rbind', m.ReadOnly ? 'ro' : 'rw', 'rprivate'],
    });
  });

  const user = resolveUser(spec.User ?? image.User, input.passwd, input.group);
  const caps = capabilities(spec.CapabilityAdd, spec.CapabilityDrop);
  const limits = input.resources?.Limits;
  const resources: OciSpec['linux']['resources'] = { devices: [{ allow: false, access: 'rwm' }] };
  if (limits?.MemoryBytes) {
    // swap = limit: no swap use, so a process over the limit is OOM-killed rather than swapped.
    resources.memory = { limit: limits.MemoryBytes, swap: limits.MemoryBytes };
  }
  if (limits?.NanoCPUs) {
    resources.cpu = {
      quota: Math.max(1000, Math.round((limits.NanoCPUs * CPU_PERIOD) / 1e9)),
      period: CPU_PERIOD,
    };
  }
  if (limits?.Pids) resources.pids = { limit: limits.Pids };

  const namespaces: OciSpec['linux']['namespaces'] = [
    { type: 'pid' },
    { type: 'ipc' },
    { type: 'uts' },
    { type: 'mount' },
    input.netnsPath ? { type: 'network', path: input.netnsPath } : { type: 'network' },
  ];
  const merged = { ...spec.Sysctls, ...input.netSysctls };
  const sysctls = Object.keys(merged).length > 0 ? merged : undefined;

  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false, // conmon runs without -t (runtime.md §2)
      user: {
        uid: user.uid,
        gid: user.gid,
        ...(user.additionalGids.length ? { additionalGids: user.additionalGids } : {}),
      },
      args,
      env: mergeEnv(image.Env ?? [], spec.Env ?? [], input.hostname),
      cwd: spec.Dir || image.WorkingDir || '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: rlimits(spec, input.daemonRlimits),
      noNewPrivileges: false,
    },
    root: { path: input.rootfs, readonly: spec.ReadOnly === true },
    hostname: input.hostname,
    mounts,
    linux: {
      cgroupsPath: input.cgroupsPath,
      resources,
      namespaces,
      ...(sysctls ? { sysctl: sysctls } : {}),
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
    },
  };
}

/** `/proc/self/limits` → hard limits by OCI name ("unlimited" → -1). */
export function parseProcLimits(text: string): Record<string, number> {
  const names: Record<string, string> = {
    'Max open files': 'RLIMIT_NOFILE',
    'Max processes': 'RLIMIT_NPROC',
    'Max core file size': 'RLIMIT_CORE',
    'Max locked memory': 'RLIMIT_MEMLOCK',
    'Max stack size': 'RLIMIT_STACK',
    'Max msgqueue size': 'RLIMIT_MSGQUEUE',
    'Max nice priority': 'RLIMIT_NICE',
    'Max realtime priority': 'RLIMIT_RTPRIO',
  };
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    for (const [label, name] of Object.entries(names)) {
      if (!line.startsWith(label)) continue;
      const fields = line.slice(label.length).trim().split(/\s+/);
      const hard = fields[1];
      if (hard !== undefined) out[name] = hard === 'unlimited' ? -1 : Number(hard);
    }
  }
  return out;
}

/** Docker's signal names/numbers ("SIGTERM", "TERM", "15") → the name runc kill takes. */
export function normalizeSignal(sig: string | undefined, dflt = 'SIGTERM'): string {
  if (!sig) return dflt;
  const numbers: Record<string, string> = {
    '1': 'SIGHUP',
    '2': 'SIGINT',
    '3': 'SIGQUIT',
    '6': 'SIGABRT',
    '9': 'SIGKILL',
    '10': 'SIGUSR1',
    '12': 'SIGUSR2',
    '14': 'SIGALRM',
    '15': 'SIGTERM',
    '17': 'SIGCHLD',
    '18': 'SIGCONT',
    '19': 'SIGSTOP',
    '20': 'SIGTSTP',
    '28': 'SIGWINCH',
  };
  const byNumber = numbers[sig];
  if (byNumber) return byNumber;
  const up = sig.toUpperCase();
  const name = up.startsWith('SIG') ? up : `SIG${up}`;
  if (
    !/^SIG[A-Z0-9+-]+$/.test(name) ||
    !Object.values(numbers).concat(['SIGPWR', 'SIGPIPE']).includes(name)
  ) {
    throw invalidArgument(`Invalid signal: ${sig}`);
  }
  return name;
}
