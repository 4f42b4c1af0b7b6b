// The container runtime: creates, starts, stops, execs into, health-checks and removes containers
// with runc under conmon, keeps one record per container on disk, and re-adopts what a previous
// swarmd left behind (containers outlive swarmd: conmon owns them). What only matters while the
// machine is up (OCI bundles, runc state, conmon's files) lives in the exec root, which swarmd keeps
// on tmpfs: it costs no disk inodes and cannot outlive a reboot as stale state.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync, type FSWatcher, watch } from 'node:fs';
import {
  chmod,
  chown,
  mkdir,
  readdir,
  readFile,
  realpath,
  rm,
  rmdir,
  stat,
  statfs,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { conflict, invalidArgument, notFound, SwarmError } from '../../api/errors.js';
import { run } from '../../lib/exec.js';
import { createLogger } from '../../lib/log.js';
import type {
  ContainerSpec,
  ExecutorTask,
  HealthConfig,
  HealthState,
  ImageResolver,
  LogEntry,
  LogOptions,
  NetworkProvider,
  PreparedNetwork,
  RegistryAuth,
  ResourceRequirements,
  TaskFileProvider,
} from '../types.js';
import { buildOciSpec, normalizeSignal, parseProcLimits, resolveUser } from './bundle.js';
import { launchConmon } from './conmon.js';
import {
  type ConsoleSize,
  containerProcessSchema,
  execPid,
  execProcess,
  sessionTerminal,
  setTerminalSize,
  signalSession,
  ttyExecArgv,
  ttyExecEnv,
  validConsoleSize,
} from './exec.js';
import { startViaExecFifo } from './execfifo.js';
import { applyProbe, type HealthSettings, healthSettings, initialHealth, timeoutOutput } from './health.js';
import {
  cgroupChildren,
  cgroupHierarchies,
  mountOverlay,
  mountsUnder,
  oomKillCount,
  pidAlive,
  readPid,
  removeCgroup,
  removeCgroupTree,
  unmount,
} from './host.js';
import { readLogFile } from './logs.js';
import { type ContainerRecord, readRecord, writeRecord, ZERO_TIME } from './record.js';
import { VolumeStore } from './volumes.js';

export interface RuntimeOptions {
  /** Kept across reboots: containers/<id>/ (record, log, writable layer), volumes/. */
  stateDir: string;
  /**
   * Volatile: bundles/<id>/ (OCI bundle, rootfs mount point, conmon files), exits/, socks/, runc/.
   * Default <stateDir>/exec; swarmd passes a tmpfs.
   */
  execRoot?: string;
  images: ImageResolver;
  /** Optional: without it, runc gives each container a fresh netns with only `lo`. */
  network?: NetworkProvider;
  /** A swarm task's secrets and configs; without it a task that has some cannot start. */
  files?: TaskFileProvider;
  /** Default <execRoot>/runc: private runc state, never shared with another runc user. */
  runcRoot?: string;
  runcPath?: string;
  conmonPath?: string;
  /** Prefix of every runc container id (and cgroup dir name). Default "skt-". */
  namePrefix?: string;
  /** cgroup v1 parent dir in every hierarchy. Default "skt". */
  cgroupParent?: string;
  /** Static init binary for ContainerSpec.Init. Default /usr/bin/tini-static when present. */
  initPath?: string;
  /** conmon --log-size-max (bytes). Default 10 MiB. */
  logSizeMax?: number;
}

export interface CreateOptions {
  name?: string;
  spec: ContainerSpec;
  /** Registry credentials for pulling spec.Image when the node lacks it; never stored. */
  pullAuth?: RegistryAuth;
  resources?: ResourceRequirements;
  /** Extra labels (the agent's com.docker.swarm.*), merged over spec.Labels. */
  labels?: Record<string, string>;
  taskId?: string;
  /** The swarm task the container runs: its network attachments, hostname and DNS settings. */
  task?: ExecutorTask;
}

export interface ExecConfig {
  Cmd: string[];
  Env?: string[];
  User?: string;
  WorkingDir?: string;
  Tty?: boolean;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  /** The terminal's size: from the create or start request, then from each resize. */
  ConsoleSize?: ConsoleSize;
}

export interface ExecProcess {
  /** With a Tty: the terminal's output (stdout and stderr of the process, as Docker gives them). */
  stdout: Readable | null;
  stderr: Readable | null;
  stdin: Writable | null;
  /** The exec'd process's exit code (runc passes it through). */
  exit: Promise<number>;
}

/** A started exec: the process we spawned (runc, or `script` around it) and what we learn of it. */
interface ExecSession {
  child: ChildProcess;
  exit: Promise<number>;
  /** The exec'd process in the container (a session leader), once runc has written its pid file. */
  pid: Promise<number | undefined>;
  /** Tty sessions: the pty runc reads, which resizes go to. */
  terminal?: Promise<string | undefined>;
  /** Resizes run one after another, so the last one asked for is the one that stays. */
  resizing: Promise<void>;
}

export interface ExecInstance {
  ID: string;
  ContainerID: string;
  Config: ExecConfig;
  Running: boolean;
  ExitCode: number | null;
  Pid: number;
}

export interface AdoptReport {
  running: string[];
  exited: { id: string; exitCode: number }[];
  lost: string[];
  removedLeftovers: string[];
}

const NAME_RE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const DEFAULT_GRACE_MS = 10_000;
/** How long a hung-up exec's processes get to end before they are killed. */
const HANG_UP_GRACE_MS = 2_000;
/** statfs type of tmpfs. */
const TMPFS_MAGIC = 0x01021994;
const log = createLogger({ component: 'executor/runc' });

interface HealthLoop {
  state: HealthState;
  timer?: NodeJS.Timeout;
  stopped: boolean;
}

/** The container events the runtime reports (Docker's names). */
export type ContainerAction = 'create' | 'start' | 'die' | 'destroy';

export class ContainerRuntime {
  readonly stateDir: string;
  readonly execRoot: string;
  readonly runcRoot: string;
  readonly namePrefix: string;
  readonly cgroupParent: string;
  /** The node's named volumes (Docker's local driver); a task's volume mounts come from here. */
  readonly volumes: VolumeStore;
  private readonly runcPath: string;
  private readonly conmonPath: string;
  private readonly initPath: string | undefined;
  private readonly logSizeMax: number;
  private readonly images: ImageResolver;
  private readonly network: NetworkProvider | undefined;
  private readonly files: TaskFileProvider | undefined;
  private readonly records = new Map<string, ContainerRecord>();
  private readonly health = new Map<string, HealthLoop>();
  private readonly execs = new Map<string, ExecInstance>();
  private readonly execSessions = new Map<string, ExecSession>();
  private readonly starting = new Set<string>();
  /** Volumes of containers being created, not yet in `records`: in use all the same. */
  private readonly pendingVolumeUsers = new Map<string, string[]>();
  private readonly finalizing = new Map<string, Promise<void>>();
  /** Start time (/proc/<pid>/stat field 22) of each running container's init, to signal it safely. */
  private readonly pidStarts = new Map<string, string>();
  private readonly events = new EventEmitter();
  private writes = new Map<string, Promise<void>>();
  private watcher: FSWatcher | undefined;
  private sweep: NodeJS.Timeout | undefined;
  private daemonRlimits: Record<string, number> = {};

  constructor(opts: RuntimeOptions) {
    this.stateDir = opts.stateDir;
    this.execRoot = opts.execRoot ?? join(opts.stateDir, 'exec');
    this.runcRoot = opts.runcRoot ?? join(this.execRoot, 'runc');
    this.runcPath = opts.runcPath ?? '/usr/sbin/runc';
    this.conmonPath = opts.conmonPath ?? '/usr/bin/conmon';
    this.namePrefix = opts.namePrefix ?? 'skt-';
    this.cgroupParent = opts.cgroupParent ?? 'skt';
    this.initPath =
      opts.initPath ?? (existsSync('/usr/bin/tini-static') ? '/usr/bin/tini-static' : undefined);
    this.logSizeMax = opts.logSizeMax ?? 10 * 1024 * 1024;
    this.images = opts.images;
    this.network = opts.network;
    this.files = opts.files;
    this.events.setMaxListeners(0);
    this.volumes = new VolumeStore({
      root: join(this.stateDir, 'volumes'),
      users: (name) => this.volumeUsers(name),
    });
  }

  private get containersDir() {
    return join(this.stateDir, 'containers');
  }
  private get exitDir() {
    return join(this.execRoot, 'exits');
  }
  private get socketDir() {
    return join(this.execRoot, 'socks');
  }
  private get bundlesDir() {
    return join(this.execRoot, 'bundles');
  }
  /** On disk: meta.json (the record), ctr.log, l/ (layer links), upper/ and work/ (writable layer). */
  containerDir(id: string): string {
    return join(this.containersDir, id);
  }
  /** In the exec root: config.json, rootfs/ (the overlay mount), persist/, conmon's pid files. */
  bundleDir(id: string): string {
    return join(this.bundlesDir, id);
  }
  /** IDs of the containers (any state, oldest first) that mount a volume. */
  volumeUsers(name: string): string[] {
    const ids = [...this.records.values()]
      .sort((a, b) => a.Created.localeCompare(b.Created))
      .filter((r) => r.Mounts.some((m) => m.Type === 'volume' && m.Name === name))
      .map((r) => r.Id);
    for (const [id, names] of this.pendingVolumeUsers) if (names.includes(name)) ids.push(id);
    return ids;
  }

  // ---------------------------------------------------------------- lifecycle of the runtime itself

  /**
   * Starts the runtime: re-adopts containers a previous swarmd left (running ones keep running;
   * ones that exited meanwhile get their real exit codes), removes leftovers it cannot account for,
   * then watches the exit dir.
   */
  async adopt(): Promise<AdoptReport> {
    for (const d of [this.containersDir, this.bundlesDir, this.exitDir, this.socketDir, this.runcRoot]) {
      await mkdir(d, { recursive: true });
    }
    await this.volumes.load();
    this.daemonRlimits = parseProcLimits(await readFile('/proc/self/limits', 'utf8'));
    const report: AdoptReport = { running: [], exited: [], lost: [], removedLeftovers: [] };
    const runcStates = await this.runcList();

    for (const id of await readdir(this.containersDir)) {
      try {
        const rec = await readRecord(join(this.containerDir(id), 'meta.json'));
        this.records.set(rec.Id, rec);
      } catch {
        // A container dir without a valid record is a create that never finished.
        await this.removeDirs(id);
        report.removedLeftovers.push(`bundle ${id}`);
      }
    }
    for (const id of await readdir(this.bundlesDir)) {
      if (!this.records.has(id)) {
        await this.removeDirs(id);
        report.removedLeftovers.push(`bundle ${id}`);
      }
    }

    for (const rec of this.records.values()) {
      const st = runcStates.get(rec.RuncId);
      const exit = await this.readExit(rec);
      if (st?.status === 'running' && pidAlive(st.pid)) {
        if (rec.State.Status !== 'running') {
          rec.State = {
            ...rec.State,
            Status: 'running',
            Pid: st.pid,
            StartedAt: st.created || new Date().toISOString(),
          };
          await this.persist(rec);
        }
        await this.notePidStart(rec);
        this.startHealth(rec);
        report.running.push(rec.Id);
      } else if (exit && (rec.State.Status === 'running' || st)) {
        await this.finalize(rec, exit.code, exit.at);
        report.exited.push({ id: rec.Id, exitCode: exit.code });
      } else if (rec.State.Status === 'running') {
        await this.runc(['delete', '-f', rec.RuncId], true);
        rec.State = {
          ...rec.State,
          Status: 'exited',
          Pid: 0,
          ExitCode: 255,
          Error: 'exit code lost: the container ended while swarmd was down and left no exit file',
          FinishedAt: new Date().toISOString(),
        };
        await this.persist(rec);
        await unmount(join(this.bundleDir(rec.Id), 'rootfs'));
        await rm(join(this.bundleDir(rec.Id), 'files'), { recursive: true, force: true });
        report.lost.push(rec.Id);
      } else if (st) {
        // created but never started by us: forget runc's half.
        await this.runc(['delete', '-f', rec.RuncId], true);
      }
    }

    const known = new Set([...this.records.values()].map((r) => r.RuncId));
    for (const [runcId] of runcStates) {
      if (runcId.startsWith(this.namePrefix) && !known.has(runcId)) {
        await this.runc(['delete', '-f', runcId], true);
        report.removedLeftovers.push(`runc ${runcId}`);
      }
    }
    for (const name of await cgroupChildren(this.cgroupParent)) {
      if (name.startsWith(this.namePrefix) && !known.has(name)) {
        for (const h of await cgroupHierarchies()) await removeCgroupTree(join(h, this.cgroupParent, name));
        report.removedLeftovers.push(`cgroup ${name}`);
      }
    }
    for (const f of await readdir(this.exitDir)) {
      if (f.startsWith(this.namePrefix) && !known.has(f)) {
        await rm(join(this.exitDir, f), { force: true });
        report.removedLeftovers.push(`exit file ${f}`);
      }
    }
    const cuuids = new Set([...this.records.values()].map((r) => cuuidOf(r.Id)));
    for (const f of await readdir(this.socketDir)) {
      if (!cuuids.has(f)) await rm(join(this.socketDir, f), { force: true });
    }
    // Volumes with options stay mounted for the containers that survived, not for any other.
    for (const id of report.running) {
      const rec = this.records.get(id);
      if (rec) await this.mountVolumes(rec);
    }
    await this.volumes.unmountIdle();
    this.watchExits();
    return report;
  }

  /** Stops watching and probing. Containers keep running (conmon owns them). */
  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.sweep) clearInterval(this.sweep);
    for (const id of this.health.keys()) this.stopHealth(id);
  }

  // ---------------------------------------------------------------- lookups

  list(): ContainerRecord[] {
    return [...this.records.values()].sort((a, b) => b.Created.localeCompare(a.Created));
  }

  /** By full id, name (with or without '/'), or unique id prefix; 404 "No such container: x". */
  get(ref: string): ContainerRecord {
    const byId = this.records.get(ref);
    if (byId) return byId;
    const name = ref.startsWith('/') ? ref.slice(1) : ref;
    for (const r of this.records.values()) if (r.Name === name) return r;
    if (/^[0-9a-f]+$/.test(ref)) {
      const matches = [...this.records.values()].filter((r) => r.Id.startsWith(ref));
      if (matches.length === 1 && matches[0]) return matches[0];
      if (matches.length > 1) throw invalidArgument(`multiple IDs found with provided prefix: ${ref}`);
    }
    throw notFound(`No such container: ${ref}`);
  }

  findByTask(taskId: string): ContainerRecord | undefined {
    for (const r of this.records.values()) if (r.TaskID === taskId) return r;
    return undefined;
  }

  healthOf(id: string): HealthState | undefined {
    return this.health.get(id)?.state;
  }

  onExit(fn: (rec: ContainerRecord) => void): () => void {
    this.events.on('exit', fn);
    return () => this.events.off('exit', fn);
  }
  onHealth(fn: (rec: ContainerRecord, h: HealthState) => void): () => void {
    this.events.on('health', fn);
    return () => this.events.off('health', fn);
  }
  /** Docker's container events as they happen here: create, start, die (with its exit code), destroy. */
  onLifecycle(fn: (action: ContainerAction, rec: ContainerRecord) => void): () => void {
    this.events.on('lifecycle', fn);
    return () => this.events.off('lifecycle', fn);
  }

  /** Resolves when the container is not running (at once if it already is not). */
  waitExit(ref: string, signal?: AbortSignal): Promise<ContainerRecord> {
    const rec = this.get(ref);
    if (rec.State.Status !== 'running' && !this.starting.has(rec.Id)) return Promise.resolve(rec);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        off();
        reject(new SwarmError('UNAVAILABLE', 'wait cancelled'));
      };
      const off = this.onExit((r) => {
        if (r.Id !== rec.Id) return;
        off();
        signal?.removeEventListener('abort', onAbort);
        resolve(r);
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  // ---------------------------------------------------------------- create / start / stop / remove

  async create(opts: CreateOptions): Promise<ContainerRecord> {
    const id = randomBytes(32).toString('hex');
    const name = (opts.name ?? `skt_${id.slice(0, 12)}`).replace(/^\//, '');
    if (!NAME_RE.test(name)) {
      throw invalidArgument(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
    for (const r of this.records.values()) {
      if (r.Name === name) {
        throw conflict(
          `Conflict. The container name "/${name}" is already in use by container "${r.Id}". You have to remove (or rename) that container to be able to reuse that name.`,
        );
      }
    }
    const spec = opts.spec;
    const image = await this.images.resolve(spec.Image, opts.pullAuth ? { auth: opts.pullAuth } : undefined);
    const dir = this.containerDir(id);
    const bundle = this.bundleDir(id);
    const runcId = `${this.namePrefix}${id}`;
    let prepared: PreparedNetwork | undefined;
    const anonymousVolumes: string[] = [];
    try {
      if (image.layers.length === 0) throw invalidArgument(`image ${spec.Image} has no layers`);
      await mkdir(join(dir, 'l'), { recursive: true });
      for (const d of ['upper', 'work']) await mkdir(join(dir, d));
      for (const [i, layer] of image.layers.entries()) await symlink(layer, join(dir, 'l', String(i)));
      await mkdir(join(bundle, 'rootfs'), { recursive: true });
      await mkdir(join(bundle, 'persist'));
      await mountOverlay(dir, join(bundle, 'rootfs'), image.layers.length);

      prepared = this.network ? await this.network.prepareNetwork(id, opts.task) : undefined;
      const hostname = prepared?.hostname ?? spec.Hostname ?? id.slice(0, 12);
      const etcFiles = {
        hosts: prepared?.hostsFile ?? join(bundle, 'hosts'),
        hostname: join(bundle, 'hostname'),
        resolvConf: prepared?.resolvConf ?? join(bundle, 'resolv.conf'),
      };
      await writeFile(join(bundle, 'hostname'), `${hostname}\n`);
      if (!prepared?.hostsFile) await writeFile(etcFiles.hosts, defaultHosts(hostname, prepared));
      if (!prepared?.resolvConf) await writeFile(etcFiles.resolvConf, await defaultResolvConf());

      const fileMounts = await this.writeTaskFiles(bundle, opts.task);
      const mountSources: string[] = [];
      const recMounts: ContainerRecord['Mounts'] = [];
      for (const m of spec.Mounts ?? []) {
        if (m.Type === 'tmpfs') {
          mountSources.push('');
          recMounts.push({ Type: 'tmpfs', Source: '', Destination: m.Target, RW: !m.ReadOnly });
        } else if (m.Type === 'volume') {
          const vol = await this.volumes.create({
            ...(m.Source ? { Name: m.Source } : {}),
            ...(m.VolumeOptions?.DriverConfig?.Name ? { Driver: m.VolumeOptions.DriverConfig.Name } : {}),
            DriverOpts: m.VolumeOptions?.DriverConfig?.Options ?? null,
            Labels: m.VolumeOptions?.Labels ?? null,
          });
          this.pendingVolumeUsers.set(id, [...(this.pendingVolumeUsers.get(id) ?? []), vol.Name]);
          if (!m.Source) anonymousVolumes.push(vol.Name);
          if (!m.VolumeOptions?.NoCopy)
            await this.copyImageContent(join(bundle, 'rootfs'), m.Target, vol.Name, id);
          mountSources.push(vol.Mountpoint);
          recMounts.push({
            Type: 'volume',
            Name: vol.Name,
            ...(m.Source ? {} : { Anonymous: true }),
            Source: vol.Mountpoint,
            Destination: m.Target,
            RW: !m.ReadOnly,
          });
        } else {
          const src = m.Source ?? '';
          if (!src.startsWith('/') || !existsSync(src)) {
            throw invalidArgument(
              `invalid mount config for type "bind": bind source path does not exist: ${src}`,
            );
          }
          mountSources.push(src);
          recMounts.push({ Type: 'bind', Source: src, Destination: m.Target, RW: !m.ReadOnly });
        }
      }
      const rootfs = join(bundle, 'rootfs');
      const passwd = await readFile(join(rootfs, 'etc/passwd'), 'utf8').catch(() => '');
      const group = await readFile(join(rootfs, 'etc/group'), 'utf8').catch(() => '');
      const oci = buildOciSpec({
        spec,
        image: image.config,
        ...(opts.resources ? { resources: opts.resources } : {}),
        hostname,
        rootfs: 'rootfs',
        cgroupsPath: `/${this.cgroupParent}/${runcId}`,
        ...(prepared?.netnsPath ? { netnsPath: prepared.netnsPath } : {}),
        ...(prepared?.sysctls ? { netSysctls: prepared.sysctls } : {}),
        etcFiles,
        mountSources,
        daemonRlimits: this.daemonRlimits,
        passwd,
        group,
        ...(this.initPath ? { initPath: this.initPath } : {}),
        fileMounts,
      });
      await writeFile(join(bundle, 'config.json'), JSON.stringify(oci, null, 1));

      const [path = '', ...args] = oci.process.args;
      const rec: ContainerRecord = {
        Id: id,
        Name: name,
        RuncId: runcId,
        Created: new Date().toISOString(),
        Image: spec.Image,
        ImageID: image.id,
        ...(opts.taskId ? { TaskID: opts.taskId } : {}),
        Spec: spec,
        ...(opts.resources ? { Resources: opts.resources } : {}),
        Labels: { ...(image.config.Labels ?? {}), ...(spec.Labels ?? {}), ...(opts.labels ?? {}) },
        Hostname: hostname,
        Path: path,
        Args: args,
        Env: oci.process.env,
        WorkingDir: oci.process.cwd,
        User: spec.User ?? image.config.User ?? '',
        ProcessUser: `${oci.process.user.uid}:${oci.process.user.gid}`,
        StopSignal: normalizeSignal(spec.StopSignal || image.config.StopSignal),
        ...mergedHealth(spec.Healthcheck, image.config.Healthcheck),
        Mounts: recMounts,
        ...(prepared
          ? {
              Network: {
                ...(prepared.netnsPath ? { netnsPath: prepared.netnsPath } : {}),
                ...(prepared.networks ? { networks: prepared.networks } : {}),
              },
            }
          : {}),
        State: {
          Status: 'created',
          Pid: 0,
          ExitCode: 0,
          OOMKilled: false,
          Error: '',
          StartedAt: ZERO_TIME,
          FinishedAt: ZERO_TIME,
        },
      };
      await writeRecord(join(dir, 'meta.json'), rec);
      this.records.set(id, rec);
      this.events.emit('lifecycle', 'create', rec);
      return rec;
    } catch (err) {
      await this.removeDirs(id).catch(() => undefined);
      if (prepared && this.network) await this.network.releaseNetwork(id).catch(() => undefined);
      this.pendingVolumeUsers.delete(id);
      for (const name of anonymousVolumes) await this.volumes.remove(name).catch(() => undefined);
      throw err;
    } finally {
      this.pendingVolumeUsers.delete(id);
    }
  }

  /**
   * Docker's copy on first use: the image's content at a volume's target goes into the volume
   * when the volume is empty (unless the mount says NoCopy), ownership and modes kept. A target
   * that is not a directory of the image, or resolves outside it, copies nothing.
   */
  private async copyImageContent(rootfs: string, target: string, volume: string, id: string): Promise<void> {
    const root = await realpath(rootfs);
    const source = await realpath(join(root, target)).catch(() => undefined);
    if (source === undefined || !source.startsWith(`${root}/`)) return;
    if (!(await stat(source)).isDirectory()) return;
    const user = `copy:${id}`;
    const path = await this.volumes.mount(volume, user);
    try {
      if (await this.volumes.isEmpty(volume)) await run('cp', ['-a', `${source}/.`, `${path}/`]);
    } finally {
      await this.volumes.unmount(volume, user);
    }
  }

  /** Mounts the volumes of a container that need a mount (options), for as long as it runs. */
  private async mountVolumes(rec: ContainerRecord): Promise<void> {
    const done: string[] = [];
    try {
      for (const m of rec.Mounts) {
        if (m.Type !== 'volume' || !m.Name) continue;
        await this.volumes.mount(m.Name, rec.Id);
        done.push(m.Name);
      }
    } catch (err) {
      for (const name of done) await this.volumes.unmount(name, rec.Id).catch(() => undefined);
      throw err;
    }
  }

  private async unmountVolumes(rec: ContainerRecord): Promise<void> {
    for (const m of rec.Mounts) {
      if (m.Type !== 'volume' || !m.Name || !this.volumes.has(m.Name)) continue;
      await this.volumes
        .unmount(m.Name, rec.Id)
        .catch((err) => log.warn('volume unmount failed', { volume: m.Name, err }));
    }
  }

  /**
   * A task's secrets and configs as files in its bundle (bound read-only at their targets). The
   * bundle must be on tmpfs (swarmd's exec root): a secret never reaches a disk. The files go
   * with the bundle.
   */
  private async writeTaskFiles(
    bundle: string,
    task: ExecutorTask | undefined,
  ): Promise<{ source: string; destination: string }[]> {
    const refs =
      (task?.Spec.ContainerSpec.Secrets?.length ?? 0) + (task?.Spec.ContainerSpec.Configs?.length ?? 0);
    if (!task || refs === 0) return [];
    if (!this.files)
      throw new SwarmError('FAILED_PRECONDITION', 'this node cannot provide secrets or configs');
    const files = await this.files.filesFor(task);
    const dir = join(bundle, 'files');
    await mkdir(dir, { mode: 0o700 });
    if ((await statfs(dir)).type !== TMPFS_MAGIC)
      throw new SwarmError('FAILED_PRECONDITION', `secrets need the exec root on tmpfs; ${dir} is not`);
    const out: { source: string; destination: string }[] = [];
    for (const [i, f] of files.entries()) {
      const source = join(dir, String(i));
      await writeFile(source, f.data, { mode: 0o600 });
      await chown(source, f.uid, f.gid);
      await chmod(source, f.mode);
      out.push({ source, destination: f.target });
    }
    return out;
  }

  /** Creates and starts a standalone container (tests, `docker run`-like use); returns its record. */
  async run(opts: CreateOptions): Promise<ContainerRecord> {
    const rec = await this.create(opts);
    try {
      await this.start(rec.Id);
    } catch (err) {
      await this.remove(rec.Id, { force: true }).catch(() => undefined);
      throw err;
    }
    return this.get(rec.Id);
  }

  /** conmon (→ runc create), then runc start. Starting a running container is a no-op. */
  async start(ref: string): Promise<void> {
    const rec = this.get(ref);
    if (rec.State.Status === 'running' || this.starting.has(rec.Id)) return;
    const bundle = this.bundleDir(rec.Id);
    this.starting.add(rec.Id);
    try {
      if (!existsSync(join(bundle, 'config.json'))) {
        throw new SwarmError(
          'FAILED_PRECONDITION',
          `container ${rec.Name} cannot start again: its runtime bundle went with a reboot; remove it and create a new one`,
        );
      }
      if (!(await mountsUnder(join(bundle, 'rootfs'))).length) {
        const dir = this.containerDir(rec.Id);
        const layers = await readdir(join(dir, 'l'));
        await mountOverlay(dir, join(bundle, 'rootfs'), layers.length);
      }
      // Leftovers of a previous run must not be mistaken for this one's exit.
      await rm(join(this.exitDir, rec.RuncId), { force: true });
      await rm(join(bundle, 'persist'), { recursive: true, force: true });
      await mkdir(join(bundle, 'persist'));
      await this.forgetRuncState(rec);
      await this.mountVolumes(rec);
      let pid: number;
      try {
        pid = await launchConmon({
          conmonPath: this.conmonPath,
          runcPath: this.runcPath,
          runcRoot: this.runcRoot,
          runcId: rec.RuncId,
          cuuid: cuuidOf(rec.Id),
          bundle,
          logPath: join(this.containerDir(rec.Id), 'ctr.log'),
          exitDir: this.exitDir,
          socketDir: this.socketDir,
          logSizeMax: this.logSizeMax,
        });
        const started = await startViaExecFifo(this.runcRoot, rec.RuncId, () => pidAlive(pid));
        if (started === 'no-fifo') await this.runc(['start', rec.RuncId]);
      } catch (err) {
        await this.runc(['delete', '-f', rec.RuncId], true);
        await this.unmountVolumes(rec);
        await rm(join(this.exitDir, rec.RuncId), { force: true });
        const msg = err instanceof Error ? err.message : String(err);
        rec.State = { ...rec.State, Error: msg };
        await this.persist(rec);
        throw new SwarmError('INTERNAL', `failed to start container ${rec.Name}: ${msg}`, { cause: err });
      }
      rec.State = {
        ...rec.State,
        Status: 'running',
        Pid: pid,
        ExitCode: 0,
        OOMKilled: false,
        Error: '',
        StartedAt: new Date().toISOString(),
        FinishedAt: ZERO_TIME,
      };
      await this.notePidStart(rec);
      await this.persist(rec);
      this.events.emit('lifecycle', 'start', rec);
    } finally {
      this.starting.delete(rec.Id);
    }
    this.startHealth(rec);
    // An exit that happened while we were still starting was held back: look now.
    await this.onExitFile(rec.RuncId);
  }

  /** Sends a signal (Docker names or numbers). 409 if the container is not running. */
  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const rec = this.get(ref);
    const sig = normalizeSignal(signal, 'SIGKILL');
    if (rec.State.Status !== 'running') throw conflict(`Container ${rec.Id} is not running`);
    await this.signal(rec, sig);
  }

  /** StopSignal, then SIGKILL after the grace period (PID 1 may ignore TERM: runtime.md §2). */
  async stop(ref: string, graceMs?: number): Promise<void> {
    const rec = this.get(ref);
    if (rec.State.Status !== 'running') return;
    // StopGracePeriod 0 means kill at once (Docker's --stop-grace-period 0s); unset means the default.
    const grace =
      graceMs ?? (rec.Spec.StopGracePeriod !== undefined ? rec.Spec.StopGracePeriod / 1e6 : DEFAULT_GRACE_MS);
    const exited = this.waitExit(rec.Id);
    await this.signal(rec, rec.StopSignal);
    if (await within(exited, grace)) return;
    await this.signal(rec, 'SIGKILL');
    if (!(await within(exited, 10_000)))
      throw new SwarmError('INTERNAL', `container ${rec.Id} did not exit after SIGKILL`);
  }

  /**
   * Removes the container and everything it holds on the host: runc state, mounts, conmon, bundle
   * (logs included), cgroup dirs, socket link, network, and the anonymous volumes it made (what
   * Docker's swarm executor asks for with RemoveVolume). Named volumes stay.
   */
  async remove(ref: string, opts: { force?: boolean } = {}): Promise<void> {
    const rec = this.get(ref);
    if (rec.State.Status === 'running') {
      if (!opts.force) {
        throw conflict(
          `You cannot remove a running container ${rec.Id}. Stop the container before attempting removal or force remove`,
        );
      }
      const exited = this.waitExit(rec.Id);
      await this.signal(rec, 'SIGKILL');
      await within(exited, 10_000);
    }
    await this.finalizing.get(rec.Id);
    this.stopHealth(rec.Id);
    const bundle = this.bundleDir(rec.Id);
    await this.forgetRuncState(rec);
    const conmonPid = await readPid(join(bundle, 'conmon.pid'));
    if (pidAlive(conmonPid) && (await isConmon(conmonPid))) process.kill(conmonPid, 'SIGKILL');
    if (this.network) await this.network.releaseNetwork(rec.Id);
    await rm(join(this.exitDir, rec.RuncId), { force: true });
    await rm(join(this.socketDir, cuuidOf(rec.Id)), { force: true });
    await this.removeDirs(rec.Id);
    await removeCgroup(this.cgroupParent, rec.RuncId);
    this.records.delete(rec.Id);
    this.pidStarts.delete(rec.Id);
    this.events.emit('lifecycle', 'destroy', rec);
    // The shared parent goes with our last container (rmdir of a non-empty cgroup dir just fails).
    if (this.records.size === 0) {
      for (const h of await cgroupHierarchies())
        await rmdir(join(h, this.cgroupParent)).catch(() => undefined);
    }
    for (const [eid, e] of this.execs) if (e.ContainerID === rec.Id && !e.Running) this.execs.delete(eid);
    for (const m of rec.Mounts) {
      if (m.Type !== 'volume' || !m.Anonymous || !m.Name) continue;
      await this.volumes
        .remove(m.Name, { force: true })
        .catch((err) => log.warn('anonymous volume not removed', { volume: m.Name, err }));
    }
  }

  logs(ref: string, opts: LogOptions): AsyncIterable<LogEntry> {
    const rec = this.get(ref);
    return readLogFile(join(this.containerDir(rec.Id), 'ctr.log'), opts, () => {
      const cur = this.records.get(rec.Id);
      return cur !== undefined && (cur.State.Status === 'running' || this.starting.has(rec.Id));
    });
  }

  // ---------------------------------------------------------------- exec

  createExec(ref: string, config: ExecConfig): ExecInstance {
    const rec = this.get(ref);
    if (rec.State.Status !== 'running') throw conflict(`Container ${rec.Id} is not running`);
    if (!config.Cmd || config.Cmd.length === 0) throw invalidArgument('No exec command specified');
    const inst: ExecInstance = {
      ID: randomBytes(32).toString('hex'),
      ContainerID: rec.Id,
      Config: config,
      Running: false,
      ExitCode: null,
      Pid: 0,
    };
    this.execs.set(inst.ID, inst);
    return inst;
  }

  /** Exec instances of a container (inspect's ExecIDs). */
  execIdsOf(containerId: string): string[] {
    return [...this.execs.values()].filter((e) => e.ContainerID === containerId).map((e) => e.ID);
  }

  getExec(id: string): ExecInstance {
    const e = this.execs.get(id);
    if (!e) throw notFound(`No such exec instance: ${id}`);
    return e;
  }

  /**
   * Runs an exec instance via `runc exec`, the exit code passing through. Without a Tty the process
   * gets pipes; with one it runs on its own pty in the container (exec.ts says how). A detached exec
   * (`detach`) is left running once runc has started it, without a terminal.
   */
  async startExec(id: string, opts: { detach?: boolean } = {}): Promise<ExecProcess> {
    const inst = this.getExec(id);
    if (inst.Running || inst.ExitCode !== null) throw conflict(`Exec ${id} has already been started`);
    const rec = this.get(inst.ContainerID);
    if (rec.State.Status !== 'running') throw conflict(`Container ${rec.Id} is not running`);
    const tty = inst.Config.Tty === true && opts.detach !== true;
    const dir = join(this.execRoot, 'execs');
    const pidFile = join(dir, `${inst.ID}.pid`);
    const processFile = join(dir, `${inst.ID}.json`);
    inst.Running = true; // from here on, a second start is refused
    try {
      await mkdir(dir, { recursive: true });
      await writeFile(processFile, JSON.stringify(await this.execProcess(rec, inst.Config, tty)));
    } catch (err) {
      inst.Running = false;
      throw err;
    }
    const runcArgv = [
      this.runcPath,
      ...['--root', this.runcRoot, 'exec', '--process', processFile, '--pid-file', pidFile],
      ...(opts.detach ? ['-d'] : []),
      rec.RuncId,
    ];
    // The size is read here, in the same turn as the session is registered below: a resize that
    // comes earlier is in the command line, one that comes later goes to the session.
    const [cmd = '', ...cmdArgs] = tty ? ttyExecArgv(runcArgv, inst.Config.ConsoleSize) : runcArgv;
    const child = spawn(cmd, cmdArgs, {
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(tty ? { env: ttyExecEnv(process.env.PATH) } : {}),
    });
    // Without stdin a plain exec reads EOF at once; a terminal's input just stays quiet (an EOF
    // there would reach the container's pty as ^D).
    if (!inst.Config.AttachStdin && !tty) child.stdin?.end();
    child.stdin?.on('error', () => undefined);
    const exit = childExit(child).then(async (code) => {
      inst.Running = false;
      inst.ExitCode = code;
      this.execSessions.delete(inst.ID);
      await Promise.all([rm(pidFile, { force: true }), rm(processFile, { force: true })]);
      return code;
    });
    const pid = execPid(pidFile, exit).then((p) => {
      if (p !== undefined) inst.Pid = p;
      return p;
    });
    this.execSessions.set(inst.ID, {
      child,
      exit,
      pid,
      ...(tty && child.pid !== undefined ? { terminal: sessionTerminal(child.pid, exit) } : {}),
      resizing: Promise.resolve(),
    });
    return {
      stdout: child.stdout,
      stderr: child.stderr,
      stdin: inst.Config.AttachStdin ? child.stdin : null,
      exit,
    };
  }

  /**
   * Sets the size of an exec's terminal (POST /exec/{id}/resize). Before the start it is kept for
   * the start; an exec without a Tty has no terminal and ignores it, as Docker's does.
   */
  async resizeExec(id: string, size: ConsoleSize): Promise<void> {
    const inst = this.getExec(id);
    if (!validConsoleSize(size)) throw invalidArgument(`invalid terminal size: ${size[0]}x${size[1]}`);
    if (!inst.Config.Tty) return;
    if (inst.ExitCode !== null) throw conflict(`Exec ${id} is not running`);
    inst.Config.ConsoleSize = size;
    const s = this.execSessions.get(id);
    if (!s?.terminal) return;
    const terminal = s.terminal;
    s.resizing = s.resizing.then(async () => {
      const path = await terminal;
      const latest = inst.Config.ConsoleSize;
      if (path === undefined || latest === undefined || !inst.Running) return;
      await setTerminalSize(path, latest).catch((err) => log.debug('exec resize failed', { id, err }));
    });
    await s.resizing;
  }

  /**
   * Ends a started exec whose client went away (or closed a terminal's input, which Docker treats
   * as a hang-up): SIGHUP to every process of the exec's session in the container, as a closed
   * terminal sends, then SIGKILL to whatever still runs after a grace period, so a disconnected
   * `docker exec -it` leaves nothing behind.
   */
  async hangUpExec(id: string): Promise<void> {
    const s = this.execSessions.get(id);
    const rec = this.records.get(this.execs.get(id)?.ContainerID ?? '');
    if (!s || !rec) return;
    const sid = await s.pid;
    if (sid === undefined) {
      s.child.kill('SIGKILL');
      return;
    }
    const container = { cgroupParent: this.cgroupParent, runcId: rec.RuncId };
    await signalSession(container, sid, 'SIGHUP');
    await signalSession(container, sid, 'SIGCONT'); // a stopped job hears the SIGHUP too
    if (await within(s.exit, HANG_UP_GRACE_MS)) return;
    await signalSession(container, sid, 'SIGKILL');
  }

  /** Runs a command to completion inside the container: stdout, stderr, exit code. */
  async execSync(
    ref: string,
    cmd: string[],
    timeoutMs = 30_000,
  ): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    const inst = this.createExec(ref, { Cmd: cmd, AttachStdout: true, AttachStderr: true });
    const p = await this.startExec(inst.ID);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout?.on('data', (b: Buffer) => out.push(b));
    p.stderr?.on('data', (b: Buffer) => err.push(b));
    // runc passes the signal on to the process.
    const timer = setTimeout(() => this.execSessions.get(inst.ID)?.child.kill('SIGTERM'), timeoutMs);
    try {
      const exitCode = await p.exit;
      return { exitCode, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
    } finally {
      clearTimeout(timer);
      this.execs.delete(inst.ID);
    }
  }

  /** The exec's OCI process, from the container's config.json (what `runc exec` flags would edit). */
  private async execProcess(
    rec: ContainerRecord,
    c: ExecConfig,
    tty: boolean,
  ): Promise<Record<string, unknown>> {
    const bundle = this.bundleDir(rec.Id);
    const config = containerProcessSchema.parse(
      JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8')),
    );
    const rootfs = join(bundle, 'rootfs');
    const user = c.User
      ? resolveUser(
          c.User,
          await readFile(join(rootfs, 'etc/passwd'), 'utf8').catch(() => ''),
          await readFile(join(rootfs, 'etc/group'), 'utf8').catch(() => ''),
        )
      : undefined;
    return execProcess(config.process, {
      args: c.Cmd,
      env: c.Env ?? [],
      ...(c.WorkingDir ? { cwd: c.WorkingDir } : {}),
      ...(user ? { user } : {}),
      tty,
      ...(tty && c.ConsoleSize ? { size: c.ConsoleSize } : {}),
    });
  }

  // ---------------------------------------------------------------- exits

  private watchExits(): void {
    if (this.watcher) return;
    this.watcher = watch(this.exitDir, (_ev, name) => {
      if (name) void this.onExitFile(name.toString());
    });
    this.watcher.on('error', (err) => log.warn('exit dir watch failed', { err }));
    // inotify can overflow under load; a slow sweep catches anything missed.
    this.sweep = setInterval(() => {
      void readdir(this.exitDir)
        .then((names) => Promise.all(names.map((n) => this.onExitFile(n))))
        .catch(() => undefined);
    }, 2000);
    this.sweep.unref();
  }

  private async onExitFile(runcId: string): Promise<void> {
    const rec = [...this.records.values()].find((r) => r.RuncId === runcId);
    if (rec === undefined || rec.State.Status !== 'running' || this.starting.has(rec.Id)) return;
    const pending = this.finalizing.get(rec.Id);
    if (pending) return pending;
    const exit = await readExitFile(join(this.exitDir, runcId));
    if (!exit) return;
    const p = this.finalize(rec, exit.code, exit.at).finally(() => this.finalizing.delete(rec.Id));
    this.finalizing.set(rec.Id, p);
    return p;
  }

  /** conmon's exit file (exit dir), else its persist/exit copy. */
  private async readExit(rec: ContainerRecord): Promise<{ code: number; at: string } | undefined> {
    return (
      (await readExitFile(join(this.exitDir, rec.RuncId))) ??
      (await readExitFile(join(this.bundleDir(rec.Id), 'persist', 'exit')))
    );
  }

  /** Records the exit (persisted before the exit file goes), frees runc state and the rootfs mount. */
  private async finalize(rec: ContainerRecord, code: number, at: string): Promise<void> {
    this.stopHealth(rec.Id);
    const bundle = this.bundleDir(rec.Id);
    // OOMKilled = exit 137 *and* an oom mark: a child's OOM kill alone leaves PID 1 running (runtime.md §2).
    const oomMark =
      existsSync(join(bundle, 'persist', 'oom')) || (await oomKillCount(this.cgroupParent, rec.RuncId)) > 0;
    rec.State = {
      ...rec.State,
      Status: 'exited',
      Pid: 0,
      ExitCode: code,
      OOMKilled: code === 137 && oomMark,
      FinishedAt: at,
    };
    this.pidStarts.delete(rec.Id);
    await this.persist(rec);
    await this.forgetRuncState(rec);
    await unmount(join(bundle, 'rootfs'));
    await this.unmountVolumes(rec);
    // A task's secrets and configs end with it, not with its container record (task history).
    await rm(join(bundle, 'files'), { recursive: true, force: true });
    await rm(join(this.exitDir, rec.RuncId), { force: true });
    log.debug('container exited', { id: rec.Id, code });
    this.events.emit('lifecycle', 'die', rec);
    this.events.emit('exit', rec);
  }

  // ---------------------------------------------------------------- health

  private startHealth(rec: ContainerRecord): void {
    const settings = healthSettings(rec.Healthcheck);
    if (!settings || this.health.has(rec.Id)) return;
    const loop: HealthLoop = { state: initialHealth(), stopped: false };
    this.health.set(rec.Id, loop);
    const startedMs = Date.parse(rec.State.StartedAt);
    const tick = async () => {
      if (loop.stopped || rec.State.Status !== 'running') return;
      const result = await this.probe(rec, settings);
      if (loop.stopped) return;
      const prev = loop.state.Status;
      loop.state = applyProbe(loop.state, result, settings, Date.now() - startedMs < settings.startPeriodMs);
      if (loop.state.Status !== prev) this.events.emit('health', rec, loop.state);
      loop.timer = setTimeout(tick, settings.intervalMs);
    };
    loop.timer = setTimeout(tick, settings.intervalMs);
  }

  private stopHealth(id: string): void {
    const loop = this.health.get(id);
    if (!loop) return;
    loop.stopped = true;
    if (loop.timer) clearTimeout(loop.timer);
  }

  private async probe(rec: ContainerRecord, s: HealthSettings) {
    const Start = new Date().toISOString();
    const child = spawn(this.runcPath, ['--root', this.runcRoot, 'exec', rec.RuncId, ...s.command], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => out.push(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM'); // runc forwards it to the probe process
      setTimeout(() => child.kill('SIGKILL'), 1000).unref();
    }, s.timeoutMs);
    const code = await childExit(child);
    clearTimeout(timer);
    return {
      Start,
      End: new Date().toISOString(),
      ExitCode: timedOut ? -1 : code,
      Output: timedOut ? timeoutOutput(s.timeoutMs) : Buffer.concat(out).toString('utf8'),
    };
  }

  // ---------------------------------------------------------------- helpers

  private persist(rec: ContainerRecord): Promise<void> {
    const path = join(this.containerDir(rec.Id), 'meta.json');
    const prev = this.writes.get(rec.Id) ?? Promise.resolve();
    const next = prev.then(() => writeRecord(path, rec));
    this.writes.set(
      rec.Id,
      next.catch(() => undefined),
    );
    return next;
  }

  /**
   * Signals the container's init directly (what `runc kill` does, without spawning runc): the
   * recorded pid is trusted only while /proc says it is the process we started (same start time),
   * so a recycled pid is never hit. Falls back to runc when that cannot be told.
   */
  private async signal(rec: ContainerRecord, signal: string): Promise<void> {
    const sig = normalizeSignal(signal, 'SIGKILL');
    const pid = rec.State.Pid;
    const started = this.pidStarts.get(rec.Id);
    if (pid > 0 && started !== undefined) {
      // Gone or a different process now: ours has exited, and its exit is on its way.
      if ((await processStartTime(pid)) !== started) return;
      try {
        process.kill(pid, sig as NodeJS.Signals);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ESRCH') return;
      }
    }
    await this.runc(['kill', rec.RuncId, sig.replace(/^SIG/, '')], true);
  }

  private async notePidStart(rec: ContainerRecord): Promise<void> {
    const t = await processStartTime(rec.State.Pid);
    if (t === undefined) this.pidStarts.delete(rec.Id);
    else this.pidStarts.set(rec.Id, t);
  }

  /** Unmounts what is mounted in a container's bundle, then removes its bundle and its disk dir. */
  private async removeDirs(id: string): Promise<void> {
    for (const d of [this.bundleDir(id), this.containerDir(id)]) {
      for (const m of await mountsUnder(d)) await unmount(m);
      await rm(d, { recursive: true, force: true });
    }
  }

  /** `runc delete -f`, only when runc still holds state for the container (a spawn saved otherwise). */
  private async forgetRuncState(rec: ContainerRecord): Promise<void> {
    if (existsSync(join(this.runcRoot, rec.RuncId))) await this.runc(['delete', '-f', rec.RuncId], true);
  }

  private async runc(args: string[], tolerant = false): Promise<void> {
    try {
      await run(this.runcPath, ['--root', this.runcRoot, ...args]);
    } catch (err) {
      if (!tolerant) throw err;
    }
  }

  private async runcList(): Promise<Map<string, { status: string; pid: number; created: string }>> {
    const out = new Map<string, { status: string; pid: number; created: string }>();
    const r = await run(this.runcPath, ['--root', this.runcRoot, 'list', '-f', 'json']);
    const parsed: unknown = JSON.parse(r.stdout.trim() || 'null');
    if (!Array.isArray(parsed)) return out;
    for (const e of parsed) {
      if (typeof e !== 'object' || e === null) continue;
      const id = 'id' in e && typeof e.id === 'string' ? e.id : undefined;
      if (!id) continue;
      out.set(id, {
        status: 'status' in e && typeof e.status === 'string' ? e.status : 'unknown',
        pid: 'pid' in e && typeof e.pid === 'number' ? e.pid : 0,
        created: 'created' in e && typeof e.created === 'string' ? e.created : '',
      });
    }
    return out;
  }
}

/** conmon's -u: short, so <socketDir>/<cuuid>/attach stays under the unix socket path limit. */
function cuuidOf(id: string): string {
  return id.slice(0, 24);
}

function mergedHealth(spec?: HealthConfig, image?: HealthConfig): { Healthcheck?: HealthConfig } {
  if (!healthSettings(spec, image)) return {};
  const test = spec?.Test && spec.Test.length > 0 ? spec.Test : (image?.Test ?? []);
  const pick = (f: 'Interval' | 'Timeout' | 'StartPeriod' | 'Retries') => spec?.[f] || image?.[f] || 0;
  return {
    Healthcheck: {
      Test: test,
      Interval: pick('Interval'),
      Timeout: pick('Timeout'),
      StartPeriod: pick('StartPeriod'),
      Retries: pick('Retries'),
    },
  };
}

async function readExitFile(path: string): Promise<{ code: number; at: string } | undefined> {
  try {
    const [text, st] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    const code = Number.parseInt(text.trim(), 10);
    if (!Number.isFinite(code)) return undefined;
    return { code, at: st.mtime.toISOString() };
  } catch {
    return undefined;
  }
}

function childExit(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.on('error', () => resolve(126));
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 + (signalNumber(signal) ?? 9) : 1)));
  });
}

