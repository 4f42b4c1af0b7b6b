// A simulated executor for scale benchmarks: the same Executor/Controller contract as the runc one,
// with containers that exist only in memory, "run" at once and exit only when told to.
// It never touches the host (no processes, mounts or cgroups). Not for anything but benchmarks/tests.
import { randomBytes } from 'node:crypto';
import { SwarmError } from '../../api/errors.js';
import {
  type ContainerStatus,
  type Controller,
  type Executor,
  type ExecutorTask,
  type ExitStatus,
  type LogEntry,
  type LogOptions,
  type NodeDescription,
  taskContainerName,
} from '../types.js';

export interface SimContainer {
  id: string;
  name: string;
  taskId: string;
  state: 'created' | 'running' | 'exited';
  exitCode: number;
  unhealthy: boolean;
  logs: LogEntry[];
  waiters: ((s: ExitStatus) => void)[];
}

export interface SimOptions {
  hostname?: string;
  nanoCPUs?: number;
  memoryBytes?: number;
  /** Image refs that "exist"; others fail prepare with Docker's message. Default: every image exists. */
  images?: string[];
}

export class SimExecutor implements Executor {
  readonly containers = new Map<string, SimContainer>();
  constructor(private readonly opts: SimOptions = {}) {}

  async describe(): Promise<NodeDescription> {
    return {
      Hostname: this.opts.hostname ?? 'sim',
      Platform: { Architecture: 'x86_64', OS: 'linux' },
      Resources: { NanoCPUs: this.opts.nanoCPUs ?? 4e9, MemoryBytes: this.opts.memoryBytes ?? 8 * 2 ** 30 },
      Engine: { EngineVersion: 'swarmkit-ts-sim' },
    };
  }

  controller(task: ExecutorTask): Controller {
    return new SimController(this, task, this.opts.images);
  }

  /** Makes a task's container exit with `code` (as if its process ended). */
  exit(taskId: string, code: number): void {
    const c = this.containers.get(taskId);
    if (c === undefined || c.state !== 'running') return;
    c.state = 'exited';
    c.exitCode = code;
    for (const w of c.waiters.splice(0)) w({ kind: 'exited', ExitCode: code, OOMKilled: false });
  }

  /** Marks a task's container unhealthy: its controller's wait() resolves with `unhealthy`. */
  markUnhealthy(taskId: string): void {
    const c = this.containers.get(taskId);
    if (c === undefined || c.state !== 'running') return;
    c.unhealthy = true;
    for (const w of c.waiters.splice(0)) w({ kind: 'unhealthy' });
  }

  running(): number {
    let n = 0;
    for (const c of this.containers.values()) if (c.state === 'running') n++;
    return n;
  }
}

class SimController implements Controller {
  constructor(
    private readonly exec: SimExecutor,
    private readonly task: ExecutorTask,
    private readonly images: string[] | undefined,
  ) {}

  private get c(): SimContainer | undefined {
    return this.exec.containers.get(this.task.ID);
  }
  private require(): SimContainer {
    const c = this.c;
    if (!c) throw new SwarmError('FAILED_PRECONDITION', `task ${this.task.ID}: container not prepared`);
    return c;
  }

  async prepare(): Promise<void> {
    if (this.c) return;
    const image = this.task.Spec.ContainerSpec.Image;
    if (this.images && !this.images.includes(image)) {
      throw new SwarmError('NOT_FOUND', `No such image: ${image}`);
    }
    this.exec.containers.set(this.task.ID, {
      id: randomBytes(32).toString('hex'),
      name: taskContainerName(this.task),
      taskId: this.task.ID,
      state: 'created',
      exitCode: 0,
      unhealthy: false,
      logs: [],
      waiters: [],
    });
  }

  async start(): Promise<void> {
    const c = this.require();
    if (c.state === 'created') c.state = 'running';
  }

  wait(signal?: AbortSignal): Promise<ExitStatus> {
    const c = this.require();
    if (c.state === 'exited')
      return Promise.resolve({ kind: 'exited', ExitCode: c.exitCode, OOMKilled: false });
    if (c.unhealthy) return Promise.resolve({ kind: 'unhealthy' });
    return new Promise((resolve, reject) => {
      const waiter = (s: ExitStatus) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(s);
      };
      const onAbort = () => {
        c.waiters = c.waiters.filter((w) => w !== waiter);
        reject(new SwarmError('UNAVAILABLE', 'wait cancelled'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      c.waiters.push(waiter);
    });
  }

  async shutdown(): Promise<void> {
    // A stopped container reports 143 (SIGTERM honoured), as a well-behaved process would.
    this.exec.exit(this.task.ID, 143);
  }

  async terminate(): Promise<void> {
    this.exec.exit(this.task.ID, 137);
  }

  async remove(): Promise<void> {
    this.exec.exit(this.task.ID, 137);
    this.exec.containers.delete(this.task.ID);
  }

  async status(): Promise<ContainerStatus | undefined> {
    const c = this.c;
    return c ? { ContainerID: c.id, PID: c.state === 'running' ? 1 : 0, ExitCode: c.exitCode } : undefined;
  }

  async *logs(_opts: LogOptions): AsyncIterable<LogEntry> {
    for (const e of this.c?.logs ?? []) yield e;
  }
}
