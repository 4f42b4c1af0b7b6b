// `GET /events`: Docker's event stream. Swarm events (service, node, network, secret, config:
// create/update/remove, scope "swarm") come from a manager's store changes, container events
// (create, start, die, destroy, scope "local") from this node's runtime; both are kept in one log of
// the last EVENT_LOG_SIZE events, replayed for `since`/`until` and followed live. The message shapes
// and attributes are Docker's (moby daemon/events.go): `name`, and on updates the `.old`/`.new`
// pairs a person looks for (image, replicas, update state; node state, availability, role, name).
import type { ServerResponse } from 'node:http';
import { invalidArgument } from '../api/errors.js';
import type { Config, Network, Node, Secret, Service } from '../api/types.js';
import { parseFilters, type Route, writeStreamChunk } from './router.js';

/** Docker's events.Message (API ≥ 1.22 fields; `status`/`id`/`from` only on container events). */
export interface EngineEvent {
  status?: string;
  id?: string;
  from?: string;
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local' | 'swarm';
  time: number;
  /** Nanoseconds since the epoch: beyond a double's exact range, so a bigint (see encodeEvent). */
  timeNano: bigint;
}

/** An event as one JSON line, `timeNano` written as the exact integer Docker sends. */
export function encodeEvent(e: EngineEvent): string {
  return `${JSON.stringify({ ...e, timeNano: 0 }).replace(/"timeNano":0}$/, `"timeNano":${e.timeNano}}`)}\n`;
}

/** A store change as the manager's cache reports it (the kinds that make Docker events). */
export type SwarmChange =
  | { kind: 'service'; action: StoreAction; object: Service; previous?: Service }
  | { kind: 'node'; action: StoreAction; object: Node; previous?: Node }
  | { kind: 'network'; action: StoreAction; object: Network; previous?: Network }
  | { kind: 'secret'; action: StoreAction; object: Secret; previous?: Secret }
  | { kind: 'config'; action: StoreAction; object: Config; previous?: Config };
type StoreAction = 'create' | 'update' | 'delete';

export const EVENT_LOG_SIZE = 1024;

const nanosOf = (iso: string | undefined, fallbackNs: bigint): bigint => {
  const ms = iso ? Date.parse(iso) : Number.NaN;
  if (Number.isNaN(ms)) return fallbackNs;
  // Sub-millisecond digits of an RFC 3339 time, when it has them.
  const frac = /\.(\d+)/.exec(iso ?? '')?.[1] ?? '';
  const subMs = BigInt((frac.slice(3, 9) || '0').padEnd(6, '0'));
  return BigInt(Math.floor(ms)) * 1_000_000n + subMs;
};

export function eventAt(base: Omit<EngineEvent, 'time' | 'timeNano'>, ns: bigint): EngineEvent {
  return { ...base, time: Number(ns / 1_000_000_000n), timeNano: ns };
}

function changed(attrs: Record<string, string>, key: string, before: unknown, after: unknown): void {
  if (before === after || after === undefined) return;
  if (before !== undefined) attrs[`${key}.old`] = String(before);
  attrs[`${key}.new`] = String(after);
}

function serviceAttributes(s: Service, before: Service | undefined): Record<string, string> {
  const attrs: Record<string, string> = { name: s.Spec.Name ?? '' };
  if (!before) return attrs;
  const image = s.Spec.TaskTemplate.ContainerSpec?.Image;
  const oldImage = before.Spec.TaskTemplate.ContainerSpec?.Image;
  if (image !== oldImage && image !== undefined && oldImage !== undefined) {
    attrs['image.old'] = oldImage;
    attrs['image.new'] = image;
  }
  const replicas = s.Spec.Mode?.Replicated?.Replicas;
  const oldReplicas = before.Spec.Mode?.Replicated?.Replicas;
  if (replicas !== undefined && oldReplicas !== undefined && replicas !== oldReplicas) {
    attrs['replicas.old'] = String(oldReplicas);
    attrs['replicas.new'] = String(replicas);
  }
  changed(attrs, 'updatestate', before.UpdateStatus?.State, s.UpdateStatus?.State);
  return attrs;
}

