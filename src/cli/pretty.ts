// Human-readable texts of `service inspect --pretty` and `info`, in the docker CLI's layout
// (tabs kept where docker prints tabs). Pure functions of the API objects.

import type { Info, Service } from './types.js';
import { bytesSize, formatGoDuration, formatNanoCpus, humanDuration } from './units.js';

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

function configSection(title: string, cfg: Json, orderLabel: string): string[] {
  const lines = [`${title}:`, ` Parallelism:\t${num(cfg.Parallelism)}`];
  if (num(cfg.Delay)) lines.push(` Delay:\t\t${formatGoDuration(num(cfg.Delay))}`);
  lines.push(` On failure:\t${str(cfg.FailureAction)}`);
  if (num(cfg.Monitor)) lines.push(` Monitoring Period: ${formatGoDuration(num(cfg.Monitor))}`);
  lines.push(` Max failure ratio: ${num(cfg.MaxFailureRatio)}`);
  lines.push(` ${orderLabel}    ${str(cfg.Order)}`);
  return lines;
}

/** `service inspect --pretty` for one service (fetched with insertDefaults=true). */
export function prettyService(service: Service, now: number = Date.now()): string {
  const spec = service.Spec as Json;
  const tt = obj(spec.TaskTemplate);
  const cs = obj(tt.ContainerSpec);
  const mode = obj(spec.Mode);
  const lines: string[] = ['', `ID:\t\t${service.ID}`, `Name:\t\t${str(spec.Name)}`];
  const labels = Object.entries(obj(spec.Labels));
  if (labels.length > 0) {
    lines.push('Labels:');
    for (const [k, v] of labels.sort(([a], [b]) => (a < b ? -1 : 1)))
      lines.push(` ${k}${v ? `=${str(v)}` : ''}`);
  }
  if ('Global' in mode) lines.push('Service Mode:\tGlobal');
  else if ('Replicated' in mode) {
    lines.push('Service Mode:\tReplicated');
    const r = obj(mode.Replicated).Replicas;
    if (r !== undefined) lines.push(` Replicas:\t${num(r)}`);
  } else if ('ReplicatedJob' in mode) lines.push('Service Mode:\tReplicated Job');
  else if ('GlobalJob' in mode) lines.push('Service Mode:\tGlobal Job');
  else lines.push('Service Mode:');
  const us = service.UpdateStatus;
  if (us) {
    lines.push('UpdateStatus:', ` State:\t\t${str(us.State)}`);
    // Docker shows how long ago, not the timestamp ("Started:\t6 seconds ago").
    const ago = (v: unknown) => `${humanDuration(now - Date.parse(str(v)))} ago`;
    const started = (us as Json).StartedAt;
    if (started) lines.push(` Started:\t${ago(started)}`);
    const completed = (us as Json).CompletedAt;
    if (completed && us.State === 'completed') lines.push(` Completed:\t${ago(completed)}`);
    lines.push(` Message:\t${str(us.Message)}`);
  }
  const placement = obj(tt.Placement);
  lines.push('Placement:');
  if (arr(placement.Constraints).length > 0)
    lines.push(` Constraints:\t[${arr(placement.Constraints).join(' ')}]`);
  if (arr(placement.Preferences).length > 0) {
    const prefs = arr(placement.Preferences).map((p) => `Spread=${str(obj(obj(p).Spread).SpreadDescriptor)}`);
    lines.push(` Preferences:   [${prefs.join(' ')}]`);
  }
  if (num(placement.MaxReplicas)) lines.push(` Max Replicas Per Node:   ${num(placement.MaxReplicas)}`);
  if (spec.UpdateConfig)
    lines.push(...configSection('UpdateConfig', obj(spec.UpdateConfig), 'Update order:  '));
  if (spec.RollbackConfig)
    lines.push(...configSection('RollbackConfig', obj(spec.RollbackConfig), 'Rollback order:'));
  lines.push('ContainerSpec:', ` Image:\t\t${str(cs.Image)}`);
  if (arr(cs.Args).length > 0)
    lines.push(
      ` Args:\t\t${arr(cs.Args)
        .map((a) => `${str(a)} `)
        .join('')}`,
    );
  if (arr(cs.Env).length > 0)
    lines.push(
      ` Env:\t\t${arr(cs.Env)
        .map((a) => `${str(a)} `)
        .join('')}`,
    );
  if (cs.Dir) lines.push(` Dir:\t\t${str(cs.Dir)}`);
  if (cs.Init !== undefined && cs.Init !== null) lines.push(` Init:\t\t${str(cs.Init)}`);
  if (cs.User) lines.push(` User: ${str(cs.User)}`);
  const mounts = arr(cs.Mounts).map(obj);
  if (mounts.length > 0) lines.push('Mounts:');
  for (const m of mounts) {
    lines.push(` Target:\t${str(m.Target)}`, `  Source:\t${str(m.Source)}`);
    lines.push(`  ReadOnly:\t${m.ReadOnly === true}`, `  Type:\t\t${str(m.Type)}`);
  }
  const configs = arr(cs.Configs).map(obj);
  if (configs.length > 0) lines.push('Configs:');
  for (const c of configs)
    lines.push(` Target:\t${str(obj(c.File).Name)}`, `  Source:\t${str(c.ConfigName)}`);
  const secrets = arr(cs.Secrets).map(obj);
  if (secrets.length > 0) lines.push('Secrets:');
  for (const s of secrets)
    lines.push(` Target:\t${str(obj(s.File).Name)}`, `  Source:\t${str(s.SecretName)}`);
  const resources = tt.Resources === undefined ? undefined : obj(tt.Resources);
  if (resources) {
    lines.push('Resources:');
    const res = obj(resources.Reservations);
    if (num(res.NanoCPUs) > 0 || num(res.MemoryBytes) > 0) {
      lines.push(' Reservations:');
      if (num(res.NanoCPUs) > 0) lines.push(`  CPU:\t\t${formatNanoCpus(num(res.NanoCPUs))}`);
      if (num(res.MemoryBytes) > 0) lines.push(`  Memory:\t${bytesSize(num(res.MemoryBytes))}`);
    }
    const lim = obj(resources.Limits);
    if (num(lim.NanoCPUs) > 0 || num(lim.MemoryBytes) > 0) {
      lines.push(' Limits:');
      if (num(lim.NanoCPUs) > 0) lines.push(`  CPU:\t\t${formatNanoCpus(num(lim.NanoCPUs))}`);
      if (num(lim.MemoryBytes) > 0) lines.push(`  Memory:\t${bytesSize(num(lim.MemoryBytes))}`);
    }
    if (num(lim.Pids) > 0) lines.push(`  PIDs:\t\t${num(lim.Pids)}`);
  }
  const networks = arr(tt.Networks).map((n) => str(obj(n).Target));
  if (networks.length > 0) lines.push(`Networks:${networks.map((n) => ` ${n}`).join('')} `);
  const endpoint = obj(spec.EndpointSpec);
  lines.push(`Endpoint Mode:\t${str(endpoint.Mode)}`);
  const ports = arr(endpoint.Ports).map(obj);
  if (ports.length > 0) {
    lines.push('Ports:');
    ports.forEach((p, i) => {
      lines.push(` PublishedPort = ${num(p.PublishedPort)}`, `  Protocol = ${str(p.Protocol)}`);
      lines.push(
        `  TargetPort = ${num(p.TargetPort)}`,
        `  PublishMode = ${str(p.PublishMode)}${i === ports.length - 1 ? ' ' : ''}`,
      );
    });
  }
  // Docker's template ends each service with a blank line.
  return `${lines.join('\n')}\n\n`;
}

