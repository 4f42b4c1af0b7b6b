// A node's TLS state on its agent session, whichever transport: it registers and heartbeats with its
// TLSInfo (the root it trusts, who signed its certificate), so `node inspect` and a root rotation's
// progress see the truth, and it keeps what the heartbeat says the cluster wants trusted, for
// certificate renewal (src/daemon/renewal.ts) to act on.
import { isDeepStrictEqual } from 'node:util';
import type { DispatcherSession, Heartbeat, SessionInfo } from '../agent/session.js';
import type { NodeDescription, TLSInfo } from '../api/types.js';
import { nodeTLSInfo } from '../ca/certificates.js';
import type { DesiredTrust } from '../ca/renewal.js';
import type { NodeTLSIdentity, NodeTLSMaterial } from '../rpc/tls.js';

export class TrustReportingSession implements DispatcherSession {
  /** What the last heartbeat said the cluster wants trusted. */
  desired: DesiredTrust | undefined;
  private described: { material: NodeTLSMaterial; info: TLSInfo } | undefined;

  constructor(
    private readonly inner: DispatcherSession,
    private readonly identity: NodeTLSIdentity,
    /** Called when the desired trust changed. */
    private readonly onDesired: () => void,
  ) {}

  /** The node's TLSInfo, computed again only after its material changed. */
  private tlsInfo(): TLSInfo {
    const material = this.identity.material;
    if (this.described?.material !== material) this.described = { material, info: nodeTLSInfo(material) };
    return this.described.info;
  }

  register(nodeId: string, description: NodeDescription): Promise<SessionInfo> {
    return this.inner.register(nodeId, { ...description, TLSInfo: this.tlsInfo() });
  }

  async heartbeat(sessionId: string): Promise<Heartbeat> {
    const r = await this.inner.heartbeat(sessionId, { tlsInfo: this.tlsInfo() });
    if (r.trust && !isDeepStrictEqual(r.trust, this.desired)) {
      this.desired = r.trust;
      this.onDesired();
    }
    return r;
  }

  watchAssignments: DispatcherSession['watchAssignments'] = (id, cb) => this.inner.watchAssignments(id, cb);
  updateTaskStatus: DispatcherSession['updateTaskStatus'] = (id, u) => this.inner.updateTaskStatus(id, u);
  watchNetworks: NonNullable<DispatcherSession['watchNetworks']> = (id, cb) =>
    this.inner.watchNetworks?.(id, cb) ?? (() => undefined);
  watchPayloads: NonNullable<DispatcherSession['watchPayloads']> = (id, cb) =>
    this.inner.watchPayloads?.(id, cb) ?? (() => undefined);
}
