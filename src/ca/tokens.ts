// Join tokens "SWMTKN-1-<root CA digest>-<secret>" (SwarmKit ca/config.go): how a joiner recognises the
// cluster's CA and how the CA decides the role it certifies. Never log a token: its secret admits a node.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { invalidArgument, SwarmError } from '../api/errors.js';
import type { NodeRole } from './certificates.js';
import { decodeCertificateBundle, encodePem } from './pem.js';

const DIGEST_LENGTH = 50; // sha256 in base 36 needs at most 50 characters
const SECRET_LENGTH = 25; // 16 bytes in base 36 need at most 25 characters
const SECRET_BYTES = 16;

export const INVALID_JOIN_TOKEN = 'invalid join token';
export const JOIN_TOKEN_REJECTED = 'A valid join token is necessary to join this cluster';

export interface JoinToken {
  /** 1, or 2 for the FIPS-aware format "SWMTKN-2-<0|1>-…". */
  version: 1 | 2;
  fips: boolean;
  /** SHA-256 of the root CA bundle, 64 lowercase hex characters. */
  caDigest: string;
  /** 25 base36 characters. */
  secret: string;
}

const base36 = /^[0-9a-z]+$/;

function toBase36(n: bigint, width: number): string {
  return n.toString(36).padStart(width, '0');
}

function fromBase36(text: string): bigint {
  let n = 0n;
  for (const ch of text) n = n * 36n + BigInt(Number.parseInt(ch, 36));
  return n;
}

/**
 * SHA-256 (hex) of the root CA bundle in canonical PEM. SwarmKit hashes the bundle's bytes as served; hashing
 * the canonical re-encoding gives the same digest for canonical PEM (which is all this project writes) while
 * surviving line-ending changes. The whole bundle counts, so a CA cannot slip in extra roots.
 */
export function caDigest(rootCertPem: string): string {
  const canonical = decodeCertificateBundle(rootCertPem)
    .map((der) => encodePem('CERTIFICATE', der))
    .join('');
  return createHash('sha256').update(canonical).digest('hex');
}

/** A new join token for the given root CA bundle (v1 format). */
export function generateJoinToken(rootCertPem: string): string {
  const digest = toBase36(BigInt(`0x${caDigest(rootCertPem)}`), DIGEST_LENGTH);
  const secret = toBase36(BigInt(`0x${randomBytes(SECRET_BYTES).toString('hex')}`), SECRET_LENGTH);
  return `SWMTKN-1-${digest}-${secret}`;
}

/** Splits a token into its parts; throws INVALID_ARGUMENT "invalid join token" on anything malformed. */
export function parseJoinToken(token: string): JoinToken {
  const parts = token.split('-');
  let version: 1 | 2;
  let fips = false;
  if (parts[0] !== 'SWMTKN') throw invalidArgument(INVALID_JOIN_TOKEN);
  if (parts[1] === '1' && parts.length === 4) {
    version = 1;
  } else if (parts[1] === '2' && parts.length === 5 && (parts[2] === '0' || parts[2] === '1')) {
    version = 2;
    fips = parts[2] === '1';
  } else {
    throw invalidArgument(INVALID_JOIN_TOKEN);
  }
  const digest = parts[parts.length - 2] ?? '';
  const secret = parts[parts.length - 1] ?? '';
  if (digest.length !== DIGEST_LENGTH || secret.length !== SECRET_LENGTH)
    throw invalidArgument(INVALID_JOIN_TOKEN);
  if (!base36.test(digest) || !base36.test(secret)) throw invalidArgument(INVALID_JOIN_TOKEN);
  const digestValue = fromBase36(digest);
  if (digestValue >= 1n << 256n || fromBase36(secret) >= 1n << BigInt(SECRET_BYTES * 8)) {
    throw invalidArgument(INVALID_JOIN_TOKEN);
  }
  return { version, fips, caDigest: digestValue.toString(16).padStart(64, '0'), secret };
}

