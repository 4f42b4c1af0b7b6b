// Secrets and configs in the control API (one class, two kinds): validate, seal, one versioned
// write. The payload is sealed with the cluster's data key before it reaches the store, so etcd
// never holds it in clear; a secret's payload is never returned, a config's is (Docker's rules,
// research/swarmkit-facts.md §8). Services reference them by ID; `resolveServicePayloads` checks
// a service's references (they exist, targets do not clash) and fills in IDs from names.
import { z } from 'zod';
import { alreadyExists, invalidArgument, SwarmError } from '../../api/errors.js';
import { newId } from '../../api/ids.js';
import {
  type Config,
  describeZodError,
  type PayloadSpec,
  PayloadSpecSchema,
  type Secret,
  type Service,
  type ServiceSpec,
} from '../../api/types.js';
import { checkFilterNames } from '../../engineapi/router.js';
import { type Filters, matchLabels } from './filters.js';
import type { ControlStore } from './store.js';

export type PayloadKind = 'secret' | 'config';
type PayloadObject = Secret | Config;

/** Docker's limits: a secret < 500 KiB, a config < 1000 KiB, neither empty. */
export const MAX_PAYLOAD_BYTES: Record<PayloadKind, number> = { secret: 500 * 1024, config: 1000 * 1024 };
const NAME = /^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$/;
const NAME_ERROR =
  'invalid name, only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]';
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Seals and opens payloads with the cluster's data key. */
export interface PayloadSealer {
  seal(base64: string): string;
  open(sealed: string): string;
}

/** A create or update body, checked: name, size, driver and template driver (pure). */
export function validatePayloadSpec(kind: PayloadKind, body: unknown): PayloadSpec {
  const parsed = PayloadSpecSchema.safeParse(body);
  if (!parsed.success) throw invalidArgument(`invalid ${kind} spec: ${describeZodError(parsed.error)}`);
  const spec = parsed.data;
  if (spec.Name.length > 64 || !NAME.test(spec.Name)) throw invalidArgument(NAME_ERROR);
  const data = spec.Data ?? '';
  if (!BASE64.test(data)) throw invalidArgument(`invalid ${kind} data: it must be base64`);
  const size = Buffer.from(data, 'base64').length;
  const max = MAX_PAYLOAD_BYTES[kind];
  if (size === 0 || size >= max)
    throw invalidArgument(`${kind} data must be larger than 0 and less than ${max} bytes`);
  if (spec.Driver?.Name)
    throw invalidArgument(
      `${kind} drivers are not supported (driver "${spec.Driver.Name}"): create the ${kind} without --driver`,
    );
  if (spec.Templating?.Name && spec.Templating.Name !== 'golang')
    throw invalidArgument(`unsupported template driver "${spec.Templating.Name}": only "golang" is`);
  return {
    Name: spec.Name,
    Labels: spec.Labels ?? {},
    Data: data,
    ...(spec.Templating?.Name ? { Templating: { Name: spec.Templating.Name } } : {}),
  };
}

/** Docker's list filters for secrets and configs: id (prefix), name (prefix), names (exact), label. */
export function payloadFilter(filters: Filters): (o: PayloadObject) => boolean {
  checkFilterNames(filters, ['id', 'label', 'name', 'names']);
  const ids = filters.get('id');
  const prefixes = filters.get('name');
  const names = filters.get('names');
  return (o) =>
    (!ids || ids.some((v) => o.ID.startsWith(v))) &&
    (!prefixes || prefixes.some((v) => o.Spec.Name.startsWith(v))) &&
    (!names || names.includes(o.Spec.Name)) &&
    matchLabels(o.Spec.Labels, filters.get('label'));
}

/** Whether a service's tasks reference object `id` of `kind` (pure). */
export function usesPayload(kind: PayloadKind, id: string, s: Service): boolean {
  const c = s.Spec.TaskTemplate.ContainerSpec;
  const refs =
    kind === 'secret' ? (c?.Secrets ?? []).map((r) => r.SecretID) : (c?.Configs ?? []).map((r) => r.ConfigID);
  return refs.includes(id);
}

/** The services whose tasks reference object `id` of `kind`, by name. */
export function servicesUsing(kind: PayloadKind, id: string, store: Pick<ControlStore, 'list'>): string[] {
  return store
    .list('service')
    .filter((s) => usesPayload(kind, id, s))
    .map((s) => s.Spec.Name ?? s.ID)
    .sort();
}

/** Rotation's way to roll a service onto a new version: a normal, versioned service update. */
export type ServiceUpdater = (serviceId: string, version: number, spec: ServiceSpec) => Promise<unknown>;

/** Label on a version that rotation replaced: the name of the object that replaced it. */
export const REPLACED_BY_LABEL = 'swarmkit-ts.replaced-by';

/** The name a replaced version keeps (pure): `<name>.<8 chars of its ID>`, at most 64 characters. */
export function retiredName(name: string, id: string): string {
  return `${name.slice(0, 55)}.${id.slice(0, 8)}`;
}

