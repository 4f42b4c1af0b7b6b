// Loads the compose files of `stack deploy` into one checked ComposeProject: YAML with line
// numbers, Docker's ignored/deprecated/forbidden keys, variable interpolation, validation and
// normalisation (schema.ts), env_file and relative paths, the merge of several files (merge.ts)
// and the checks across the project (references, depends_on). Pure: file contents and the
// environment come in as arguments, env_files are read through a callback.
import { posix } from 'node:path';
import { parseEnvFile } from './env.js';
import { ComposeError, type ComposeIssue, issueAt, type KeyPath, type Locations } from './errors.js';
import { type Environment, interpolateValues } from './interpolate.js';
import { mergeComposeFiles } from './merge.js';
import {
  type ComposeFile,
  type ComposeFileObject,
  type ComposeNetwork,
  type ComposeService,
  type ComposeVolume,
  composeFileSchema,
  DEPRECATED_SERVICE_KEYS,
  describe,
  FORBIDDEN_SERVICE_KEYS,
  type ServiceVolume,
  UNSUPPORTED_SERVICE_KEYS,
} from './schema.js';
import { parseYamlFile } from './yaml.js';

export { parseDotEnv } from './env.js';
export { ComposeError, type ComposeIssue } from './errors.js';
export type {
  ComposeFileObject,
  ComposeNetwork,
  ComposeService,
  ComposeVolume,
  DependencyCondition,
  FileReference,
  ServicePort,
  ServiceVolume,
} from './schema.js';

/** A project ready to convert: every reference checked, every value in one normalised form. */
export interface ComposeProject {
  /** Directory of the first file: relative paths of every file were resolved against it, as Docker does. */
  workingDir: string;
  /** By compose name, in order of first appearance. `environment` includes the env_files' variables. */
  services: Record<string, ComposeService>;
  networks: Record<string, ComposeNetwork>;
  volumes: Record<string, ComposeVolume>;
  secrets: Record<string, ComposeFileObject>;
  configs: Record<string, ComposeFileObject>;
  /** Things the files ask for that a stack ignores, in Docker's wording where Docker warns. */
  warnings: string[];
  /** Where each key was written (later files win), for messages about the project. */
  locations: Locations;
  /** The first file's name, for messages about keys with no location. */
  file: string;
}

export interface LoadOptions {
  /** Reads a service's env_file (a path resolved against workingDir). Needed only when a file uses env_file. */
  readFile?(path: string): Buffer | string;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Parses, checks and merges `files` (later files override earlier ones). `env` supplies the
 * variables for interpolation and bare environment keys: the caller merges the process
 * environment with the `.env` file (parseDotEnv), as it sees fit. Throws a ComposeError listing
 * every problem of the first file that has any, each with its file, line and key.
 */
export function loadCompose(
  files: { path: string; text: string }[],
  env: Environment,
  opts: LoadOptions = {},
): ComposeProject {
  const first = files[0];
  if (!first) throw new ComposeError([{ file: '', key: '', message: 'no compose file given' }]);
  const workingDir = posix.dirname(first.path);
  const ignored = new Set<string>();
  const deprecated = new Map<string, string>();
  const warnings: string[] = [];
  const locations: Locations = {};
  const loaded: ComposeFile[] = [];

  for (const { path, text } of files) {
    const parsed = parseYamlFile(path, text);
    const raw = parsed.value;
    if (!isMapping(raw)) {
      throw new ComposeError([
        {
          file: path,
          line: 1,
          key: '',
          message: `the top level must be a mapping (services:, networks:, …), got ${describe(raw)}`,
        },
      ]);
    }
    checkVersion(raw, path, parsed.locations);
    if (raw.name !== undefined) {
      warnings.push(`${path}: the top-level "name" is ignored: the stack name is given on the command line`);
    }
    const kept = dropIgnoredServiceKeys(raw, path, parsed.locations, ignored, deprecated);
    const interpolated = interpolateValues(kept, env, path, parsed.locations);
    warnings.push(...interpolated.warnings);
    const result = composeFileSchema.safeParse(interpolated.value);
    if (!result.success) {
      throw new ComposeError(
        sortByLine(result.error.issues.map((i) => issueAt(parsed.locations, path, i.path, i.message))),
      );
    }
    loaded.push(resolveFile(result.data, { file: path, locations: parsed.locations, workingDir, env, opts }));
    Object.assign(locations, parsed.locations);
  }

  // Docker's two notices come first, in its order.
  const notices: string[] = [];
  if (ignored.size > 0) notices.push(`Ignoring unsupported options: ${[...ignored].sort().join(', ')}`);
  if (deprecated.size > 0) {
    const lines = [...deprecated.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, m]) => `${k}: ${m}`);
    notices.push(`Ignoring deprecated options:\n\n${lines.join('\n')}`);
  }
  const project: ComposeProject = {
    workingDir,
    ...mergeComposeFiles(loaded),
    warnings: [...notices, ...warnings],
    locations,
    file: first.path,
  };
  const issues = checkProject(project);
  if (issues.length > 0) throw new ComposeError(sortByLine(issues));
  return project;
}