/** True when the token names this root CA bundle. */
export function verifyCADigest(token: string, rootCertPem: string): boolean {
  return parseJoinToken(token).caDigest === caDigest(rootCertPem);
}

/**
 * The joiner's check of the CA bundle a manager served it (fetched without verifying the server): throws
 * SwarmKit's "remote CA does not match fingerprint. Expected: <hex>" unless the token names exactly it.
 */
export function checkRemoteRootCA(token: string, servedRootCertPem: string): void {
  const expected = parseJoinToken(token).caDigest;
  let served: string;
  try {
    served = caDigest(servedRootCertPem);
  } catch (err) {
    throw new SwarmError('INVALID_ARGUMENT', `remote CA does not match fingerprint. Expected: ${expected}`, {
      cause: err,
    });
  }
  if (served !== expected)
    throw invalidArgument(`remote CA does not match fingerprint. Expected: ${expected}`);
}

function sameSecret(a: string, b: string): boolean {
  // Hashing first gives equal lengths, so timingSafeEqual leaks neither content nor length.
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/**
 * The CA's decision: which role a join token admits. Both comparisons always run, in constant time.
 * Throws INVALID_ARGUMENT "A valid join token is necessary to join this cluster" for any other token.
 */
export function roleForToken(token: string, tokens: { worker: string; manager: string }): NodeRole {
  const isWorker = tokens.worker !== '' && sameSecret(token, tokens.worker);
  const isManager = tokens.manager !== '' && sameSecret(token, tokens.manager);
  if (isManager) return 'manager';
  if (isWorker) return 'worker';
  throw invalidArgument(JOIN_TOKEN_REJECTED);
}

// ---- Expiry (ours, beyond Docker): a token admits nodes for the cluster's JoinTokenTTL after it was made.

/** The shortest TTL: a token must live long enough to be copied to the node that joins. */
const MIN_JOIN_TOKEN_TTL_NS = 60e9;

/** Checks a join token TTL in nanoseconds (0: never expires); returns it, or throws INVALID_ARGUMENT. */
export function validateJoinTokenTTL(ttlNs: number): number {
  if (!Number.isSafeInteger(ttlNs) || ttlNs < 0)
    throw invalidArgument(
      `invalid join token TTL ${ttlNs}: expected a whole number of nanoseconds, 0 or more`,
    );
  if (ttlNs !== 0 && ttlNs < MIN_JOIN_TOKEN_TTL_NS)
    throw invalidArgument('join token TTL must be at least 1m0s');
  return ttlNs;
}

/**
 * When a token made at `issuedAt` (ISO time) stops admitting nodes under a TTL of `ttlNs`; undefined when
 * it never does: no TTL, or a token made before TTLs existed (no issue time).
 */
export function tokenExpiry(issuedAt: string | undefined, ttlNs: number | undefined): Date | undefined {
  if (!ttlNs || issuedAt === undefined) return undefined;
  return new Date(Date.parse(issuedAt) + Math.floor(ttlNs / 1e6));
}

/** The cluster object's fields that say when its join tokens expire (src/api/types.ts ClusterSchema). */
export interface JoinTokenPolicy {
  JoinTokenTTL?: number | undefined;
  JoinTokensIssuedAt?: { Worker?: string | undefined; Manager?: string | undefined } | undefined;
}

/** Each token's expiry under the cluster's policy (see tokenExpiry). */
export function joinTokenExpiries(cluster: JoinTokenPolicy): Record<NodeRole, Date | undefined> {
  return {
    worker: tokenExpiry(cluster.JoinTokensIssuedAt?.Worker, cluster.JoinTokenTTL),
    manager: tokenExpiry(cluster.JoinTokensIssuedAt?.Manager, cluster.JoinTokenTTL),
  };
}

/** What a node that presents an expired token is told (no part of the token itself). */
export function expiredJoinTokenMessage(role: NodeRole): string {
  return `join token has expired: run "swarm join-token --rotate ${role}" on a manager for a new one`;
}
