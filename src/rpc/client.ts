// A gRPC client channel to one peer and a typed unary call: deadline always set, response validated (zod),
// failures turned into SwarmErrors.
import {
  type ChannelCredentials,
  type ChannelOptions,
  Client,
  Metadata,
  type ServiceError,
} from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import type { z } from 'zod';
import { internal } from '../api/errors.js';
import { fromServiceError } from './errors.js';

export const DEFAULT_CALL_TIMEOUT_MS = 5000;

/** A channel to `address` ("host:port"). Close it when done. */
export function openClient(
  address: string,
  channel: { credentials: ChannelCredentials; options: ChannelOptions },
): Client {
  return new Client(address, channel.credentials, channel.options);
}

/** Calls one unary method; resolves with the response checked against `responseSchema`. */
export function unaryCall<Schema extends z.ZodTypeAny>(
  client: Client,
  method: MethodDefinition<object, object>,
  request: object,
  responseSchema: Schema,
  options: { timeoutMs?: number } = {},
): Promise<z.output<Schema>> {
  const deadline = new Date(Date.now() + (options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS));
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      new Metadata(),
      { deadline },
      (err: ServiceError | null, response?: object) => {
        if (err) {
          reject(fromServiceError(err));
          return;
        }
        const parsed = responseSchema.safeParse(response);
        if (!parsed.success) reject(internal(`malformed response from ${method.path}`));
        else resolve(parsed.data);
      },
    );
  });
}
