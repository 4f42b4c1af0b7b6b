// Parsers for the docker CLI's structured flag values (`--publish`, `--mount`, `--secret`,
// `--config`, `--network`, `--placement-pref`, `--env`, labels…). Pure; errors carry the
// wording pflag prints after `invalid argument "…" for "…" flag: `.

import type { PortConfig } from './types.js';
import { ramInBytes } from './units.js';

/** Splits a `k=v,k2=v2` field list (quotes allowed around a field, as in encoding/csv). */
export function splitCsv(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of value) {
    if (ch === '"') quoted = !quoted;
    else if (ch === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

function parseUint(v: string): number {
  if (!/^\d+$/.test(v)) throw new Error(`strconv.ParseUint: parsing "${v}": invalid syntax`);
  return Number(v);
}

function parseBoolValue(v: string): boolean {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(v)) return false;
  throw new Error(`strconv.ParseBool: parsing "${v}": invalid syntax`);
}

/** `-p 8080:80`, `-p 80`, `-p 8080-8081:80-81/udp`, `-p published=8080,target=80,mode=host`. */
export function parsePublish(value: string): PortConfig[] {
  if (value.includes('=')) {
    const port: PortConfig = {};
    let protocol = 'tcp';
    let mode = 'ingress';
    for (const field of splitCsv(value)) {
      const eq = field.indexOf('=');
      if (eq === -1) throw new Error(`invalid field ${field}`);
      const key = field.slice(0, eq).toLowerCase();
      const v = field.slice(eq + 1);
      switch (key) {
        case 'name':
          port.Name = v;
          break;
        case 'protocol':
          if (!['tcp', 'udp', 'sctp'].includes(v)) throw new Error(`invalid protocol value ${v}`);
          protocol = v;
          break;
        case 'mode':
          if (!['ingress', 'host'].includes(v)) throw new Error(`invalid publish mode value ${v}`);
          mode = v;
          break;
        case 'target':
          port.TargetPort = parseUint(v);
          break;
        case 'published':
          port.PublishedPort = parseUint(v);
          break;
        default:
          throw new Error(`invalid field key ${key}`);
      }
    }
    if (port.TargetPort === undefined) throw new Error(`missing mandatory field "target"`);
    return [
      {
        ...(port.Name ? { Name: port.Name } : {}),
        Protocol: protocol,
        TargetPort: port.TargetPort,
        ...(port.PublishedPort ? { PublishedPort: port.PublishedPort } : {}),
        PublishMode: mode,
      },
    ];
  }
  const slash = value.indexOf('/');
  const proto = slash === -1 ? 'tcp' : value.slice(slash + 1).toLowerCase();
  const spec = slash === -1 ? value : value.slice(0, slash);
  if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new Error(`Invalid proto: ${proto}`);
  const parts = spec.split(':');
  if (parts.length > 2) throw new Error('hostip is not supported');
  const target = parts[parts.length - 1] ?? '';
  const published = parts.length === 2 ? (parts[0] ?? '') : '';
  const range = (r: string, what: string): [number, number] => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(r);
    if (!m) throw new Error(`Invalid ${what}: ${r}`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi > 65535) throw new Error(`Invalid ${what}: ${r}`);
    return [lo, hi];
  };
  const [t0, t1] = range(target, 'containerPort');
  const pub = published === '' ? undefined : range(published, 'hostPort');
  if (pub && pub[1] - pub[0] !== t1 - t0 && pub[0] !== pub[1]) {
    throw new Error(`Invalid ranges specified for container and host Ports: ${target} and ${published}`);
  }
  const out: PortConfig[] = [];
  for (let i = 0; i <= t1 - t0; i++) {
    const publishedPort = pub ? (pub[0] === pub[1] ? pub[0] : pub[0] + i) : 0;
    out.push({
      Protocol: proto,
      TargetPort: t0 + i,
      ...(publishedPort ? { PublishedPort: publishedPort } : {}),
      PublishMode: 'ingress',
    });
  }
  return out;
}