export class PayloadApi {
  constructor(
    private readonly kind: PayloadKind,
    private readonly store: ControlStore,
    private readonly sealer: PayloadSealer,
    private readonly now: () => Date = () => new Date(),
    private readonly updateService?: ServiceUpdater,
  ) {}

  /** Payloads opened for the dispatcher, by ID, with the object version they were opened at. */
  private readonly opened = new Map<
    string,
    { version: number; payload: { name: string; data: string; templating?: string } }
  >();

  async create(body: unknown): Promise<PayloadObject> {
    const spec = validatePayloadSpec(this.kind, body);
    if (this.store.list(this.kind).some((o) => o.Spec.Name === spec.Name))
      throw alreadyExists(`${this.kind} ${spec.Name} already exists`);
    const ts = this.now().toISOString();
    const stored = await this.store.create(this.kind, {
      ID: newId(),
      Version: { Index: 0 },
      CreatedAt: ts,
      UpdatedAt: ts,
      Spec: { ...spec, Data: this.sealer.seal(spec.Data ?? '') },
    });
    return this.public(stored);
  }

  list(filters: Filters): PayloadObject[] {
    const keep = payloadFilter(filters);
    return this.store
      .list(this.kind)
      .filter(keep)
      .map((o) => this.public(o));
  }

  get(ref: string): PayloadObject {
    return this.public(this.store.resolve(this.kind, ref));
  }

  /** Only the labels may change (Docker's rule); the body is the whole spec, as Docker's clients send it. */
  async update(ref: string, version: number, body: unknown): Promise<void> {
    const current = this.store.resolve(this.kind, ref);
    const parsed = PayloadSpecSchema.safeParse(body);
    if (!parsed.success)
      throw invalidArgument(`invalid ${this.kind} spec: ${describeZodError(parsed.error)}`);
    const next = parsed.data;
    const dataChanged =
      next.Data !== undefined && next.Data !== '' && next.Data !== this.sealer.open(current.Spec.Data ?? '');
    if (
      next.Name !== current.Spec.Name ||
      dataChanged ||
      (next.Templating?.Name ?? '') !== (current.Spec.Templating?.Name ?? '') ||
      (next.Driver?.Name ?? '') !== (current.Spec.Driver?.Name ?? '')
    )
      throw invalidArgument('only updates to Labels are allowed');
    if (current.Version.Index !== version) throw new SwarmError('OUT_OF_SEQUENCE', 'update out of sequence');
    await this.store.update(this.kind, {
      ...current,
      UpdatedAt: this.now().toISOString(),
      Spec: { ...current.Spec, Labels: next.Labels ?? {} },
    });
  }

  async remove(ref: string): Promise<void> {
    const o = this.store.resolve(this.kind, ref);
    const users = servicesUsing(this.kind, o.ID, this.store);
    if (users.length > 0)
      throw invalidArgument(
        `${this.kind} '${o.Spec.Name}' is in use by the following service${users.length > 1 ? 's' : ''}: ${users.join(', ')}`,
      );
    await this.store.remove(this.kind, o.ID);
  }

  /**
   * Beyond Docker: a new value under the same name, rolled out to the services that use it through
   * their update config (parallelism, delay, failure action, rollback). The current version keeps
   * its payload under `retiredName` (labelled with what replaced it), so running tasks and a
   * rollback still have it; the new version takes the name, and each service using the old one is
   * updated to reference the new one (same target, uid, gid, mode). Remove the retired version
   * with `rm` once no service uses it. The same value again changes nothing.
   */
  async rotate(ref: string, body: unknown): Promise<{ ID: string; Services: string[] }> {
    const current = this.store.resolve(this.kind, ref);
    const data = z.object({ Data: z.string() }).safeParse(body);
    if (!data.success) throw invalidArgument(`a ${this.kind} rotation needs the new value in Data (base64)`);
    const spec = validatePayloadSpec(this.kind, { ...current.Spec, Data: data.data.Data });
    if (spec.Data === this.sealer.open(current.Spec.Data ?? '')) return { ID: current.ID, Services: [] };
    // Everything that can refuse is checked before the first write: nothing half-applied.
    const users = this.store.list('service').filter((s) => usesPayload(this.kind, current.ID, s));
    const updateService = this.updateService;
    if (users.length > 0 && !updateService)
      throw invalidArgument(`${this.kind} rotation is not available here`);
    const ts = this.now().toISOString();
    await this.store.update(this.kind, {
      ...current,
      UpdatedAt: ts,
      Spec: {
        ...current.Spec,
        Name: retiredName(current.Spec.Name, current.ID),
        Labels: { ...current.Spec.Labels, [REPLACED_BY_LABEL]: current.Spec.Name },
      },
    });
    const next = await this.store.create(this.kind, {
      ID: newId(),
      Version: { Index: 0 },
      CreatedAt: ts,
      UpdatedAt: ts,
      Spec: { ...spec, Data: this.sealer.seal(spec.Data ?? '') },
    });
    for (const s of users) {
      const c = s.Spec.TaskTemplate.ContainerSpec;
      const swap = <R extends { SecretID?: string; ConfigID?: string }>(r: R): R =>
        this.kind === 'secret' && r.SecretID === current.ID
          ? { ...r, SecretID: next.ID }
          : this.kind === 'config' && r.ConfigID === current.ID
            ? { ...r, ConfigID: next.ID }
            : r;
      const updated: ServiceSpec = {
        ...s.Spec,
        TaskTemplate: {
          ...s.Spec.TaskTemplate,
          ContainerSpec: {
            ...(c as NonNullable<typeof c>),
            ...(c?.Secrets ? { Secrets: c.Secrets.map(swap) } : {}),
            ...(c?.Configs ? { Configs: c.Configs.map(swap) } : {}),
          },
        },
      };
      await updateService?.(s.ID, s.Version.Index, updated);
    }
    return { ID: next.ID, Services: users.map((s) => s.Spec.Name ?? s.ID).sort() };
  }

