// Loads the project's .proto files at runtime. They stay in the source tree (src/rpc/proto/, shipped in the
// package): compiled code in dist/src/rpc/ finds them three levels up, code run from source finds them beside it.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  type AnyDefinition,
  loadSync,
  type MethodDefinition,
  type ServiceDefinition,
} from '@grpc/proto-loader';
import { internal } from '../api/errors.js';

/** Where `name` (e.g. "ca.proto") lives, whether this module runs from dist/ or from src/. */
export function protoPath(name: string): string {
  const candidates = [
    new URL(`../../../src/rpc/proto/${name}`, import.meta.url), // dist/src/rpc/proto.js
    new URL(`./proto/${name}`, import.meta.url), // src/rpc/proto.ts (tsx)
  ];
  for (const url of candidates) {
    const path = fileURLToPath(url);
    if (existsSync(path)) return path;
  }
  throw internal(
    `proto file ${name} not found (looked in ${candidates.map((u) => fileURLToPath(u)).join(', ')})`,
  );
}

function isServiceDefinition(def: AnyDefinition | undefined): def is ServiceDefinition {
  return def !== undefined && !('format' in def);
}

/**
 * The definition of one service. Fields keep the .proto's snake_case names on the wire; in JavaScript
 * they are camelCase (proto-loader's default), bytes are Buffers, and absent fields take their defaults.
 */
export function loadServiceDefinition(protoFile: string, serviceName: string): ServiceDefinition {
  const pkg = loadSync(protoPath(protoFile), {
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
  });
  const def = pkg[serviceName];
  if (!isServiceDefinition(def)) throw internal(`${protoFile} has no service ${serviceName}`);
  return def;
}

/** One method of a loaded service; a missing name is a programming error. */
export function methodOf(service: ServiceDefinition, name: string): MethodDefinition<object, object> {
  const method = service[name];
  if (method === undefined) throw internal(`service has no method ${name}`);
  return method;
}
