// The agent-facing Executor over ContainerRuntime: one Controller per task, naming and labelling the
// task's container as SwarmKit does (`<service>.<slot|nodeID>.<taskID>`, com.docker.swarm.* labels).
import { arch, cpus, hostname, totalmem } from 'node:os';
import { SwarmError } from '../../api/errors.js';
import { decodeRegistryAuth } from '../images/registry.js';
import {
  type ContainerStatus,
  type Controller,
  type Executor,
  type ExecutorTask,
  type ExitStatus,
  type LogEntry,
  type LogOptions,
  type NodeDescription,
  taskContainerLabels,
  taskContainerName,
} from '../types.js';
import type { ContainerRecord } from './record.js';
import type { ContainerRuntime } from './runtime.js';

/** Docker reports x86_64/aarch64 (uname -m), Node says x64/arm64. */
export function platformArchitecture(nodeArch: string): string {
  const map: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', ia32: 'i386', arm: 'armv7l' };
  return map[nodeArch] ?? nodeArch;
}

export class RuncExecutor implements Executor {
  constructor(
    private readonly runtime: ContainerRuntime,
    private readonly engineVersion = 'swarmkit-ts',
  ) {}

  async describe(): Promise<NodeDescription> {
    return {
      Hostname: hostname(),
      Platform: { Architecture: platformArchitecture(arch()), OS: 'linux' },
      Resources: { NanoCPUs: cpus().length * 1e9, MemoryBytes: totalmem() },
      Engine: { EngineVersion: this.engineVersion },
    };
  }

  controller(task: ExecutorTask): Controller {
    return new RuncController(this.runtime, task);
  }
}

export class RuncController implements Controller {
  constructor(
    private readonly runtime: ContainerRuntime,
    private readonly task: ExecutorTask,
  ) {}

  private container(): ContainerRecord | undefined {
    return this.runtime.findByTask(this.task.ID);
  }
  private require(): ContainerRecord {
    const c = this.container();
    if (!c) throw new SwarmError('FAILED_PRECONDITION', `task ${this.task.ID}: container not prepared`);
    return c;
  }

  async prepare(): Promise<void> {
    if (this.container()) return;
    // The credentials go to the image store only: the container record must not keep them.
    const { PullOptions, ...spec } = this.task.Spec.ContainerSpec;
    const auth = decodeRegistryAuth(PullOptions?.RegistryAuth);
    await this.runtime.create({
      name: taskContainerName(this.task),
      spec,
      ...(auth ? { pullAuth: auth } : {}),
      ...(this.task.Spec.Resources ? { resources: this.task.Spec.Resources } : {}),
      labels: taskContainerLabels(this.task),
      taskId: this.task.ID,
      task: this.task,
    });
  }

  /**
   * Starts the process. With a health check, resolves only once the container is healthy (as
   * SwarmKit's container controller does, so a task is RUNNING only when it can serve and rolling
   * updates wait for it); an unhealthy container or an early exit is a start failure.
   */
  async start(): Promise<void> {
    const c = this.require();
    if (c.State.Status === 'created') await this.runtime.start(c.Id);
    if (this.runtime.healthOf(c.Id) === undefined) return;
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        const rec = this.runtime.get(c.Id);
        const h = this.runtime.healthOf(c.Id);
        if (rec.State.Status === 'exited' || rec.State.Status === 'dead') {
          done();
          reject(
            new SwarmError(
              'FAILED_PRECONDITION',
              `container exited with ${rec.State.ExitCode} before it was healthy`,
            ),
          );
        } else if (h?.Status === 'healthy') {
          done();
          resolve();
        } else if (h?.Status === 'unhealthy') {
          done();
          reject(new SwarmError('FAILED_PRECONDITION', 'container is unhealthy'));
        }
      };
      const offHealth = this.runtime.onHealth((r) => r.Id === c.Id && check());
      const offExit = this.runtime.onExit((r) => r.Id === c.Id && check());
      const done = () => {
        offHealth();
        offExit();
      };
      check();
    });
  }

  /** Resolves on exit, or with `unhealthy` when the health check fails (the agent then shuts down). */
  wait(signal?: AbortSignal): Promise<ExitStatus> {
    const c = this.require();
    const exited = (r: ContainerRecord): ExitStatus => ({
      kind: 'exited',
      ExitCode: r.State.ExitCode,
      OOMKilled: r.State.OOMKilled,
      ...(r.State.Error ? { Error: r.State.Error } : {}),
    });
    if (c.State.Status === 'exited' || c.State.Status === 'dead') return Promise.resolve(exited(c));
    if (this.runtime.healthOf(c.Id)?.Status === 'unhealthy') return Promise.resolve({ kind: 'unhealthy' });
    return new Promise((resolve, reject) => {
      const offHealth = this.runtime.onHealth((r, h) => {
        if (r.Id !== c.Id || h.Status !== 'unhealthy') return;
        done();
        resolve({ kind: 'unhealthy' });
      });
      const onAbort = () => {
        done();
        reject(new SwarmError('UNAVAILABLE', 'wait cancelled'));
      };
      const inner = new AbortController();
      const done = () => {
        offHealth();
        inner.abort();
        signal?.removeEventListener('abort', onAbort);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.runtime.waitExit(c.Id, inner.signal).then(
        (r) => {
          done();
          resolve(exited(r));
        },
        () => undefined, // cancelled by done()
      );
    });
  }

  async shutdown(): Promise<void> {
    const c = this.container();
    if (c) await this.runtime.stop(c.Id);
  }

  async terminate(): Promise<void> {
    const c = this.container();
    if (c?.State.Status === 'running') await this.runtime.kill(c.Id, 'SIGKILL');
  }

  async remove(): Promise<void> {
    const c = this.container();
    if (c) await this.runtime.remove(c.Id, { force: true });
  }

  async status(): Promise<ContainerStatus | undefined> {
    const c = this.container();
    return c ? { ContainerID: c.Id, PID: c.State.Pid, ExitCode: c.State.ExitCode } : undefined;
  }

  logs(opts: LogOptions): AsyncIterable<LogEntry> {
    return this.runtime.logs(this.require().Id, opts);
  }
}
