// A stand-in for the leader's dispatcher behind the gRPC dispatcher service: it records what arrives
// (registrations, statuses, disconnects) and lets a test push task sets to the session it serves.
import type { SessionInfo, TaskStatusUpdate } from '../../src/agent/session.js';
import type { NodeDescription, Task } from '../../src/api/types.js';
import type { DispatcherBackend } from '../../src/rpc/dispatcher-service.js';

/** The managers the fake dispatcher tells sessions of. */
export const FAKE_MANAGERS = ['10.0.0.1:2377', '10.0.0.2:2377'];

export const description: NodeDescription = {
  Hostname: 'w1',
  Platform: { Architecture: 'x86_64', OS: 'linux' },
  Resources: { NanoCPUs: 2e9, MemoryBytes: 1e9 },
  Engine: { EngineVersion: 'test' },
};

export class FakeBackend implements DispatcherBackend {
  registered: { nodeId: string; addr?: string }[] = [];
  statuses: TaskStatusUpdate[] = [];
  push: ((tasks: Task[]) => void) | undefined;
  sessions = new Map<string, string>();
  disconnects: string[] = [];

  /** `initialTasks` is what a new assignments stream gets first. */
  constructor(private readonly initialTasks: () => Task[] = () => []) {}

  async register(nodeId: string, _d: NodeDescription, opts: { addr?: string }): Promise<SessionInfo> {
    this.registered.push({ nodeId, addr: opts.addr });
    const id = `s-${nodeId}`;
    this.sessions.set(id, nodeId);
    return { sessionId: id, heartbeatPeriodMs: 5000, managers: FAKE_MANAGERS };
  }
  async heartbeat() {
    return { periodMs: 5000, managers: FAKE_MANAGERS };
  }
  watchAssignments(_s: string, onTasks: (tasks: Task[]) => void) {
    this.push = onTasks;
    onTasks(this.initialTasks());
    return () => {
      this.push = undefined;
    };
  }
  async updateTaskStatus(_s: string, updates: TaskStatusUpdate[]) {
    this.statuses.push(...updates);
  }
  sessionNode(id: string) {
    return this.sessions.get(id);
  }
  disconnected(id: string) {
    this.disconnects.push(id);
  }
  onSessionEnd() {
    return () => undefined;
  }
}
