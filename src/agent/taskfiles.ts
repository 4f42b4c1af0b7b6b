// A task's secrets and configs as files: what the node's copy of the managers' payloads (the
// Payloads stream: only those its tasks reference) gives each reference, rendered when it is a
// template. `taskFiles` decides (pure): a secret goes to /run/secrets/<target> (an absolute target
// as given), a config to its target (default /<name>); uid/gid 0 and mode 0444 unless the
// reference says otherwise. `TaskFiles` is the shell the runc runtime asks at container creation;
// a payload that has not arrived yet is waited for a while (the assignment and the payload travel
// on two streams).
import type { NodePayloads, TaskPayload } from '../agent/session.js';
import { SwarmError } from '../api/errors.js';
import type { ExecutorTask, FileTarget, TaskFile, TaskFileProvider } from '../executor/types.js';
import { createLogger } from '../lib/log.js';
import { renderTemplate, type TemplateContext } from './templating.js';

const SECRETS_DIR = '/run/secrets';
const DEFAULT_MODE = 0o444;
const WAIT_MS = 10_000;
const log = createLogger({ component: 'agent' });

/** The node a task runs on, for templates. */
export interface NodeFacts {
  id: string;
  hostname: string;
  os: string;
  architecture: string;
}

function owner(id: string | undefined, what: string): number {
  if (id === undefined || id === '') return 0;
  if (!/^\d+$/.test(id))
    throw new SwarmError('INVALID_ARGUMENT', `invalid ${what} ${JSON.stringify(id)}: a number`);
  return Number(id);
}

function missing(task: ExecutorTask, payloads: NodePayloads): string[] {
  const c = task.Spec.ContainerSpec;
  return [
    ...(c.Secrets ?? []).filter((r) => !payloads.secrets[r.SecretID]).map((r) => `secret ${r.SecretName}`),
    ...(c.Configs ?? []).filter((r) => !payloads.configs[r.ConfigID]).map((r) => `config ${r.ConfigName}`),
  ];
}

/** The task's files from the payloads it references (pure); throws when one is absent or a template fails. */
export function taskFiles(task: ExecutorTask, payloads: NodePayloads, node: NodeFacts): TaskFile[] {
  const absent = missing(task, payloads);
  if (absent.length > 0)
    throw new SwarmError(
      'NOT_FOUND',
      `${absent.join(', ')} not found on this node (no payload from the managers)`,
    );
  const c = task.Spec.ContainerSpec;
  const secrets = (c.Secrets ?? []).map((r) => ({
    file: r.File,
    name: r.SecretName,
    p: payloads.secrets[r.SecretID] as TaskPayload,
  }));
  const configs = (c.Configs ?? []).map((r) => ({
    file: r.File,
    name: r.ConfigName,
    p: payloads.configs[r.ConfigID] as TaskPayload,
  }));
  const clear = (p: TaskPayload) => Buffer.from(p.data, 'base64').toString('utf8');
  const context: TemplateContext = {
    service: { id: task.ServiceID, name: task.ServiceName, labels: task.ServiceLabels ?? {} },
    node: { id: node.id, hostname: node.hostname, os: node.os, architecture: node.architecture },
    task: {
      id: task.ID,
      name: `${task.ServiceName}.${task.Slot || task.NodeID}.${task.ID}`,
      slot: task.Slot,
    },
    env: c.Env ?? [],
    secrets: Object.fromEntries(secrets.map((s) => [s.file?.Name ?? s.name, clear(s.p)])),
    configs: Object.fromEntries(configs.map((s) => [s.file?.Name ?? s.name, clear(s.p)])),
  };
  const file = (ref: { file?: FileTarget; name: string; p: TaskPayload }, target: string): TaskFile => ({
    target,
    data: ref.p.templating
      ? Buffer.from(renderTemplate(clear(ref.p), context).data)
      : Buffer.from(ref.p.data, 'base64'),
    uid: owner(ref.file?.UID, 'uid'),
    gid: owner(ref.file?.GID, 'gid'),
    mode: (ref.file?.Mode ?? DEFAULT_MODE) & 0o7777,
  });
  return [
    ...secrets.map((s) => {
      const t = s.file?.Name ?? s.name;
      return file(s, t.startsWith('/') ? t : `${SECRETS_DIR}/${t}`);
    }),
    ...configs.map((s) => {
      const t = s.file?.Name ?? s.name;
      return file(s, t.startsWith('/') ? t : `/${t}`);
    }),
  ];
}

export class TaskFiles implements TaskFileProvider {
  private payloads: NodePayloads = { secrets: {}, configs: {} };
  private waiters: (() => void)[] = [];

  /** The node's facts for templates; its ID is the task's NodeID. */
  constructor(private readonly node: () => Omit<NodeFacts, 'id'>) {}

  /** The managers' latest set: what is no longer listed is forgotten. */
  set(payloads: NodePayloads): void {
    // What the node holds, by ID (never a payload): operators and tests can see what reached it.
    log.info('secrets and configs held', {
      secrets: Object.keys(payloads.secrets).sort(),
      configs: Object.keys(payloads.configs).sort(),
    });
    this.payloads = payloads;
    for (const w of this.waiters.splice(0)) w();
  }

  async filesFor(task: ExecutorTask): Promise<TaskFile[]> {
    const end = Date.now() + WAIT_MS;
    while (missing(task, this.payloads).length > 0 && Date.now() < end) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, end - Date.now());
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return taskFiles(task, this.payloads, { ...this.node(), id: task.NodeID });
  }
}