  /** The clear payload (base64) of object `id`, for the dispatcher; undefined when it is gone. */
  payload(id: string): { name: string; data: string; templating?: string } | undefined {
    const o = this.store.get(this.kind, id);
    if (!o) {
      this.opened.delete(id);
      return undefined;
    }
    // The dispatcher asks again on every task change of every node: open each version once.
    const known = this.opened.get(id);
    if (known?.version === o.Version.Index) return known.payload;
    const payload = {
      name: o.Spec.Name,
      data: this.sealer.open(o.Spec.Data ?? ''),
      ...(o.Spec.Templating?.Name ? { templating: o.Spec.Templating.Name } : {}),
    };
    this.opened.set(id, { version: o.Version.Index, payload });
    return payload;
  }

  /** A secret without its payload, a config with it in clear (base64). */
  private public(o: PayloadObject): PayloadObject {
    const { Data, ...spec } = o.Spec;
    if (this.kind === 'secret') return { ...o, Spec: spec };
    return { ...o, Spec: { ...spec, Data: this.sealer.open(Data ?? '') } };
  }
}

/**
 * A service spec's secret and config references, checked against the store: each exists (by ID,
 * or by name when the ID is empty), its ID and name are filled in from the object, and no two
 * files share a target. Docker's wording for each refusal. Returns the spec with resolved refs.
 */
export function resolveServicePayloads(
  store: Pick<ControlStore, 'get' | 'list'>,
  spec: ServiceSpec,
): ServiceSpec {
  const c = spec.TaskTemplate.ContainerSpec;
  if (!c || ((c.Secrets ?? []).length === 0 && (c.Configs ?? []).length === 0)) return spec;
  const find = (kind: PayloadKind, id: string, name: string) => {
    const byId = id ? store.get(kind, id) : undefined;
    return byId ?? store.list(kind).find((o) => o.Spec.Name === name || (id !== '' && o.ID === id));
  };
  const resolveAll = <R extends { File?: { Name: string } }>(
    kind: PayloadKind,
    refs: R[],
    idOf: (r: R) => string,
    nameOf: (r: R) => string,
    fill: (r: R, o: PayloadObject) => R,
  ): R[] => {
    const missing = refs.filter((r) => !find(kind, idOf(r), nameOf(r))).map((r) => nameOf(r) || idOf(r));
    if (missing.length > 0) throw invalidArgument(`${kind} not found: ${missing.join(', ')}`);
    const targets = new Map<string, string>();
    for (const r of refs) {
      if (r.File && r.File.Name.trim() === '')
        throw invalidArgument(`malformed file ${kind} reference, invalid target file name provided`);
      const target = r.File?.Name ?? nameOf(r);
      const other = targets.get(target);
      if (other !== undefined)
        throw invalidArgument(
          `${kind} references '${other}' and '${nameOf(r)}' have a conflicting target: '${target}'`,
        );
      targets.set(target, nameOf(r));
    }
    return refs.map((r) => fill(r, find(kind, idOf(r), nameOf(r)) as PayloadObject));
  };
  return {
    ...spec,
    TaskTemplate: {
      ...spec.TaskTemplate,
      ContainerSpec: {
        ...c,
        ...(c.Secrets
          ? {
              Secrets: resolveAll(
                'secret',
                c.Secrets,
                (r) => r.SecretID,
                (r) => r.SecretName,
                (r, o) => ({ ...r, SecretID: o.ID, SecretName: o.Spec.Name }),
              ),
            }
          : {}),
        ...(c.Configs
          ? {
              Configs: resolveAll(
                'config',
                c.Configs,
                (r) => r.ConfigID,
                (r) => r.ConfigName,
                (r, o) => ({ ...r, ConfigID: o.ID, ConfigName: o.Spec.Name }),
              ),
            }
          : {}),
      },
    },
  };
}
