// Typed errors: one code per kind of failure, mapped to HTTP status, gRPC status and Docker's wording.

/** gRPC status codes (numeric values as in grpc's status.proto). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type ErrorCode =
  | 'INVALID_ARGUMENT' // bad input: 400
  | 'NOT_FOUND' // 404
  | 'ALREADY_EXISTS' // name conflict: 409
  | 'CONFLICT' // state conflict that is not a name clash (e.g. image in use, not locked): 409
  | 'PERMISSION_DENIED' // 403
  | 'FAILED_PRECONDITION' // 400, as Docker maps it
  | 'UNAUTHENTICATED' // 401
  | 'OUT_OF_SEQUENCE' // stale Version.Index: 500 "update out of sequence", as Docker
  | 'NOT_MANAGER' // 503: this node cannot serve cluster state
  | 'UNAVAILABLE' // 503: a dependency (etcd, a peer) cannot be reached now
  | 'NO_LEADER' // etcd found no quorum in time: 500 and gRPC Unknown, as SwarmKit's plain error reaches Docker
  | 'NOT_IMPLEMENTED' // 501
  | 'PAYLOAD_TOO_LARGE' // 413
  | 'REQUEST_TIMEOUT' // 408: a client too slow sending its request
  | 'URI_TOO_LONG' // 414
  | 'TOO_MANY_REQUESTS' // 429: a per-client limit (open streams)
  | 'INTERNAL'; // 500

const httpStatus: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  CONFLICT: 409,
  PERMISSION_DENIED: 403,
  FAILED_PRECONDITION: 400,
  UNAUTHENTICATED: 401,
  OUT_OF_SEQUENCE: 500,
  NOT_MANAGER: 503,
  UNAVAILABLE: 503,
  NO_LEADER: 500,
  NOT_IMPLEMENTED: 501,
  PAYLOAD_TOO_LARGE: 413,
  REQUEST_TIMEOUT: 408,
  URI_TOO_LONG: 414,
  TOO_MANY_REQUESTS: 429,
  INTERNAL: 500,
};

const grpcStatus: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: GrpcStatus.INVALID_ARGUMENT,
  NOT_FOUND: GrpcStatus.NOT_FOUND,
  ALREADY_EXISTS: GrpcStatus.ALREADY_EXISTS,
  CONFLICT: GrpcStatus.FAILED_PRECONDITION,
  PERMISSION_DENIED: GrpcStatus.PERMISSION_DENIED,
  FAILED_PRECONDITION: GrpcStatus.FAILED_PRECONDITION,
  UNAUTHENTICATED: GrpcStatus.UNAUTHENTICATED,
  OUT_OF_SEQUENCE: GrpcStatus.UNKNOWN,
  NOT_MANAGER: GrpcStatus.UNAVAILABLE,
  UNAVAILABLE: GrpcStatus.UNAVAILABLE,
  NO_LEADER: GrpcStatus.UNKNOWN,
  NOT_IMPLEMENTED: GrpcStatus.UNIMPLEMENTED,
  PAYLOAD_TOO_LARGE: GrpcStatus.RESOURCE_EXHAUSTED,
  REQUEST_TIMEOUT: GrpcStatus.DEADLINE_EXCEEDED,
  URI_TOO_LONG: GrpcStatus.INVALID_ARGUMENT,
  TOO_MANY_REQUESTS: GrpcStatus.RESOURCE_EXHAUSTED,
  INTERNAL: GrpcStatus.INTERNAL,
};

/** The one error class of the project. `message` is what a Docker user would read. */
export class SwarmError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SwarmError';
    this.code = code;
  }
  get httpStatus(): number {
    return httpStatus[this.code];
  }
  get grpcStatus(): number {
    return grpcStatus[this.code];
  }
}

export const invalidArgument = (msg: string) => new SwarmError('INVALID_ARGUMENT', msg);
export const notFound = (msg: string) => new SwarmError('NOT_FOUND', msg);
export const alreadyExists = (msg: string) => new SwarmError('ALREADY_EXISTS', msg);
export const conflict = (msg: string) => new SwarmError('CONFLICT', msg);
export const failedPrecondition = (msg: string) => new SwarmError('FAILED_PRECONDITION', msg);
export const unavailable = (msg: string, cause?: unknown) => new SwarmError('UNAVAILABLE', msg, { cause });
export const internal = (msg: string, cause?: unknown) => new SwarmError('INTERNAL', msg, { cause });
export const outOfSequence = () => new SwarmError('OUT_OF_SEQUENCE', 'update out of sequence');

/** Docker's wording for the 503s a non-manager answers (moby daemon/cluster errNoManager & co). */
export const notManagerMessages = {
  notInSwarm:
    'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.',
  worker:
    "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.",
  preparing:
    'This node is not a swarm manager. Manager is being prepared or has trouble connecting to the cluster.',
  notPartOfSwarm: 'This node is not part of a swarm',
} as const;

export const notManager = (which: keyof typeof notManagerMessages = 'notInSwarm') =>
  new SwarmError('NOT_MANAGER', notManagerMessages[which]);

/**
 * Docker's answer while a majority of managers is gone (SwarmKit's raft has no leader), exactly as its
 * API and CLI show it: SwarmKit returns a plain error, so it arrives as gRPC Unknown.
 */
export const noLeaderMessage =
  "rpc error: code = Unknown desc = The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online.";

/** The cluster store could not reach a quorum within its deadline; a write's outcome is not claimed. */
export const noLeader = (cause?: unknown) => new SwarmError('NO_LEADER', noLeaderMessage, { cause });

/** Wraps anything thrown into a SwarmError (unknown errors become INTERNAL with their message). */
export function asSwarmError(err: unknown): SwarmError {
  if (err instanceof SwarmError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new SwarmError('INTERNAL', msg, { cause: err });
}
