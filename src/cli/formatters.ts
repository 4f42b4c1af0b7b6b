// Table and list output of swarmctl, in the docker CLI's formats: the row contexts (what
// `{{.ID}}`, `{{.Name}}`… mean for each command), the default table templates, `table` handling
// and tabwriter alignment. Pure: every function takes the API objects and a clock reading and
// returns text.

import { tabwrite } from './tabwriter.js';
import { executeTemplate, parseTemplate, templateFields, unescapeFormat } from './template.js';
import type { ImageSummary, Node, PortConfig, Service, Task } from './types.js';
import { humanDuration, humanSize } from './units.js';

export type Row = Record<string, string | boolean>;

export interface TableKind {
  defaultFormat: string;
  headers: Record<string, string>;
}

/** Capitalises the first letter, like the CLI's command.PrettyPrint. */
export function prettyPrint(s: string): string {
  return s === '' ? s : s[0]?.toUpperCase() + s.slice(1);
}

export function truncateId(id: string): string {
  return id.slice(0, 12);
}

/** Natural ordering ("node2" before "node10"), as the CLI sorts names. */
export function naturalLess(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/**
 * Renders rows with a docker --format string. A `table` format gets a header row and tabwriter
 * alignment; any other format prints one line per row as-is.
 */
export function renderTable(kind: TableKind, rows: Row[], format?: string): string {
  let fmt = unescapeFormat(format && format !== '' ? format : kind.defaultFormat);
  const isTable = fmt.startsWith('table');
  if (isTable) fmt = fmt.slice('table'.length).trimStart();
  const tmpl = parseTemplate(fmt);
  let out = '';
  if (isTable) {
    const header: Row = {};
    for (const path of templateFields(tmpl)) {
      const name = path[0];
      if (name !== undefined) header[name] = kind.headers[name] ?? name.toUpperCase();
    }
    header.Self = false;
    out += `${executeTemplate(tmpl, header)}\n`;
  }
  for (const row of rows) out += `${executeTemplate(tmpl, row)}\n`;
  return isTable ? tabwrite(out) : out;
}

/** Formats published ports as the CLI does: "*:8080->80/tcp", ranges merged "*:80-81->80-81/tcp". */
export function formatPorts(ports: PortConfig[]): string {
  const sorted = [...ports].sort(
    (a, b) =>
      (a.Protocol ?? '').localeCompare(b.Protocol ?? '') ||
      (a.PublishedPort ?? 0) - (b.PublishedPort ?? 0) ||
      (a.TargetPort ?? 0) - (b.TargetPort ?? 0),
  );
  const groups: Array<{ pub: [number, number]; tgt: [number, number]; proto: string }> = [];
  for (const p of sorted) {
    const pub = p.PublishedPort ?? 0;
    const tgt = p.TargetPort ?? 0;
    const proto = p.Protocol ?? 'tcp';
    const last = groups[groups.length - 1];
    if (last && last.proto === proto && last.pub[1] + 1 === pub && last.tgt[1] + 1 === tgt && pub !== 0) {
      last.pub[1] = pub;
      last.tgt[1] = tgt;
    } else groups.push({ pub: [pub, pub], tgt: [tgt, tgt], proto });
  }
  const range = (r: [number, number]) => (r[0] === r[1] ? `${r[0]}` : `${r[0]}-${r[1]}`);
  return groups.map((g) => `*:${range(g.pub)}->${range(g.tgt)}/${g.proto}`).join(', ');
}

/** The image reference without its digest when a tag is present ("bb:1@sha256:…" → "bb:1"). */
export function familiarImage(image: string): string {
  const at = image.indexOf('@');
  if (at === -1) return image;
  const name = image.slice(0, at);
  const lastSlash = name.lastIndexOf('/');
  return name.slice(lastSlash + 1).includes(':') ? name : image;
}

// --- services -------------------------------------------------------------------------------

export const SERVICE_TABLE: TableKind = {
  defaultFormat: 'table {{.ID}}\t{{.Name}}\t{{.Mode}}\t{{.Replicas}}\t{{.Image}}\t{{.Ports}}',
  headers: { ID: 'ID', Name: 'NAME', Mode: 'MODE', Replicas: 'REPLICAS', Image: 'IMAGE', Ports: 'PORTS' },
};

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

export type ServiceModeName = 'replicated' | 'global' | 'replicated job' | 'global job';

export function serviceMode(service: Service): ServiceModeName {
  const mode = obj(service.Spec.Mode);
  if ('Global' in mode) return 'global';
  if ('ReplicatedJob' in mode) return 'replicated job';
  if ('GlobalJob' in mode) return 'global job';
  return 'replicated';
}

/** Running and desired counts when the daemon gives no ServiceStatus (API < 1.41). */
export interface ReplicaCounts {
  running: number;
  desired: number;
  completed: number;
}

export function serviceReplicas(service: Service, counts?: ReplicaCounts): string {
  const st = service.ServiceStatus;
  const running = st?.RunningTasks ?? counts?.running ?? 0;
  const desired = st?.DesiredTasks ?? counts?.desired ?? 0;
  const completed = st?.CompletedTasks ?? counts?.completed ?? 0;
  const mode = obj(service.Spec.Mode);
  switch (serviceMode(service)) {
    case 'replicated': {
      const max = num(obj(obj(service.Spec.TaskTemplate).Placement).MaxReplicas);
      const base = `${running}/${num(obj(mode.Replicated).Replicas) || desired}`;
      return max > 0 ? `${base} (max ${max} per node)` : base;
    }
    case 'replicated job': {
      const total = num(obj(mode.ReplicatedJob).TotalCompletions);
      return `${running}/${desired} (${completed}/${total} completed)`;
    }
    case 'global job':
      return `${running}/${desired} (${completed}/${desired} completed)`;
    default:
      return `${running}/${desired}`;
  }
}

export function serviceRow(service: Service, counts?: ReplicaCounts): Row {
  const image = String(obj(obj(service.Spec.TaskTemplate).ContainerSpec).Image ?? '');
  const ingress = (service.Endpoint?.Ports ?? []).filter((p) => (p.PublishMode ?? 'ingress') === 'ingress');
  return {
    ID: truncateId(service.ID),
    Image: familiarImage(image),
    Mode: serviceMode(service),
    Name: service.Spec.Name ?? '',
    Ports: formatPorts(ingress),
    Replicas: serviceReplicas(service, counts),
  };
}

// --- tasks ----------------------------------------------------------------------------------

export const TASK_TABLE: TableKind = {
  defaultFormat:
    'table {{.ID}}\t{{.Name}}\t{{.Image}}\t{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}\t{{.Ports}}',
  headers: {
    ID: 'ID',
    Name: 'NAME',
    Image: 'IMAGE',
    Node: 'NODE',
    DesiredState: 'DESIRED STATE',
    CurrentState: 'CURRENT STATE',
    Error: 'ERROR',
    Ports: 'PORTS',
  },
};

export interface TaskContext {
  /** Service ID → service name. */
  serviceNames: Map<string, string>;
  /** Services whose tasks are named by node (global mode). */
  globalServices: Set<string>;
  /** Node ID → hostname. */
  nodeNames: Map<string, string>;
  now: number;
  noTrunc: boolean;
}

const MAX_ERROR_LENGTH = 30;

function taskBaseName(task: Task, ctx: TaskContext): string {
  const service = ctx.serviceNames.get(task.ServiceID) ?? task.ServiceID;
  if (ctx.globalServices.has(task.ServiceID) || !task.Slot) return `${service}.${task.NodeID ?? ''}`;
  return `${service}.${task.Slot}`;
}

/** "Running 5 seconds ago", "Shutdown about a minute ago", "Running less than a second ago". */
export function taskCurrentState(task: Task, now: number): string {
  const ts = task.Status.Timestamp ? Date.parse(task.Status.Timestamp) : now;
  return `${prettyPrint(task.Status.State)} ${humanDuration(now - ts).toLowerCase()} ago`;
}

export function taskError(err: string | undefined, noTrunc: boolean): string {
  if (!err) return '';
  const chars = [...err];
  const shown =
    !noTrunc && chars.length > MAX_ERROR_LENGTH ? `${chars.slice(0, MAX_ERROR_LENGTH - 1).join('')}…` : err;
  return `"${shown}"`;
}

/**
 * Rows of `service ps` / `node ps` / `task ls`: tasks grouped by name (service.slot), the
 * newest first in each group, older ones indented as ` \_ name`.
 */
export function taskRows(tasks: Task[], ctx: TaskContext): Row[] {
  const named = tasks.map((t) => ({ task: t, name: taskBaseName(t, ctx) }));
  named.sort((a, b) => {
    if (a.name !== b.name) return a.name < b.name ? -1 : 1;
    return Date.parse(b.task.CreatedAt ?? '') - Date.parse(a.task.CreatedAt ?? '');
  });
  let prev = '';
  return named.map(({ task, name }) => {
    const shownName = name === prev ? ` \\_ ${name}` : name;
    prev = name;
    const image = String(task.Spec?.ContainerSpec?.Image ?? '');
    const ports = (task.Status.PortStatus?.Ports ?? []).map(
      (p) => `*:${p.PublishedPort ?? 0}->${p.TargetPort ?? 0}/${p.Protocol ?? 'tcp'}`,
    );
    return {
      ID: ctx.noTrunc ? task.ID : truncateId(task.ID),
      Name: shownName,
      Image: ctx.noTrunc ? image : familiarImage(image),
      Node: task.NodeID ? (ctx.nodeNames.get(task.NodeID) ?? task.NodeID) : '',
      DesiredState: prettyPrint(task.DesiredState),
      CurrentState: taskCurrentState(task, ctx.now),
      Error: taskError(task.Status.Err, ctx.noTrunc),
      Ports: ports.join(','),
    };
  });
}

// --- nodes ----------------------------------------------------------------------------------

export const NODE_TABLE: TableKind = {
  defaultFormat:
    'table {{.ID}} {{if .Self}}*{{else}} {{end}}\t{{.Hostname}}\t{{.Status}}\t{{.Availability}}\t{{.ManagerStatus}}\t{{.EngineVersion}}',
  headers: {
    ID: 'ID',
    Hostname: 'HOSTNAME',
    Status: 'STATUS',
    Availability: 'AVAILABILITY',
    ManagerStatus: 'MANAGER STATUS',
    EngineVersion: 'ENGINE VERSION',
    TLSStatus: 'TLS STATUS',
  },
};

export function nodeManagerStatus(node: Node): string {
  const ms = node.ManagerStatus;
  if (!ms) return '';
  if (ms.Leader) return 'Leader';
  return prettyPrint(ms.Reachability);
}

export function nodeRow(node: Node, selfId: string): Row {
  return {
    ID: node.ID,
    Self: node.ID === selfId,
    Hostname: node.Description?.Hostname ?? '',
    Status: prettyPrint(node.Status.State),
    Availability: prettyPrint(node.Spec.Availability),
    ManagerStatus: nodeManagerStatus(node),
    EngineVersion: node.Description?.Engine?.EngineVersion ?? '',
    TLSStatus: 'Ready',
  };
}

// --- images ---------------------------------------------------------------------------------

export const IMAGE_TABLE: TableKind = {
  defaultFormat: 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}',
  headers: {
    Repository: 'REPOSITORY',
    Tag: 'TAG',
    ID: 'IMAGE ID',
    CreatedSince: 'CREATED',
    Size: 'SIZE',
    Digest: 'DIGEST',
    CreatedAt: 'CREATED AT',
  },
};

export function imageRows(images: ImageSummary[], now: number, noTrunc: boolean): Row[] {
  const rows: Row[] = [];
  const sorted = [...images].sort((a, b) => b.Created - a.Created);
  for (const img of sorted) {
    const id = noTrunc ? img.Id : truncateId(img.Id.replace(/^sha256:/, ''));
    const tags = (img.RepoTags ?? []).filter((t) => t !== '<none>:<none>');
    const refs = tags.length > 0 ? tags : ['<none>:<none>'];
    for (const ref of refs) {
      const colon = ref.lastIndexOf(':');
      const slash = ref.lastIndexOf('/');
      const [repo, tag] = colon > slash ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, '<none>'];
      rows.push({
        Repository: repo,
        Tag: tag,
        ID: id,
        CreatedSince: `${humanDuration(now - img.Created * 1000)} ago`,
        CreatedAt: new Date(img.Created * 1000).toISOString(),
        Size: humanSize(img.Size, 3),
        Digest: '<none>',
      });
    }
  }
  return rows;
}
