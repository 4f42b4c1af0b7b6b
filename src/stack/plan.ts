// What a `stack deploy` must do (pure): from the objects a compose project converts to and what the
// cluster has, the networks, secrets and configs to create, the services to create, update (with
// the fields that differ) or leave alone, and with `--prune` the stack's services to remove. The
// services come in depends_on order, in waves: each wave only depends on earlier ones (the CLI
// waits for a wave's dependencies before creating the next). `--dry-run` prints this plan.

/** The label Docker puts on everything a stack creates. */
export const STACK_LABEL = 'com.docker.stack.namespace';

export type DependsCondition = 'service_started' | 'service_healthy' | 'service_completed_successfully';

/** What the compose project asks for (src/stack/convert.ts builds it). */
export interface DesiredStack {
  networks: { name: string; external: boolean; create?: object }[];
  secrets: { name: string; external: boolean; create?: { Name: string; Data: string } & object }[];
  configs: { name: string; external: boolean; create?: { Name: string; Data: string } & object }[];
  services: {
    name: string;
    spec: object;
    dependsOn: { service: string; condition: DependsCondition }[];
  }[];
}

/** What the cluster has (names only, plus what a diff needs). */
export interface CurrentStack {
  networks: { name: string }[];
  secrets: { name: string }[];
  /** Configs return their Data (base64), so a changed one can be told. */
  configs: { name: string; data?: string }[];
  /** Every service whose name is asked for, and every service labelled with this stack. */
  services: { id: string; name: string; version: number; spec: object; stack?: string }[];
}

export interface ServiceChange {
  name: string;
  /** Dotted paths of the fields that differ, e.g. `TaskTemplate.ContainerSpec.Image`. */
  fields: string[];
}

export interface StackPlan {
  createNetworks: string[];
  createSecrets: string[];
  createConfigs: string[];
  /** Configs whose payload differs from the file: refused (a config's value cannot change in place). */
  changedConfigs: string[];
  createServices: string[];
  updateServices: ServiceChange[];
  unchangedServices: string[];
  removeServices: string[];
  /** Service names in creation order, grouped in waves (a service waits for its dependencies). */
  waves: string[][];
}

/**
 * Leaves of a JSON value as path → value (`a.b[2].c`), skipping empty objects and arrays, null,
 * undefined and Go's zero values (absent and empty are the same spec). Key order does not matter,
 * array order does.
 */
export function leaves(value: unknown, prefix = ''): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const walk = (v: unknown, path: string) => {
    if (v === null || v === undefined) return;
    if (Array.isArray(v)) {
      for (const [i, x] of v.entries()) walk(x, `${path}[${i}]`);
      return;
    }
    if (typeof v === 'object') {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(x, path ? `${path}.${k}` : k);
      return;
    }
    if (v === '' || v === false || v === 0) return;
    out.set(path, v);
  };
  walk(value, prefix);
  return out;
}

/** The dotted paths where two specs differ (pure), sorted. */
export function specDiff(current: unknown, desired: unknown): string[] {
  const a = leaves(current);
  const b = leaves(desired);
  const paths = new Set([...a.keys(), ...b.keys()]);
  return [...paths].filter((p) => a.get(p) !== b.get(p)).sort();
}

/** Services in waves: each wave's dependencies are all in earlier waves; a cycle is an error. */
export function dependencyWaves(services: DesiredStack['services']): string[][] {
  const names = new Set(services.map((s) => s.name));
  const deps = new Map(
    services.map((s) => [s.name, s.dependsOn.map((d) => d.service).filter((d) => names.has(d))]),
  );
  const placed = new Set<string>();
  const waves: string[][] = [];
  while (placed.size < names.size) {
    const wave = [...names].filter((n) => !placed.has(n) && (deps.get(n) ?? []).every((d) => placed.has(d)));
    if (wave.length === 0) {
      const left = [...names].filter((n) => !placed.has(n)).sort();
      throw new Error(`depends_on has a cycle among: ${left.join(', ')}`);
    }
    wave.sort();
    for (const n of wave) placed.add(n);
    waves.push(wave);
  }
  return waves;
}

/** The plan (pure). External objects that do not exist are an error naming them. */
export function planStack(
  stack: string,
  desired: DesiredStack,
  current: CurrentStack,
  prune: boolean,
): StackPlan {
  const has = (list: { name: string }[], name: string) => list.some((o) => o.name === name);
  const missingExternal = [
    ...desired.networks
      .filter((n) => n.external && !has(current.networks, n.name))
      .map((n) => `network ${n.name}`),
    ...desired.secrets
      .filter((s) => s.external && !has(current.secrets, s.name))
      .map((s) => `secret ${s.name}`),
    ...desired.configs
      .filter((c) => c.external && !has(current.configs, c.name))
      .map((c) => `config ${c.name}`),
  ];
  if (missingExternal.length > 0)
    throw new Error(
      `${missingExternal.join(', ')} declared as external, but could not be found: create ${missingExternal.length > 1 ? 'them' : 'it'} first`,
    );
  const createServices: string[] = [];
  const updateServices: ServiceChange[] = [];
  const unchangedServices: string[] = [];
  for (const s of desired.services) {
    const found = current.services.find((c) => c.name === s.name);
    if (!found) {
      createServices.push(s.name);
      continue;
    }
    const fields = specDiff(found.spec, s.spec);
    if (fields.length > 0) updateServices.push({ name: s.name, fields });
    else unchangedServices.push(s.name);
  }
  const wanted = new Set(desired.services.map((s) => s.name));
  return {
    createNetworks: desired.networks
      .filter((n) => !n.external && !has(current.networks, n.name))
      .map((n) => n.name),
    createSecrets: desired.secrets
      .filter((s) => !s.external && !has(current.secrets, s.name))
      .map((s) => s.name),
    createConfigs: desired.configs
      .filter((c) => !c.external && !has(current.configs, c.name))
      .map((c) => c.name),
    changedConfigs: desired.configs
      .filter((c) => {
        const now = current.configs.find((x) => x.name === c.name);
        return !c.external && now?.data !== undefined && c.create !== undefined && now.data !== c.create.Data;
      })
      .map((c) => c.name),
    createServices,
    updateServices,
    unchangedServices,
    removeServices: prune
      ? current.services
          .filter((c) => c.stack === stack && !wanted.has(c.name))
          .map((c) => c.name)
          .sort()
      : [],
    waves: dependencyWaves(desired.services),
  };
}

/** `--dry-run`'s report (pure): one line per change, nothing when nothing would change. */
export function renderPlan(plan: StackPlan): string {
  const lines = [
    ...plan.createNetworks.map((n) => `Would create network ${n}`),
    ...plan.createSecrets.map((n) => `Would create secret ${n}`),
    ...plan.createConfigs.map((n) => `Would create config ${n}`),
    ...plan.createServices.map((n) => `Would create service ${n}`),
    ...plan.updateServices.flatMap((s) => [
      `Would update service ${s.name}:`,
      ...s.fields.map((f) => `  ${f}`),
    ]),
    ...plan.removeServices.map((n) => `Would remove service ${n}`),
  ];
  return lines.length === 0 ? 'Nothing would change\n' : `${lines.join('\n')}\n`;
}
