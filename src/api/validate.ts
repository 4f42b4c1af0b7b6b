// Boundary validation of specs sent by clients: shape (zod) then SwarmKit's semantic checks, with
// messages naming the field. Pure: a spec is either returned clean or a SwarmError is thrown.
import type { z } from 'zod';
import { invalidArgument, type SwarmError } from './errors.js';
import {
  describeZodError,
  type NodeSpec,
  NodeSpecSchema,
  type ServiceSpec,
  ServiceSpecSchema,
  type SwarmSpec,
  SwarmSpecSchema,
} from './types.js';

/** gRPC-style message, as Docker passes SwarmKit's errors through: "rpc error: code = X desc = …". */
export function rpcInvalid(desc: string): SwarmError {
  return invalidArgument(`rpc error: code = InvalidArgument desc = ${desc}`);
}

/** Deeper than any real spec; bounds the recursion below (a hostile body must not exhaust the stack). */
export const MAX_BODY_DEPTH = 100;

/** JSON null means "unset" to Docker's Go decoder (nil map, slice or pointer): drop it. */
export function stripNulls(v: unknown, depth = 0): unknown {
  if (depth > MAX_BODY_DEPTH) {
    throw invalidArgument(`request body is nested too deeply (more than ${MAX_BODY_DEPTH} levels)`);
  }
  if (Array.isArray(v)) return v.map((x) => stripNulls(x, depth + 1));
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = stripNulls(x, depth + 1);
    return out;
  }
  return v;
}

function parseWith<T extends z.ZodTypeAny>(schema: T, what: string, body: unknown): z.infer<T> {
  if (body === undefined || body === null) throw invalidArgument(`${what}: request body is required`);
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw invalidArgument(`${what}: request body must be a JSON object`);
  }
  const r = schema.safeParse(stripNulls(body));
  if (!r.success) throw invalidArgument(`invalid ${what}: ${describeZodError(r.error)}`);
  return r.data;
}

const serviceNamePattern = /^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$/;

/** SwarmKit's controlapi validateAnnotations for services and networks. */
export function validateServiceName(name: string | undefined): void {
  if (!name) throw rpcInvalid('meta: name must be provided');
  if (!serviceNamePattern.test(name)) {
    throw rpcInvalid(`name must be valid as a DNS name component`);
  }
  if (name.length > 63) throw rpcInvalid('name must be 63 characters or fewer');
}

const MIN_MEMORY = 4 * 1024 * 1024;

function validateResources(spec: ServiceSpec): void {
  const r = spec.TaskTemplate.Resources;
  for (const [which, v] of [
    ['Limits', r?.Limits],
    ['Reservations', r?.Reservations],
  ] as const) {
    if (!v) continue;
    if (v.NanoCPUs !== undefined && v.NanoCPUs !== 0 && v.NanoCPUs < 1e6) {
      throw rpcInvalid(`invalid cpu value ${v.NanoCPUs / 1e9}: Must be at least 0.001`);
    }
    if (v.MemoryBytes !== undefined && v.MemoryBytes !== 0 && v.MemoryBytes < MIN_MEMORY) {
      throw rpcInvalid(`invalid memory value ${v.MemoryBytes}: Must be at least 4MiB`);
    }
    void which;
  }
}

function validateMode(spec: ServiceSpec): void {
  const m = spec.Mode;
  if (!m) return;
  const set = [m.Replicated, m.Global, m.ReplicatedJob, m.GlobalJob].filter((x) => x !== undefined);
  if (set.length > 1)
    throw rpcInvalid('service mode must be exactly one of Replicated, Global, ReplicatedJob or GlobalJob');
  const n = Math.max(
    m.Replicated?.Replicas ?? 0,
    m.ReplicatedJob?.TotalCompletions ?? 0,
    m.ReplicatedJob?.MaxConcurrent ?? 0,
  );
  if (n > MAX_REPLICAS) {
    throw rpcInvalid(`replicas ${n} is more than this swarm allows for one service (${MAX_REPLICAS})`);
  }
}

/**
 * Docker accepts any replica count, and a typo such as 1e6 then makes the leader create a million
 * tasks. A service larger than this is refused instead.
 */
