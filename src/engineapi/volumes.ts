// Volume routes: /volumes (list with Docker's filters), /volumes/{name}, /volumes/create,
// DELETE /volumes/{name}, /volumes/prune — the node's local volumes in Docker's shapes and
// wording, over the runtime's VolumeStore. Cluster (CSI) volumes are not served.
import { z } from 'zod';
import { invalidArgument, SwarmError } from '../api/errors.js';
import type { Volume, VolumeStore } from '../executor/runc/volumes.js';
import { boolParam, parseFilters, type Route, sendJSON, sendNoContent } from './router.js';
import { compareVersions } from './server.js';

/** What the routes need of the store. */
export type VolumeBackend = Pick<VolumeStore, 'list' | 'get' | 'create' | 'remove' | 'size' | 'usersOf'>;

type Filters = Map<string, string[]>;

const LIST_FILTERS = ['dangling', 'name', 'driver', 'label'];
const PRUNE_FILTERS = ['label', 'label!', 'all'];

/** Docker's invalidFilter text: `Invalid filter 'name'` or `Invalid filter 'name=[values]'`. */
function invalidFilter(name: string, values?: string[]) {
  return invalidArgument(`Invalid filter '${name}${values ? `=[${values.join(' ')}]` : ''}'`);
}

function checkFilters(filters: Filters, accepted: readonly string[]): void {
  for (const k of filters.keys()) if (!accepted.includes(k)) throw invalidFilter(k);
}

/** Go's strconv.ParseBool; undefined when it is not a boolean. */
function goBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

/** Docker's MatchKVList: every `key` or `key=value` given is in the labels (none given: true). */
export function matchLabels(wanted: readonly string[], labels: Record<string, string> | null): boolean {
  if (wanted.length === 0) return true;
  if (!labels || Object.keys(labels).length === 0) return false;
  return wanted.every((w) => {
    const eq = w.indexOf('=');
    const key = eq < 0 ? w : w.slice(0, eq);
    if (!(key in labels)) return false;
    return eq < 0 || labels[key] === w.slice(eq + 1);
  });
}

/** A name filter is a regular expression; one that does not compile matches nothing (Docker's). */
function matchesName(patterns: readonly string[], name: string): boolean {
  return patterns.some((p) => {
    try {
      return new RegExp(p).test(name);
    } catch {
      return false;
    }
  });
}

/**
 * `GET /volumes` filters as a predicate over (volume, in use?): name (regexp), driver (exact),
 * label (all of them), dangling (true/1 unused, false/0 used; with both, true wins as in Docker).
 */
export function volumeListFilter(filters: Filters): (v: Volume, inUse: boolean) => boolean {
  checkFilters(filters, LIST_FILTERS);
  const dangling = filters.get('dangling');
  let wantUsed: boolean | undefined;
  if (dangling) {
    if (dangling.includes('true') || dangling.includes('1')) wantUsed = false;
    else if (dangling.includes('false') || dangling.includes('0')) wantUsed = true;
    else throw invalidFilter('dangling', dangling);
  }
  const names = filters.get('name') ?? [];
  const drivers = filters.get('driver') ?? [];
  const labels = filters.get('label') ?? [];
  return (v, inUse) =>
    (wantUsed === undefined || inUse === wantUsed) &&
    (names.length === 0 || matchesName(names, v.Name)) &&
    (drivers.length === 0 || drivers.includes(v.Driver)) &&
    matchLabels(labels, v.Labels);
}

/**
 * `POST /volumes/prune` as a predicate over unused volumes: never one with driver options (they
 * may be someone else's storage, and would reclaim nothing), only anonymous ones unless `all`
 * (API ≥ 1.42; older clients always mean all), then `label` and `label!`.
 */
