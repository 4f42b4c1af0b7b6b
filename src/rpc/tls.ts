// TLS credentials for inter-node gRPC. A node's identity (root, certificate, key) is one live object shared
// by its server and clients: renewing the certificate updates it in place and new connections use the new one.
import {
  type ChannelCredentials,
  type ChannelOptions,
  credentials,
  experimental,
  type ServerCredentials,
} from '@grpc/grpc-js';
import { ROLE_OU, ROOT_CA_CN } from '../ca/certificates.js';

export interface NodeTLSMaterial {
  rootCertPem: string;
  certPem: string;
  keyPem: string;
}

/**
 * grpc-js registers its server-side watcher only after subscribing to the provider, so an update delivered
 * during the subscription is lost and the server drops every connection. The first update therefore comes
 * on the next microtask, as a file-watching provider's would.
 */
function deliverLater(deliver: () => void): void {
  queueMicrotask(deliver);
}

/** The node's TLS identity as grpc-js certificate provider (for both the CA bundle and the key pair). */
export class NodeTLSIdentity implements experimental.CertificateProvider {
  #material: NodeTLSMaterial;
  readonly #caListeners = new Set<experimental.CaCertificateUpdateListener>();
  readonly #identityListeners = new Set<experimental.IdentityCertificateUpdateListener>();

  constructor(material: NodeTLSMaterial) {
    this.#material = material;
  }

  get material(): NodeTLSMaterial {
    return this.#material;
  }

  /** Swaps in renewed material; existing connections keep their session, new ones use this. */
  update(material: NodeTLSMaterial): void {
    this.#material = material;
    for (const listener of this.#caListeners) listener(this.#caUpdate());
    for (const listener of this.#identityListeners) listener(this.#identityUpdate());
  }

  #caUpdate(): experimental.CaCertificateUpdate {
    return { caCertificate: Buffer.from(this.#material.rootCertPem) };
  }

  #identityUpdate(): experimental.IdentityCertificateUpdate {
    return {
      certificate: Buffer.from(this.#material.certPem),
      privateKey: Buffer.from(this.#material.keyPem),
    };
  }

  addCaCertificateListener(listener: experimental.CaCertificateUpdateListener): void {
    this.#caListeners.add(listener);
    deliverLater(() => this.#caListeners.has(listener) && listener(this.#caUpdate()));
  }

  removeCaCertificateListener(listener: experimental.CaCertificateUpdateListener): void {
    this.#caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: experimental.IdentityCertificateUpdateListener): void {
    this.#identityListeners.add(listener);
    deliverLater(() => this.#identityListeners.has(listener) && listener(this.#identityUpdate()));
  }

  removeIdentityCertificateListener(listener: experimental.IdentityCertificateUpdateListener): void {
    this.#identityListeners.delete(listener);
  }
}

/**
 * A manager's server credentials. A client certificate is verified against the root when given but not
 * required (Go's VerifyClientCertIfGiven), because joiners have none yet; each handler then decides, with
 * `authorizePeer`, which callers it serves.
 */
export function serverCredentials(identity: NodeTLSIdentity): ServerCredentials {
  // The same object serves as both providers, so the order of grpc-js's (ca, identity) arguments cannot matter.
  return experimental.createCertificateProviderServerCredentials(identity, identity, false);
}

/** Mutual TLS to a manager: presents the node's certificate and accepts only a manager of this root. */
export function managerChannel(identity: NodeTLSIdentity): {
  credentials: ChannelCredentials;
  options: ChannelOptions;
} {
  return {
    credentials: experimental.createCertificateProviderChannelCredentials(identity, identity),
    // Managers are dialled by IP; the name checked is the role, which only manager certificates carry.
    options: { 'grpc.ssl_target_name_override': ROLE_OU.manager },
  };
}

/**
 * A joiner's first call, before it knows the root: TLS without verifying the server. Safe only for
 * GetRootCACertificate, whose answer the joiner checks against the digest in its token.
 */
export function unverifiedChannel(): { credentials: ChannelCredentials; options: ChannelOptions } {
  return { credentials: credentials.createSsl(null, null, null, { rejectUnauthorized: false }), options: {} };
}

/** A joiner's second call: the server must chain to the root just fetched and serve the CA; no client certificate. */
export function caChannel(rootCertPem: string): { credentials: ChannelCredentials; options: ChannelOptions } {
  return {
    credentials: credentials.createSsl(Buffer.from(rootCertPem)),
    options: { 'grpc.ssl_target_name_override': ROOT_CA_CN },
  };
}