export const MAX_REPLICAS = 100_000;

function validatePorts(spec: ServiceSpec): void {
  const ports = spec.EndpointSpec?.Ports ?? [];
  const seen = new Set<string>();
  for (const p of ports) {
    if (!p.TargetPort) throw rpcInvalid('EndpointSpec: port target must be set (1-65535)');
    if (!p.PublishedPort) continue;
    const key = `${p.PublishedPort}/${p.Protocol ?? 'tcp'}`;
    if (seen.has(key)) {
      throw rpcInvalid(`EndpointSpec: duplicate published ports provided`);
    }
    seen.add(key);
  }
  if (spec.EndpointSpec?.Mode === 'dnsrr' && ports.some((p) => (p.PublishMode ?? 'ingress') === 'ingress')) {
    throw rpcInvalid("EndpointSpec: port published with ingress mode can't be used with dnsrr mode");
  }
}

function validateContainer(spec: ServiceSpec): void {
  const c = spec.TaskTemplate.ContainerSpec;
  if (!c) throw rpcInvalid('ContainerSpec: missing in service spec');
  if (c.Image.trim() === '' || /\s/.test(c.Image)) {
    throw rpcInvalid(`ContainerSpec: "${c.Image}" is not a valid repository/tag`);
  }
  for (const m of c.Mounts ?? []) {
    if (!m.Target.startsWith('/'))
      throw rpcInvalid(`invalid mount target, must be an absolute path: ${m.Target}`);
    if (m.Type === 'bind' && !m.Source?.startsWith('/')) {
      throw rpcInvalid(`invalid bind mount source, must be an absolute path: ${m.Source ?? ''}`);
    }
    if (m.Type === 'tmpfs' && m.Source) throw rpcInvalid('invalid tmpfs source, source must be empty');
    if (m.Type === 'volume' && m.Source && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(m.Source)) {
      throw rpcInvalid(`invalid volume mount source, must not be a path: ${m.Source}`);
    }
  }
  for (const e of c.Env ?? []) {
    if (e.startsWith('=') || e === '') throw rpcInvalid(`invalid environment variable: ${e}`);
  }
}

function validateConstraints(spec: ServiceSpec): void {
  for (const c of spec.TaskTemplate.Placement?.Constraints ?? []) {
    const m = /^\s*([\w.-]+)\s*(==|!=)\s*(.+?)\s*$/.exec(c);
    if (!m) throw rpcInvalid(`constraint expected one operator from ==, !=`);
  }
}

/** Parses and checks a ServiceSpec from a client. Throws 400 naming the problem. */
export function validateServiceSpec(body: unknown): ServiceSpec {
  const spec = parseWith(ServiceSpecSchema, 'ServiceSpec', body);
  validateServiceName(spec.Name);
  validateContainer(spec);
  validateMode(spec);
  validateResources(spec);
  validatePorts(spec);
  validateConstraints(spec);
  // Docker's engine stores a replicated service's count even when the client left it out (the
  // docker CLI sends `{"Replicated": {}}` without --replicas): it reads back as 1.
  const replicated = spec.Mode === undefined ? {} : spec.Mode.Replicated;
  if (replicated && replicated.Replicas === undefined)
    return { ...spec, Mode: { ...spec.Mode, Replicated: { ...replicated, Replicas: 1 } } };
  return spec;
}

export function validateNodeSpec(body: unknown): NodeSpec {
  return parseWith(NodeSpecSchema, 'NodeSpec', body);
}

export function validateSwarmSpec(body: unknown): SwarmSpec {
  const spec = parseWith(SwarmSpecSchema, 'SwarmSpec', body);
  const expiry = spec.CAConfig?.NodeCertExpiry;
  if (expiry !== undefined && expiry !== 0 && expiry < 3600e9) {
    throw rpcInvalid('minimum certificate expiry time is: 1h0m0s');
  }
  return spec;
}

/** The `version` query parameter of update calls: a non-negative integer. */
export function parseVersionParam(kind: string, raw: string | null): number {
  if (raw === null || !/^\d+$/.test(raw)) throw invalidArgument(`invalid ${kind} version '${raw ?? ''}'`);
  return Number(raw);
}