export function volumePruneFilter(filters: Filters, apiVersion: string): (v: Volume) => boolean {
  checkFilters(filters, PRUNE_FILTERS);
  const all = filters.get('all');
  let pruneAll = compareVersions(apiVersion, '1.42') < 0;
  if (all !== undefined) {
    const value = all.length === 1 ? goBool(all[0] ?? '') : undefined;
    if (value === undefined) throw invalidFilter('all', all);
    pruneAll ||= value;
  }
  const labels = [...(filters.get('label') ?? []), ...(pruneAll ? [] : ['com.docker.volume.anonymous'])];
  const notLabels = filters.get('label!') ?? [];
  return (v) =>
    Object.keys(v.Options ?? {}).length === 0 &&
    matchLabels(labels, v.Labels) &&
    (notLabels.length === 0 || !matchLabels(notLabels, v.Labels));
}

const createBody = z.object({
  Name: z.string().optional(),
  Driver: z.string().optional(),
  DriverOpts: z.record(z.string(), z.string()).nullish(),
  Labels: z.record(z.string(), z.string()).nullish(),
  ClusterVolumeSpec: z.unknown().optional(),
});

/** The create request, validated; Docker's wording for a missing body. */
export function parseVolumeCreate(body: unknown): z.infer<typeof createBody> {
  if (body === undefined) throw invalidArgument('got EOF while reading request body');
  const r = createBody.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw invalidArgument(
      `invalid volume create request: ${issue?.path.join('.') || 'body'}: ${issue?.message}`,
    );
  }
  if (r.data.ClusterVolumeSpec !== undefined && r.data.ClusterVolumeSpec !== null) {
    throw new SwarmError('NOT_IMPLEMENTED', 'cluster volumes (CSI) are not supported by swarmd');
  }
  return r.data;
}

export function volumeRoutes(store: VolumeBackend): Route[] {
  let pruning = false;
  return [
    {
      method: 'GET',
      path: '/volumes',
      handler: (ctx) => {
        const keep = volumeListFilter(parseFilters(ctx.query));
        const volumes = store.list().filter((v) => keep(v, store.usersOf(v.Name).length > 0));
        sendJSON(ctx.res, 200, { Volumes: volumes, Warnings: null });
      },
    },
    {
      method: 'GET',
      path: '/volumes/:name',
      handler: (ctx) => sendJSON(ctx.res, 200, store.get(ctx.params.name ?? '')),
    },
    {
      method: 'POST',
      path: '/volumes/create',
      handler: async (ctx) => {
        const req = parseVolumeCreate(await ctx.json());
        const vol = await store.create({
          ...(req.Name ? { Name: req.Name } : {}),
          ...(req.Driver ? { Driver: req.Driver } : {}),
          DriverOpts: req.DriverOpts ?? null,
          Labels: req.Labels ?? null,
        });
        sendJSON(ctx.res, 201, vol);
      },
    },
    {
      method: 'DELETE',
      path: '/volumes/:name',
      handler: async (ctx) => {
        await store.remove(ctx.params.name ?? '', { force: boolParam(ctx.query, 'force') });
        sendNoContent(ctx.res);
      },
    },
    {
      method: 'POST',
      path: '/volumes/prune',
      handler: async (ctx) => {
        const keep = volumePruneFilter(parseFilters(ctx.query), ctx.apiVersion);
        if (pruning) throw new SwarmError('CONFLICT', 'a prune operation is already running');
        pruning = true;
        try {
          const report = { VolumesDeleted: [] as string[], SpaceReclaimed: 0 };
          for (const v of store.list()) {
            if (store.usersOf(v.Name).length > 0 || !keep(v)) continue;
            const size = await store.size(v.Name);
            try {
              await store.remove(v.Name);
            } catch {
              continue; // taken into use meanwhile: Docker skips it too
            }
            report.VolumesDeleted.push(v.Name);
            report.SpaceReclaimed += size;
          }
          sendJSON(ctx.res, 200, report);
        } finally {
          pruning = false;
        }
      },
    },
  ];
}
