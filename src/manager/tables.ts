// The cluster store's tables: which objects the swarm keeps, their schemas, unique names and the
// cache's secondary indexes.
import {
  ClusterSchema,
  ConfigSchema,
  NetworkSchema,
  NodeSchema,
  SecretSchema,
  ServiceSchema,
  TaskSchema,
} from '../api/types.js';
import { defineTable } from '../store/table.js';

export const tables = {
  cluster: defineTable({ kind: 'cluster', schema: ClusterSchema }),
  node: defineTable({ kind: 'node', schema: NodeSchema }),
  service: defineTable({ kind: 'service', schema: ServiceSchema, nameOf: (s) => s.Spec.Name }),
  task: defineTable({
    kind: 'task',
    schema: TaskSchema,
    indexes: { service: (t) => t.ServiceID, node: (t) => t.NodeID },
  }),
  network: defineTable({ kind: 'network', schema: NetworkSchema, nameOf: (n) => n.Name }),
  secret: defineTable({ kind: 'secret', schema: SecretSchema, nameOf: (s) => s.Spec.Name }),
  config: defineTable({ kind: 'config', schema: ConfigSchema, nameOf: (c) => c.Spec.Name }),
};
export type Tables = typeof tables;
