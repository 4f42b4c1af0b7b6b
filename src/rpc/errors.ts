// SwarmError across gRPC: the server sends the code's gRPC status with the message as details; the client
// turns the status back into a SwarmError, so callers on both sides see the same wording.
import { type ServiceError, status } from '@grpc/grpc-js';
import { asSwarmError, type ErrorCode, noLeader, noLeaderMessage, SwarmError } from '../api/errors.js';

/** What a handler passes to its callback for any thrown error. Internal causes stay on the server. */
export function toServiceError(err: unknown): Partial<ServiceError> {
  const swarmError = asSwarmError(err);
  return { code: swarmError.grpcStatus, details: swarmError.message };
}

const fromStatus: Partial<Record<number, ErrorCode>> = {
  [status.INVALID_ARGUMENT]: 'INVALID_ARGUMENT',
  [status.NOT_FOUND]: 'NOT_FOUND',
  [status.ALREADY_EXISTS]: 'ALREADY_EXISTS',
  [status.PERMISSION_DENIED]: 'PERMISSION_DENIED',
  [status.FAILED_PRECONDITION]: 'FAILED_PRECONDITION',
  [status.UNAUTHENTICATED]: 'UNAUTHENTICATED',
  [status.UNAVAILABLE]: 'UNAVAILABLE',
  [status.DEADLINE_EXCEEDED]: 'UNAVAILABLE',
  [status.UNIMPLEMENTED]: 'NOT_IMPLEMENTED',
  [status.RESOURCE_EXHAUSTED]: 'PAYLOAD_TOO_LARGE',
};

/** A failed call as a SwarmError; transport failures (no connection, deadline) become UNAVAILABLE. */
export function fromServiceError(err: ServiceError): SwarmError {
  // Docker's no-leader error travels as Unknown: known by its text.
  if (err.details === noLeaderMessage) return noLeader(err);
  const code = fromStatus[err.code] ?? 'INTERNAL';
  return new SwarmError(code, err.details || err.message, { cause: err });
}