/** Issues grouped by file (in the order files first appear), by line within a file. */
function sortByLine(issues: ComposeIssue[]): ComposeIssue[] {
  const fileOrder = [...new Set(issues.map((i) => i.file))];
  return [...issues].sort(
    (a, b) => fileOrder.indexOf(a.file) - fileOrder.indexOf(b.file) || (a.line ?? 0) - (b.line ?? 0),
  );
}

function checkVersion(raw: Record<string, unknown>, file: string, locations: Locations): void {
  const version = raw.version;
  if (version === undefined || version === null) return;
  if (!/^3(\.\d+)?$/.test(String(version))) {
    throw new ComposeError([
      issueAt(
        locations,
        file,
        ['version'],
        `unsupported Compose file version ${JSON.stringify(String(version))}: stack deploy reads version 3.x files and files without a version`,
      ),
    ]);
  }
}

/**
 * Takes out the service keys Docker ignores for stacks (noting them for the warning), refuses its
 * forbidden ones, and keeps the rest. `restart` stays: it is the fallback restart policy.
 */
function dropIgnoredServiceKeys(
  raw: Record<string, unknown>,
  file: string,
  locations: Locations,
  ignored: Set<string>,
  deprecated: Map<string, string>,
): Record<string, unknown> {
  if (!isMapping(raw.services)) return raw;
  const forbidden: ComposeIssue[] = [];
  const services: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(raw.services)) {
    if (!isMapping(def)) {
      services[name] = def;
      continue;
    }
    const keep: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(def)) {
      const advice = FORBIDDEN_SERVICE_KEYS[key];
      if (advice !== undefined) {
        forbidden.push(
          issueAt(locations, file, ['services', name, key], `not allowed in a stack: ${advice}`),
        );
      } else if ((UNSUPPORTED_SERVICE_KEYS as readonly string[]).includes(key)) {
        ignored.add(key);
        if (key === 'restart') keep[key] = v;
      } else if (DEPRECATED_SERVICE_KEYS[key] !== undefined) {
        deprecated.set(key, DEPRECATED_SERVICE_KEYS[key] ?? '');
      } else keep[key] = v;
    }
    services[name] = keep;
  }
  if (forbidden.length > 0) throw new ComposeError(forbidden);
  return { ...raw, services };
}

interface FileContext {
  file: string;
  locations: Locations;
  workingDir: string;
  env: Environment;
  opts: LoadOptions;
}

function absPath(workingDir: string, path: string): string {
  return posix.isAbsolute(path) ? path : posix.join(workingDir, path);
}

