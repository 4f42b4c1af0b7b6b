// A small Engine API client for the service benchmark: JSON calls over swarmd's unix socket, typed
// views of the few fields the benchmark reads (validated with zod), and bounded polling.
import { z } from 'zod';
import { apiCall } from '../../test/helpers/swarmd.js';

export const TaskView = z.object({
  ID: z.string(),
  ServiceID: z.string(),
  DesiredState: z.string(),
  Spec: z
    .object({ ContainerSpec: z.object({ Env: z.array(z.string()).nullish() }).passthrough() })
    .passthrough(),
  Status: z
    .object({
      State: z.string(),
      ContainerStatus: z.object({ ContainerID: z.string().nullish() }).passthrough().nullish(),
    })
    .passthrough(),
});
export type TaskView = z.infer<typeof TaskView>;

export const ServiceView = z.object({
  ID: z.string(),
  Version: z.object({ Index: z.number() }),
  Spec: z.record(z.unknown()),
  UpdateStatus: z.object({ State: z.string().nullish() }).passthrough().nullish(),
});
export type ServiceView = z.infer<typeof ServiceView>;

const ContainerList = z.array(z.object({ Id: z.string(), State: z.string().optional() }).passthrough());

export class Engine {
  constructor(readonly socket: string) {}

  /** One call; a status outside `ok` throws with Docker's message. Returns the parsed body (or null). */
  async call(method: string, path: string, body?: unknown, ok: number[] = [200, 201, 204]): Promise<unknown> {
    const r = await apiCall(this.socket, method, path, body);
    if (!ok.includes(r.status)) throw new Error(`${method} ${path}: ${r.status} ${r.body.slice(0, 300)}`);
    return r.body.trim() === '' ? null : JSON.parse(r.body);
  }

  async tasksOf(serviceId: string): Promise<TaskView[]> {
    const f = encodeURIComponent(JSON.stringify({ service: [serviceId] }));
    return z.array(TaskView).parse(await this.call('GET', `/tasks?filters=${f}`));
  }

  async service(id: string): Promise<ServiceView> {
    return ServiceView.parse(await this.call('GET', `/services/${id}`));
  }

  /** Containers (any state) labelled with the service id. */
  async containersOf(serviceId: string): Promise<z.infer<typeof ContainerList>> {
    const f = encodeURIComponent(JSON.stringify({ label: [`com.docker.swarm.service.id=${serviceId}`] }));
    return ContainerList.parse(await this.call('GET', `/containers/json?all=1&filters=${f}`));
  }
}

/** Running tasks that should run: what `docker service ls` counts as "running" replicas. */
export function running(tasks: readonly TaskView[], pick: (t: TaskView) => boolean = () => true): number {
  return tasks.filter((t) => t.DesiredState === 'running' && t.Status.State === 'running' && pick(t)).length;
}

/**
 * Polls `probe` every `everyMs` until it returns true; resolves with the elapsed ms since `since`
 * (a performance.now() value). Throws after `timeoutMs` naming `what`.
 */
export async function pollUntil(
  probe: () => Promise<boolean>,
  opts: { since: number; everyMs?: number; timeoutMs: number; what: string; check?: () => void },
): Promise<number> {
  const every = opts.everyMs ?? 20;
  for (;;) {
    if (await probe()) return performance.now() - opts.since;
    opts.check?.();
    if (performance.now() - opts.since > opts.timeoutMs) {
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}`);
    }
    await new Promise((r) => setTimeout(r, every));
  }
}