const nodeName = (n: Node) => n.Spec.Name || n.Description?.Hostname || '';

function nodeAttributes(n: Node, before: Node | undefined): Record<string, string> {
  const attrs: Record<string, string> = { name: nodeName(n) };
  if (!before) return attrs;
  changed(attrs, 'state', before.Status.State, n.Status.State);
  changed(attrs, 'availability', before.Spec.Availability, n.Spec.Availability);
  changed(attrs, 'role', before.Spec.Role, n.Spec.Role);
  if (nodeName(before) !== nodeName(n)) {
    attrs['name.old'] = nodeName(before);
    attrs['name.new'] = nodeName(n);
  }
  return attrs;
}

/** The fields of a node that make a user-visible change (heartbeat-like writes make no event). */
const nodeFace = (n: Node) =>
  JSON.stringify([n.Spec, n.Status.State, n.Status.Addr, n.ManagerStatus, n.Description?.Hostname]);

/**
 * The Docker event for a store change (pure), or undefined when Docker shows none for it. `nowNs`
 * stamps removals (Docker uses the object's UpdatedAt for updates and CreatedAt for creations).
 */
export function swarmEvent(change: SwarmChange, nowNs: bigint): EngineEvent | undefined {
  const action = change.action === 'delete' ? 'remove' : change.action;
  const o = change.object;
  const ns =
    change.action === 'create'
      ? nanosOf(o.CreatedAt, nowNs)
      : change.action === 'update'
        ? nanosOf(o.UpdatedAt, nowNs)
        : nowNs;
  const event = (id: string, attributes: Record<string, string>) =>
    eventAt(
      { Type: change.kind, Action: action, Actor: { ID: id, Attributes: attributes }, scope: 'swarm' },
      ns,
    );
  switch (change.kind) {
    case 'service':
      return event(change.object.ID, serviceAttributes(change.object, change.previous));
    case 'node':
      if (
        change.action === 'update' &&
        change.previous &&
        nodeFace(change.previous) === nodeFace(change.object)
      )
        return undefined;
      return event(change.object.ID, nodeAttributes(change.object, change.previous));
    case 'network':
      return event(change.object.ID, { name: change.object.Name });
    case 'secret':
    case 'config':
      return event(change.object.ID, { name: change.object.Spec.Name });
  }
}

