// The node's named volumes, Docker's `local` driver: <root>/<name>/_data holds the data and
// <root>/<name>/meta.json what Docker keeps in its metadata database (creation time, labels, driver
// options). A volume created with options (type/device/o) is mounted on its _data with mount(8)
// while a container that uses it runs, and unmounted when the last one stops; without options it
// is a plain directory. Volumes that predate meta.json read as created without labels or options.
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { conflict, internal, notFound, SwarmError } from '../../api/errors.js';
import { run } from '../../lib/exec.js';
import { KeyedLock } from '../../lib/keyed-lock.js';
import { createLogger } from '../../lib/log.js';
import { mountsUnder, unmount } from './host.js';

export const LOCAL_DRIVER = 'local';
/** The label Docker puts on a volume created without a name (API ≥ 1.42 prune only takes these). */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

const log = createLogger({ component: 'executor/volumes' });

/** A volume as Docker's API shows it (Status and UsageData aside). */
export interface Volume {
  Name: string;
  Driver: string;
  /** RFC3339, seconds. */
  CreatedAt: string;
  Mountpoint: string;
  /** null when the create request gave none (Docker keeps the difference between null and {}). */
  Labels: Record<string, string> | null;
  Options: Record<string, string> | null;
  Scope: 'local';
}

export interface VolumeCreateRequest {
  /** Empty or missing: an anonymous volume with a random 64-hex name. */
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

const metaSchema = z.object({
  CreatedAt: z.string(),
  Labels: z.record(z.string(), z.string()).nullable(),
  Options: z.record(z.string(), z.string()).nullable(),
});
type VolumeMeta = z.infer<typeof metaSchema>;

// ------------------------------------------------------------------ pure rules of the local driver

const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const VALID_OPTIONS = ['type', 'o', 'device', 'size'];

/** Docker's local-driver name check; the reason, or undefined when the name is fine. */
export function volumeNameProblem(name: string): string | undefined {
  if (name.length === 1)
    return 'volume name is too short, names should be at least two alphanumeric characters';
  if (!VOLUME_NAME.test(name)) {
    return `"${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`;
  }
  return undefined;
}

/** go-units RAMInBytes, which Docker parses `size` with; undefined when it does not parse. */
function ramInBytes(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(value);
  if (!m) return undefined;
  const exp = ' kmgtp'.indexOf((m[2] ?? ' ').toLowerCase());
  return Math.floor(Number(m[1]) * 1024 ** exp);
}

/** Docker's local-driver option check (validateOpts); the reason, or undefined when they are fine. */
export function localOptionsProblem(opts: Record<string, string> | null | undefined): string | undefined {
  if (!opts) return undefined;
  const keys = Object.keys(opts);
  for (const k of keys) if (!VALID_OPTIONS.includes(k)) return `invalid option: "${k}"`;
  if (opts.size !== undefined) {
    const size = ramInBytes(opts.size);
    if (size === undefined) return `invalid size: '${opts.size}'`;
    // No project quotas here: like a dockerd on a filesystem without them.
    if (size > 0) return 'quota size requested but no quota support';
  }
  // type needs device, device needs type, o needs both.
  const mountKeys = ['type', 'device', 'o'].filter((k) => k in opts);
  if (mountKeys.length > 0) {
    if (!('device' in opts)) return 'missing required option: "device"';
    if (!('type' in opts)) return 'missing required option: "type"';
  }
  return undefined;
}

/** A volume is mounted on its _data only when it has a device or a filesystem type. */
export function needsMount(options: Record<string, string> | null): boolean {
  return Boolean(options?.device || options?.type);
}

/** mount(8)'s arguments for a volume with options: `-t TYPE [-o O] DEVICE TARGET`. */
export function mountArguments(options: Record<string, string>, target: string): string[] {
  return [
    ...(options.type ? ['-t', options.type] : []),
    ...(options.o ? ['-o', options.o] : []),
    options.device ?? '',
    target,
  ];
}

/** Docker hides a CIFS/NFS password that a failed mount's message would show. */
export function redactPassword(text: string, o: string | undefined): string {
  const password = /(?:^|,)password=([^,]*)/.exec(o ?? '')?.[1];
  return password ? text.split(`password=${password}`).join('password=********') : text;
}

/** RFC3339 with seconds, as Docker prints a volume's CreatedAt. */
export function rfc3339Seconds(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

// ------------------------------------------------------------------ the store (the I/O shell)

export interface VolumeStoreOptions {
  /** <stateDir>/volumes */
  root: string;
  /** IDs of the containers that use a volume, in any state (Docker's "in use"). */
  users(name: string): string[];
}

export class VolumeStore {
  private readonly volumes = new Map<string, VolumeMeta>();
  /** Containers for which a volume is mounted now (running, or a copy in progress). */
  private readonly active = new Map<string, Set<string>>();
  private readonly lock = new KeyedLock<string>();

  constructor(private readonly opts: VolumeStoreOptions) {}

  /** Reads every volume dir under the root (call once at start). */
  async load(): Promise<void> {
    await mkdir(this.opts.root, { recursive: true });
    for (const entry of await readdir(this.opts.root, { withFileTypes: true })) {
      if (!entry.isDirectory() || volumeNameProblem(entry.name) !== undefined) continue;
      this.volumes.set(entry.name, await this.readMeta(entry.name));
    }
  }

  dataPath(name: string): string {
    return join(this.opts.root, name, '_data');
  }

  list(): Volume[] {
    return [...this.volumes.keys()].sort().map((n) => this.get(n));
  }

  has(name: string): boolean {
    return this.volumes.has(name);
  }

  /** 404 `get NAME: no such volume`, as Docker's. */
  get(name: string): Volume {
    const meta = this.volumes.get(name);
    if (!meta) throw notFound(`get ${name}: no such volume`);
    return {
      CreatedAt: meta.CreatedAt,
      Driver: LOCAL_DRIVER,
      Labels: sortedKeys(meta.Labels),
      Mountpoint: this.dataPath(name),
      Name: name,
      Options: sortedKeys(meta.Options),
      Scope: 'local',
    };
  }

  /** The containers that use it (what keeps it from removal and prune). */
  usersOf(name: string): string[] {
    return this.opts.users(name);
  }

  /**
   * Creates a volume, or returns the one of that name unchanged (as Docker: a second create with
   * other labels or options is not an error). Errors read `create NAME: …`.
   */
  async create(req: VolumeCreateRequest): Promise<Volume> {
    const anonymous = !req.Name;
    const name = req.Name || randomBytes(32).toString('hex');
    const fail = (code: 'INVALID_ARGUMENT' | 'NOT_FOUND', reason: string) =>
      new SwarmError(code, `create ${name}: ${reason}`);
    const driver = req.Driver || LOCAL_DRIVER;
    if (driver !== LOCAL_DRIVER)
      throw fail('NOT_FOUND', `error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    const nameProblem = volumeNameProblem(name);
    if (nameProblem) throw fail('INVALID_ARGUMENT', nameProblem);
    return this.lock.run(name, async () => {
      if (this.volumes.has(name)) return this.get(name);
      const optionsProblem = localOptionsProblem(req.DriverOpts);
      if (optionsProblem) throw fail('INVALID_ARGUMENT', optionsProblem);
      const labels = anonymous ? { ...req.Labels, [ANONYMOUS_LABEL]: '' } : (req.Labels ?? null);
      const meta: VolumeMeta = {
        CreatedAt: rfc3339Seconds(new Date()),
        Labels: labels,
        Options: req.DriverOpts ?? null,
      };
      await mkdir(this.dataPath(name), { recursive: true, mode: 0o755 });
      await this.writeMeta(name, meta);
      this.volumes.set(name, meta);
      log.debug('volume created', { name });
      return this.get(name);
    });
  }

  /**
   * Removes a volume and its data. In use (by any container, even a stopped one): 409 `remove NAME:
   * volume is in use - [IDs]`, force or not. Missing: 404, or nothing with `force`.
   */
  async remove(name: string, opts: { force?: boolean } = {}): Promise<void> {
    if (!this.volumes.has(name)) {
      if (opts.force) return;
      throw notFound(`get ${name}: no such volume`);
    }
    await this.lock.run(name, async () => {
      const users = this.usersOf(name);
      if (users.length > 0 || (this.active.get(name)?.size ?? 0) > 0)
        throw conflict(`remove ${name}: volume is in use - [${users.join(' ')}]`);
      const dir = join(this.opts.root, name);
      // Never delete through a mount: a bind-type volume's device is someone else's data.
      for (const m of await mountsUnder(dir)) await unmount(m);
      if ((await mountsUnder(dir)).length > 0)
        throw internal(`remove ${name}: its data is still mounted at ${this.dataPath(name)}`);
      await rm(dir, { recursive: true, force: true });
      this.volumes.delete(name);
      this.active.delete(name);
      log.debug('volume removed', { name });
    });
  }

  /** Bytes of the files in a volume (Docker's directory.Size: hard links once), 0 if unreadable. */
  async size(name: string): Promise<number> {
    const seen = new Set<string>();
    const walk = async (dir: string): Promise<number> => {
      let total = 0;
      for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
        const p = join(dir, e.name);
        if (e.isDirectory()) {
          total += await walk(p);
          continue;
        }
        const st = await lstat(p).catch(() => undefined);
        if (!st) continue;
        const key = `${st.dev}:${st.ino}`;
        if (st.nlink > 1 && seen.has(key)) continue;
        seen.add(key);
        total += st.size;
      }
      return total;
    };
    return walk(this.dataPath(name));
  }

  /** True when the volume's data dir (mounted or not) has no entry. */
  async isEmpty(name: string): Promise<boolean> {
    return (await readdir(this.dataPath(name)).catch(() => [])).length === 0;
  }

  /**
   * Makes the volume's data available for `user` (a container): mounts it with its options when it
   * needs a mount and is not mounted yet. Returns the host path to bind.
   */
  async mount(name: string, user: string): Promise<string> {
    const path = this.dataPath(name);
    return this.lock.run(name, async () => {
      const meta = this.volumes.get(name);
      if (!meta) throw notFound(`get ${name}: no such volume`);
      if (meta.Options && needsMount(meta.Options) && !(await isMountPoint(path))) {
        const r = await run('mount', mountArguments(meta.Options, path), { okCodes: [0, 1, 32] }).catch(
          (e: unknown) => ({ code: 1, stdout: '', stderr: e instanceof Error ? e.message : String(e) }),
        );
        if (r.code !== 0) {
          const why = redactPassword(r.stderr.trim() || `mount exited with ${r.code}`, meta.Options.o);
          throw new SwarmError(
            'INTERNAL',
            `error while mounting volume '${path}': failed to mount local volume: ${why}`,
          );
        }
      }
      const users = this.active.get(name) ?? new Set<string>();
      users.add(user);
      this.active.set(name, users);
      return path;
    });
  }

  /** `user` no longer needs the volume; the last one out unmounts a volume that has options. */
  async unmount(name: string, user: string): Promise<void> {
    await this.lock.run(name, async () => {
      const users = this.active.get(name);
      users?.delete(user);
      if (users && users.size > 0) return;
      this.active.delete(name);
      const meta = this.volumes.get(name);
      if (meta?.Options && needsMount(meta.Options)) await unmount(this.dataPath(name));
    });
  }

  /** After a restart: unmounts volumes that stayed mounted but that no running container uses. */
  async unmountIdle(): Promise<void> {
    for (const [name, meta] of this.volumes) {
      if (!meta.Options || !needsMount(meta.Options) || this.active.has(name)) continue;
      if (await isMountPoint(this.dataPath(name))) await this.unmount(name, '');
    }
  }

  private async readMeta(name: string): Promise<VolumeMeta> {
    const dir = join(this.opts.root, name);
    try {
      return metaSchema.parse(JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')));
    } catch {
      // Made before volumes had metadata: no labels, no options; created when its dir was.
      const st = await stat(dir);
      return { CreatedAt: rfc3339Seconds(st.ctime), Labels: null, Options: null };
    }
  }

  private async writeMeta(name: string, meta: VolumeMeta): Promise<void> {
    const path = join(this.opts.root, name, 'meta.json');
    const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, JSON.stringify(meta));
    await rename(tmp, path);
  }
}

/** A map with its keys in order, as Go marshals one. */
function sortedKeys(m: Record<string, string> | null): Record<string, string> | null {
  return m && Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

async function isMountPoint(path: string): Promise<boolean> {
  return (await mountsUnder(path)).includes(path);
}