/** Resolves a file's relative paths and folds each service's env_files into its environment. */
function resolveFile(file: ComposeFile, ctx: FileContext): ComposeFile {
  const services = Object.fromEntries(
    Object.entries(file.services ?? {}).map(([name, svc]) => [name, resolveService(name, svc, ctx)]),
  );
  const resolveObjects = (defs: Record<string, ComposeFileObject> | undefined) =>
    Object.fromEntries(
      Object.entries(defs ?? {}).map(([name, def]) => [
        name,
        def.file === undefined ? def : { ...def, file: absPath(ctx.workingDir, def.file) },
      ]),
    );
  return { ...file, services, secrets: resolveObjects(file.secrets), configs: resolveObjects(file.configs) };
}

function resolveService(name: string, svc: ComposeService, ctx: FileContext): ComposeService {
  const lookup = (key: string): string | undefined =>
    Object.hasOwn(ctx.env, key) ? ctx.env[key] : undefined;
  // Docker's resolveEnvironment: env_file variables first, then `environment`; an entry without a
  // value, or with an empty one, takes the environment's value when it has one.
  const environment: Record<string, string | null> = {};
  const put = (key: string, value: string | null) => {
    const fromEnv = lookup(key);
    environment[key] = (value === null || value === '') && fromEnv !== undefined ? fromEnv : value;
  };
  const envFiles = (svc.env_file ?? []).map((p) => absPath(ctx.workingDir, p));
  envFiles.forEach((path, i) => {
    for (const { key, value } of parseEnvFile(
      readText(path, ['services', name, 'env_file', i], ctx),
      path,
      ctx.env,
    )) {
      put(key, value);
    }
  });
  for (const [key, value] of Object.entries(svc.environment ?? {})) put(key, value);

  const home = lookup('HOME');
  const volumes = svc.volumes?.map((v) => {
    if (v.type !== 'bind' || v.source === undefined) return v;
    const source = v.source.startsWith('~') && home !== undefined ? home + v.source.slice(1) : v.source;
    return { ...v, source: absPath(ctx.workingDir, source) };
  });
  return {
    ...svc,
    ...(svc.env_file ? { env_file: envFiles } : {}),
    ...(svc.environment || envFiles.length > 0 ? { environment } : {}),
    ...(volumes ? { volumes } : {}),
  };
}

function readText(path: string, at: KeyPath, ctx: FileContext): string {
  if (!ctx.opts.readFile) {
    throw new ComposeError([
      issueAt(
        ctx.locations,
        ctx.file,
        at,
        `cannot read ${path}: loadCompose was called without a readFile callback`,
      ),
    ]);
  }
  try {
    const data = ctx.opts.readFile(path);
    return typeof data === 'string' ? data : data.toString('utf8');
  } catch (e) {
    throw new ComposeError([
      issueAt(ctx.locations, ctx.file, at, `cannot read ${path}: ${(e as Error).message}`),
    ]);
  }
}

// ---------------------------------------------------------------------------------------------
// Checks across the merged project
// ---------------------------------------------------------------------------------------------

function declared(kind: string, name: string, names: string[]): string {
  const known = names.length > 0 ? ` (declared: ${names.join(', ')})` : '';
  return `${kind} "${name}" is not declared: add it under the top-level "${kind}s:"${known}`;
}

