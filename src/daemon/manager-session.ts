// A manager's own agent session: in-process with this manager's dispatcher while it leads, over gRPC
// with the leading manager's otherwise. Each session stays on the transport it registered on; when
// leadership moves, its next call fails and the agent registers again, on the other transport.
import type { DispatcherSession, SessionInfo } from '../agent/session.js';
import { unavailable } from '../api/errors.js';
import type { Dispatcher } from '../manager/dispatcher/dispatcher.js';
import type { RemoteSession } from '../rpc/dispatcher-client.js';

export class ManagerSession implements DispatcherSession {
  private remoteNow = false;

  constructor(
    /** This manager's dispatcher while it leads. */
    private readonly local: () => Dispatcher | undefined,
    private readonly remote: RemoteSession,
  ) {}

  /** The session registered last: this manager's dispatcher or the remote one. */
  private current(): DispatcherSession {
    if (this.remoteNow) return this.remote;
    const d = this.local();
    if (!d) throw unavailable('session invalid: this manager no longer leads');
    return d;
  }

  register(nodeId: string, description: Parameters<DispatcherSession['register']>[1]): Promise<SessionInfo> {
    const d = this.local();
    this.remoteNow = d === undefined;
    if (d) this.remote.close();
    return d ? d.register(nodeId, description) : this.remote.register(nodeId, description);
  }
  heartbeat: DispatcherSession['heartbeat'] = (id, report) => this.current().heartbeat(id, report);
  watchAssignments: DispatcherSession['watchAssignments'] = (id, cb) =>
    this.current().watchAssignments(id, cb);
  updateTaskStatus: DispatcherSession['updateTaskStatus'] = (id, u) => this.current().updateTaskStatus(id, u);
  watchNetworks: NonNullable<DispatcherSession['watchNetworks']> = (id, cb) =>
    this.current().watchNetworks?.(id, cb) ?? (() => undefined);
  watchPayloads: NonNullable<DispatcherSession['watchPayloads']> = (id, cb) =>
    this.current().watchPayloads?.(id, cb) ?? (() => undefined);
}