function signalNumber(sig: NodeJS.Signals): number | undefined {
  const map: Partial<Record<NodeJS.Signals, number>> = { SIGKILL: 9, SIGTERM: 15, SIGINT: 2, SIGHUP: 1 };
  return map[sig];
}

async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), t]);
  } finally {
    clearTimeout(timer);
  }
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or undefined. */
async function processStartTime(pid: number): Promise<string | undefined> {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return fields[19] || undefined;
}

async function isConmon(pid: number): Promise<boolean> {
  const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
  return comm.trim() === 'conmon';
}

function defaultHosts(hostname: string, net: PreparedNetwork | undefined): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  for (const n of Object.values(net?.networks ?? {})) lines.push(`${n.IPAddress}\t${hostname}`);
  return `${lines.join('\n')}\n`;
}

/** The host's resolv.conf without loopback resolvers (unreachable from a container), as Docker does. */
async function defaultResolvConf(): Promise<string> {
  const host = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  const lines = host.split('\n').filter((l) => !/^\s*nameserver\s+(127\.|::1)/.test(l));
  if (!lines.some((l) => /^\s*nameserver\s/.test(l))) lines.push('nameserver 8.8.8.8', 'nameserver 8.8.4.4');
  return `${lines.filter((l) => l.trim() !== '').join('\n')}\n`;
}