export interface MountSpec {
  Type: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: { Propagation?: string; NonRecursive?: boolean };
  VolumeOptions?: {
    NoCopy?: boolean;
    Labels?: Record<string, string>;
    DriverConfig?: Record<string, unknown>;
  };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

/** `--mount type=bind,source=/a,target=/b,readonly`; the type defaults to volume. */
export function parseMount(value: string): MountSpec {
  let type = 'volume';
  let source: string | undefined;
  let target: string | undefined;
  let readOnly: boolean | undefined;
  let consistency: string | undefined;
  const bind: NonNullable<MountSpec['BindOptions']> = {};
  const vol: {
    NoCopy?: boolean;
    Labels?: Record<string, string>;
    DriverName?: string;
    Opts?: Record<string, string>;
  } = {};
  const tmpfs: NonNullable<MountSpec['TmpfsOptions']> = {};
  let volumeTouched = false;
  for (const field of splitCsv(value)) {
    const eq = field.indexOf('=');
    const key = (eq === -1 ? field : field.slice(0, eq)).toLowerCase();
    const v = eq === -1 ? undefined : field.slice(eq + 1);
    const need = (): string => {
      if (v === undefined) throw new Error(`invalid field '${field}' must be a key=value pair`);
      return v;
    };
    switch (key) {
      case 'type':
        type = need().toLowerCase();
        break;
      case 'source':
      case 'src':
        source = need();
        break;
      case 'target':
      case 'dst':
      case 'destination':
        target = need();
        break;
      case 'readonly':
      case 'ro':
        readOnly = v === undefined ? true : parseBoolValue(v);
        break;
      case 'consistency':
        consistency = need();
        break;
      case 'bind-propagation':
        bind.Propagation = need();
        break;
      case 'bind-nonrecursive':
        bind.NonRecursive = v === undefined ? true : parseBoolValue(v);
        break;
      case 'volume-nocopy':
        vol.NoCopy = v === undefined ? true : parseBoolValue(v);
        volumeTouched = true;
        break;
      case 'volume-label': {
        const [k = '', lv = ''] = need().split(/=(.*)/s);
        vol.Labels = { ...vol.Labels, [k]: lv };
        volumeTouched = true;
        break;
      }
      case 'volume-driver':
        vol.DriverName = need();
        volumeTouched = true;
        break;
      case 'volume-opt': {
        const [k = '', ov = ''] = need().split(/=(.*)/s);
        vol.Opts = { ...vol.Opts, [k]: ov };
        volumeTouched = true;
        break;
      }
      case 'tmpfs-size':
        tmpfs.SizeBytes = ramInBytes(need());
        break;
      case 'tmpfs-mode':
        if (!/^[0-7]+$/.test(need())) throw new Error(`strconv.ParseUint: parsing "${v}": invalid syntax`);
        tmpfs.Mode = Number.parseInt(need(), 8);
        break;
      default:
        throw new Error(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (!['bind', 'volume', 'tmpfs', 'npipe', 'cluster'].includes(type)) {
    throw new Error(`invalid mount type: ${type}`);
  }
  const mount: MountSpec = { Type: type };
  if (source !== undefined) mount.Source = source;
  if (target !== undefined) mount.Target = target;
  if (readOnly) mount.ReadOnly = true;
  if (consistency) mount.Consistency = consistency;
  if (Object.keys(bind).length > 0) {
    if (type !== 'bind') throw new Error(`cannot mix 'bind-*' options with mount type '${type}'`);
    mount.BindOptions = bind;
  }
  if (volumeTouched) {
    if (type !== 'volume') throw new Error(`cannot mix 'volume-*' options with mount type '${type}'`);
    const driverConfig: Record<string, unknown> = {};
    if (vol.DriverName) driverConfig.Name = vol.DriverName;
    if (vol.Opts) driverConfig.Options = vol.Opts;
    mount.VolumeOptions = {
      ...(vol.NoCopy ? { NoCopy: true } : {}),
      ...(vol.Labels ? { Labels: vol.Labels } : {}),
      DriverConfig: driverConfig,
    };
  }
  if (Object.keys(tmpfs).length > 0) {
    if (type !== 'tmpfs') throw new Error(`cannot mix 'tmpfs-*' options with mount type '${type}'`);
    mount.TmpfsOptions = tmpfs;
  }
  return mount;
}

export interface FileRefOptions {
  source: string;
  target: string;
  uid: string;
  gid: string;
  mode: number;
}

/** `--secret name` or `--secret source=name,target=/path,uid=0,gid=0,mode=0400`. */
export function parseFileRef(value: string): FileRefOptions {
  const ref: FileRefOptions = { source: '', target: '', uid: '0', gid: '0', mode: 0o444 };
  if (!value.includes('=')) {
    ref.source = value;
    ref.target = value;
    return ref;
  }
  for (const field of splitCsv(value)) {
    const eq = field.indexOf('=');
    if (eq === -1) throw new Error(`invalid field '${field}' must be a key=value pair`);
    const key = field.slice(0, eq).toLowerCase();
    const v = field.slice(eq + 1);
    switch (key) {
      case 'source':
      case 'src':
        ref.source = v;
        break;
      case 'target':
        ref.target = v;
        break;
      case 'uid':
        ref.uid = v;
        break;
      case 'gid':
        ref.gid = v;
        break;
      case 'mode':
        if (!/^[0-7]+$/.test(v)) throw new Error(`invalid mode specified: ${v}`);
        ref.mode = Number.parseInt(v, 8);
        break;
      default:
        throw new Error(`invalid field in secret request: ${key}`);
    }
  }
  if (ref.source === '') throw new Error('source is required');
  if (ref.target === '') ref.target = ref.source;
  return ref;
}

export interface NetworkRef {
  target: string;
  aliases: string[];
  driverOpts: Record<string, string>;
}

/** `--network net` or `--network name=net,alias=a,driver-opt=k=v`. */
export function parseNetwork(value: string): NetworkRef {
  if (!value.includes('=')) return { target: value, aliases: [], driverOpts: {} };
  const ref: NetworkRef = { target: '', aliases: [], driverOpts: {} };
  for (const field of splitCsv(value)) {
    const eq = field.indexOf('=');
    if (eq === -1) throw new Error(`invalid field '${field}' must be a key=value pair`);
    const key = field.slice(0, eq).toLowerCase();
    const v = field.slice(eq + 1);
    if (key === 'name') ref.target = v;
    else if (key === 'alias') ref.aliases.push(v);
    else if (key === 'driver-opt') {
      const [k = '', o = ''] = v.split(/=(.*)/s);
      ref.driverOpts[k] = o;
    } else throw new Error(`invalid field key ${key}`);
  }
  if (ref.target === '') throw new Error('network name/id is not specified');
  return ref;
}

/** `--placement-pref spread=node.labels.zone`. */
export function parsePlacementPref(value: string): { Spread: { SpreadDescriptor: string } } {
  const eq = value.indexOf('=');
  if (eq === -1) throw new Error('placement preference must be of the format "<strategy>=<arg>"');
  const strategy = value.slice(0, eq).toLowerCase();
  if (strategy !== 'spread')
    throw new Error(`unsupported placement preference ${strategy} (only spread is supported)`);
  return { Spread: { SpreadDescriptor: value.slice(eq + 1) } };
}

/** `KEY=VALUE` or `KEY` (empty value) → entries of a label map. */
export function parseLabels(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq === -1) out[v] = '';
    else out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

/** The key of an `ENV=value` entry. */
export function envKey(entry: string): string {
  const eq = entry.indexOf('=');
  return eq === -1 ? entry : entry.slice(0, eq);
}

/** POSIX-shell-like word splitting used for --entrypoint and --args. */
export function shellSplit(input: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < input.length; i++) {
    const c = input[i] ?? '';
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < input.length) cur += input[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < input.length) {
      cur += input[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new Error('EOF found when expecting closing quote');
  if (inWord) words.push(cur);
  return words;
}
