// A gRPC server on the swarm port, and the shape of a unary handler: validate the request (zod), run the
// handler, turn any thrown error into its gRPC status with Docker's wording.
import {
  type handleUnaryCall,
  Server,
  type ServerCredentials,
  type ServerUnaryCall,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { ServiceDefinition } from '@grpc/proto-loader';
import type { z } from 'zod';
import { invalidArgument, unavailable } from '../api/errors.js';
import { toServiceError } from './errors.js';

export interface RpcService {
  definition: ServiceDefinition;
  implementation: UntypedServiceImplementation;
}

export interface RunningRpcServer {
  /** The bound port (useful with port 0). */
  port: number;
  /** Stops accepting calls, waits up to `graceMs` for running ones, then cuts the rest. */
  stop(graceMs?: number): Promise<void>;
}

/** A unary handler whose request is validated by `schema` before `handle` sees it. */
export function unaryHandler<Schema extends z.ZodTypeAny>(
  schema: Schema,
  handle: (request: z.output<Schema>, call: ServerUnaryCall<object, object>) => Promise<object>,
): handleUnaryCall<object, object> {
  return (call, callback) => {
    const parsed = schema.safeParse(call.request);
    if (!parsed.success) {
      callback(
        toServiceError(invalidArgument(`invalid request: ${parsed.error.issues[0]?.message ?? 'malformed'}`)),
      );
      return;
    }
    handle(parsed.data, call).then(
      (response) => callback(null, response),
      (err: unknown) => callback(toServiceError(err)),
    );
  };
}

/** Binds `address` (e.g. "0.0.0.0:2377", or "127.0.0.1:0" in tests) and serves `services`. */
export async function startRpcServer(
  address: string,
  credentials: ServerCredentials,
  services: readonly RpcService[],
): Promise<RunningRpcServer> {
  const server = new Server({ 'grpc.max_receive_message_length': 4 * 1024 * 1024 });
  for (const service of services) server.addService(service.definition, service.implementation);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, credentials, (err, boundPort) => {
      if (err) reject(unavailable(`cannot listen on ${address}: ${err.message}`, err));
      else resolve(boundPort);
    });
  });
  return {
    port,
    stop: (graceMs = 2000) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