/** A container event as Docker words it (the labels are attributes too, as Docker's). */
export function containerEvent(
  action: 'create' | 'start' | 'die' | 'destroy' | 'kill',
  c: { Id: string; Name: string; Image: string; Labels?: Record<string, string> },
  nowNs: bigint,
  extra: Record<string, string> = {},
): EngineEvent {
  return eventAt(
    {
      status: action,
      id: c.Id,
      from: c.Image,
      Type: 'container',
      Action: action,
      Actor: {
        ID: c.Id,
        Attributes: { ...(c.Labels ?? {}), ...extra, image: c.Image, name: c.Name.replace(/^\//, '') },
      },
      scope: 'local',
    },
    nowNs,
  );
}

const FILTERS = [
  'type',
  'event',
  'container',
  'image',
  'label',
  'network',
  'node',
  'service',
  'secret',
  'config',
  'scope',
];

/** Docker's event filters (pure): each given filter must match; values of one filter are alternatives. */
export function eventMatches(e: EngineEvent, filters: Map<string, string[]>): boolean {
  const any = (name: string, pred: (v: string) => boolean) => {
    const values = filters.get(name);
    return values === undefined || values.length === 0 || values.some(pred);
  };
  const name = e.Actor.Attributes.name ?? '';
  const actor = (type: string) => (v: string) =>
    e.Type === type && (e.Actor.ID === v || e.Actor.ID.startsWith(v) || name === v);
  const byType = (type: string) => any(type, actor(type));
  return (
    any('type', (v) => v === e.Type) &&
    any('event', (v) => v === e.Action) &&
    any('scope', (v) => v === e.scope) &&
    byType('container') &&
    byType('service') &&
    byType('node') &&
    byType('network') &&
    byType('secret') &&
    byType('config') &&
    any('image', (v) => e.Actor.Attributes.image === v || e.from === v) &&
    any('label', (v) => {
      const [k = '', val] = v.split('=');
      return val === undefined ? k in e.Actor.Attributes : e.Actor.Attributes[k] === val;
    })
  );
}

/** Docker's `since`/`until`: Unix seconds with an optional fraction (or an RFC 3339 time), as ns. */
export function parseEventTime(value: string, name: string): bigint {
  if (/^\d+(\.\d{1,9})?$/.test(value)) {
    const [s = '0', f = ''] = value.split('.');
    return BigInt(s) * 1_000_000_000n + BigInt(f.padEnd(9, '0'));
  }
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw invalidArgument(`invalid value for ${name}: ${JSON.stringify(value)}`);
  return BigInt(ms) * 1_000_000n;
}

/** The node's recent events and the clients following them. */
export class EventLog {
  private readonly events: EngineEvent[] = [];
  private readonly followers = new Set<(e: EngineEvent) => void>();

  constructor(private readonly size = EVENT_LOG_SIZE) {}

  publish(e: EngineEvent): void {
    this.events.push(e);
    if (this.events.length > this.size) this.events.splice(0, this.events.length - this.size);
    for (const f of this.followers) f(e);
  }

  /** The kept events from `sinceNs` on (oldest first). */
  since(sinceNs: bigint): EngineEvent[] {
    return this.events.filter((e) => e.timeNano >= sinceNs);
  }

  follow(fn: (e: EngineEvent) => void): () => void {
    this.followers.add(fn);
    return () => this.followers.delete(fn);
  }
}

/** Now, in nanoseconds since the epoch (millisecond precision). */
export const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;

export function eventRoutes(log: EventLog): Route[] {
  return [
    {
      method: 'GET',
      path: '/events',
      stream: true,
      handler: ({ req, res, query }) => {
        const filters = parseFilters(query);
        for (const name of filters.keys()) {
          if (!FILTERS.includes(name)) throw invalidArgument(`invalid filter '${name}'`);
        }
        const since = query.get('since') ? parseEventTime(query.get('since') ?? '', 'since') : undefined;
        const until = query.get('until') ? parseEventTime(query.get('until') ?? '', 'until') : undefined;
        const started = nowNs();
        if (since !== undefined && until !== undefined && since > until)
          throw invalidArgument('`since` time must be before `until` time');
        const wanted = (e: EngineEvent) =>
          eventMatches(e, filters) && (until === undefined || e.timeNano <= until);
        res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
        res.flushHeaders();
        // HEAD has its answer in the headers: a stream left open would hold the connection for good.
        if (req.method === 'HEAD') {
          res.end();
          return;
        }
        const send = (e: EngineEvent) => {
          if (wanted(e)) writeStreamChunk(res, encodeEvent(e));
        };
        if (since !== undefined) for (const e of log.since(since)) send(e);
        if (until !== undefined && until <= started) {
          res.end();
          return;
        }
        const stop = log.follow(send);
        const end = () => {
          stop();
          clearTimeout(timer);
          if (!res.writableEnded) res.end();
        };
        const timer =
          until === undefined ? undefined : setTimeout(end, Number((until - started) / 1_000_000n) + 1);
        req.on('close', end);
        res.on('close', end);
        return waitForClose(res);
      },
    },
  ];
}

/** The handler stays pending while the stream is open (the server must not end the response). */
function waitForClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    if (res.writableEnded || res.destroyed) resolve();
    else res.on('close', () => resolve());
  });
}