/** Every problem across services and definitions: references, modes, mounts, dependencies. */
function checkProject(project: ComposeProject): ComposeIssue[] {
  const issues: ComposeIssue[] = [];
  const at = (path: KeyPath, message: string) =>
    issues.push(issueAt(project.locations, project.file, path, message));
  const serviceNames = Object.keys(project.services);

  for (const [name, svc] of Object.entries(project.services)) {
    const here = ['services', name];
    if (svc.image === undefined || svc.image === '') {
      at(
        here,
        'has no image: stack deploy runs images and does not build them ("build" is ignored); add "image:"',
      );
    }
    const mode = svc.deploy?.mode;
    if ((mode === 'global' || mode === 'global-job') && svc.deploy?.replicas !== undefined) {
      at([...here, 'deploy', 'replicas'], 'replicas can only be used with replicated or replicated-job mode');
    }
    if (svc.deploy?.endpoint_mode === 'dnsrr' && svc.ports?.some((p) => p.mode !== 'host')) {
      at(
        [...here, 'ports'],
        "ports published in ingress mode can't be used with endpoint_mode dnsrr: publish them with mode: host",
      );
    }
    if (svc.healthcheck?.disable && (svc.healthcheck.test?.length ?? 0) > 0) {
      at([...here, 'healthcheck', 'disable'], "test and disable can't be set at the same time");
    }
    for (const network of Object.keys(svc.networks ?? {})) {
      if (network !== 'default' && !project.networks[network]) {
        at([...here, 'networks', network], declared('network', network, Object.keys(project.networks)));
      }
    }
    svc.volumes?.forEach((v, i) => {
      for (const message of mountProblems(v, project)) at([...here, 'volumes', i], message);
    });
    for (const kind of ['secret', 'config'] as const) {
      const defs = kind === 'secret' ? project.secrets : project.configs;
      const refs = (kind === 'secret' ? svc.secrets : svc.configs) ?? [];
      const targets = new Map<string, string>();
      refs.forEach((ref, i) => {
        const path = [...here, `${kind}s`, i];
        if (!defs[ref.source]) at(path, declared(kind, ref.source, Object.keys(defs)));
        const target = ref.target ?? ref.source;
        const other = targets.get(target);
        if (other !== undefined) {
          at(path, `duplicate ${kind} target for ${target} not allowed (also used by ${other})`);
        }
        targets.set(target, ref.source);
      });
    }
    for (const dep of Object.keys(svc.depends_on ?? {})) {
      if (!project.services[dep]) {
        at(
          [...here, 'depends_on', dep],
          `unknown service "${dep}"; services in this project: ${serviceNames.join(', ')}`,
        );
      }
    }
  }
  issues.push(...dependencyCycles(project));
  return issues;
}

/** What is wrong with one mount, in Docker's words where it has them (cli/compose/convert/volume.go). */
function mountProblems(v: ServiceVolume, project: ComposeProject): string[] {
  const problems: string[] = [];
  const incompatible = (option: 'bind' | 'volume' | 'tmpfs') => {
    if (v[option] !== undefined && v.type !== option)
      problems.push(`${option} options are incompatible with type ${v.type}`);
  };
  incompatible('bind');
  incompatible('volume');
  incompatible('tmpfs');
  if (v.type === 'volume' && v.source !== undefined && !project.volumes[v.source]) {
    problems.push(declared('volume', v.source, Object.keys(project.volumes)));
  }
  if ((v.type === 'bind' || v.type === 'npipe') && !v.source) {
    problems.push(`invalid ${v.type} source, source cannot be empty`);
  }
  if (v.type === 'tmpfs' && v.source) problems.push('invalid tmpfs source, source must be empty');
  return problems;
}

/** Each depends_on cycle once, reported at the dependency that closes it. */
function dependencyCycles(project: ComposeProject): ComposeIssue[] {
  const issues: ComposeIssue[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string) => {
    state.set(name, 'visiting');
    stack.push(name);
    for (const dep of Object.keys(project.services[name]?.depends_on ?? {})) {
      if (!project.services[dep]) continue;
      if (state.get(dep) === 'visiting') {
        const cycle = [...stack.slice(stack.indexOf(dep)), dep];
        issues.push(
          issueAt(
            project.locations,
            project.file,
            ['services', name, 'depends_on', dep],
            `dependency cycle: ${cycle.join(' -> ')}`,
          ),
        );
      } else if (!state.has(dep)) visit(dep);
    }
    stack.pop();
    state.set(name, 'done');
  };
  for (const name of Object.keys(project.services)) if (!state.has(name)) visit(name);
  return issues;
}