/** The Swarm section of `info` (and the few server fields swarmd reports). */
export function prettyInfo(info: Info, clientContext: string): string {
  const i = info as Json;
  const out: string[] = ['Client:', ` Context:    ${clientContext}`, ' Debug Mode: false', '', 'Server:'];
  const add = (label: string, key: string) => {
    if (i[key] !== undefined) out.push(` ${label}: ${str(i[key])}`);
  };
  if (i.Containers !== undefined) {
    out.push(` Containers: ${num(i.Containers)}`);
    out.push(`  Running: ${num(i.ContainersRunning)}`, `  Paused: ${num(i.ContainersPaused)}`);
    out.push(`  Stopped: ${num(i.ContainersStopped)}`);
  }
  add('Images', 'Images');
  add('Server Version', 'ServerVersion');
  add('Storage Driver', 'Driver');
  add('Logging Driver', 'LoggingDriver');
  add('Cgroup Driver', 'CgroupDriver');
  add('Cgroup Version', 'CgroupVersion');
  const swarm = info.Swarm;
  out.push(` Swarm: ${swarm?.LocalNodeState ?? 'inactive'}`);
  if (swarm && swarm.LocalNodeState !== 'inactive' && swarm.LocalNodeState !== 'locked') {
    out.push(`  NodeID: ${swarm.NodeID ?? ''}`);
    if (swarm.Error) out.push(`  Error: ${swarm.Error}`);
    out.push(`  Is Manager: ${swarm.ControlAvailable === true}`);
    const cluster = swarm.Cluster;
    if (swarm.ControlAvailable && cluster) {
      out.push(
        `  ClusterID: ${cluster.ID ?? ''}`,
        `  Managers: ${swarm.Managers ?? 0}`,
        `  Nodes: ${swarm.Nodes ?? 0}`,
      );
      const pools = cluster.DefaultAddrPool ?? [];
      out.push(`  Default Address Pool: ${pools.join(' ')}  `);
      out.push(
        `  SubnetSize: ${cluster.SubnetSize ?? 24}`,
        `  Data Path Port: ${cluster.DataPathPort ?? 4789}`,
      );
      const spec = cluster.Spec;
      out.push('  Orchestration:');
      out.push(`   Task History Retention Limit: ${spec?.Orchestration?.TaskHistoryRetentionLimit ?? 0}`);
      const raft = obj(spec?.Raft);
      out.push('  Raft:', `   Snapshot Interval: ${num(raft.SnapshotInterval)}`);
      out.push(`   Number of Old Snapshots to Retain: ${num(raft.KeepOldSnapshots)}`);
      out.push(
        `   Heartbeat Tick: ${num(raft.HeartbeatTick)}`,
        `   Election Tick: ${num(raft.ElectionTick)}`,
      );
      out.push(
        '  Dispatcher:',
        `   Heartbeat Period: ${humanSeconds(spec?.Dispatcher?.HeartbeatPeriod ?? 0)}`,
      );
      out.push(
        '  CA Configuration:',
        `   Expiry Duration: ${humanCertExpiry(spec?.CAConfig?.NodeCertExpiry ?? 0)}`,
      );
      out.push(`   Force Rotate: ${num(obj(spec?.CAConfig).ForceRotate)}`);
      const tokenTTL = num(obj(cluster).JoinTokenTTL); // ours, not in Docker's output
      if (tokenTTL > 0) out.push(`  Join Token TTL: ${formatGoDuration(tokenTTL)}`);
      out.push(`  Autolock Managers: ${spec?.EncryptionConfig?.AutoLockManagers === true}`);
      out.push(`  Root Rotation In Progress: ${cluster.RootRotationInProgress === true}`);
    }
    out.push(`  Node Address: ${swarm.NodeAddr ?? ''}`);
    const managers = swarm.RemoteManagers ?? [];
    if (managers.length > 0) {
      out.push('  Manager Addresses:');
      for (const m of [...managers].sort((a, b) => (a.Addr < b.Addr ? -1 : 1))) out.push(`   ${m.Addr}`);
    }
  }
  add('Kernel Version', 'KernelVersion');
  add('Operating System', 'OperatingSystem');
  add('OSType', 'OSType');
  add('Architecture', 'Architecture');
  add('CPUs', 'NCPU');
  if (typeof i.MemTotal === 'number') out.push(` Total Memory: ${bytesSize(i.MemTotal)}`);
  add('Name', 'Name');
  add('ID', 'ID');
  add('Docker Root Dir', 'DockerRootDir');
  return `${out.join('\n')}\n`;
}

/** go-units HumanDuration of a nanosecond period, lower-cased ("5 seconds"). */
function humanSeconds(ns: number): string {
  const s = Math.round(ns / 1e9);
  return s === 1 ? '1 second' : `${s} seconds`;
}

/** The CA expiry as docker prints it: "3 months" for 2160h. */
function humanCertExpiry(ns: number): string {
  const hours = ns / 3600e9;
  if (hours < 48) return `${Math.round(hours)} hours`;
  if (hours < 24 * 14) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 60) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(hours / 24 / 365)} years`;
}
