// Small test tables shaped like Docker's objects: named services and unnamed tasks indexed by service/node.
import { z } from 'zod';
import { defineTable } from '../../src/store/table.js';

const meta = {
  ID: z.string(),
  Version: z.object({ Index: z.number().int().nonnegative() }),
  CreatedAt: z.string(),
  UpdatedAt: z.string(),
};

export const ServiceSchema = z.object({
  ...meta,
  Spec: z.object({ Name: z.string().min(1), Labels: z.record(z.string()).optional() }),
});
export type TestService = z.infer<typeof ServiceSchema>;

export const TaskSchema = z.object({
  ...meta,
  ServiceID: z.string(),
  NodeID: z.string().optional(),
  Slot: z.number().int().optional(),
  Payload: z.string().optional(),
});
export type TestTask = z.infer<typeof TaskSchema>;

export const testTables = {
  service: defineTable({ kind: 'service', schema: ServiceSchema, nameOf: (s) => s.Spec.Name }),
  task: defineTable({
    kind: 'task',
    schema: TaskSchema,
    indexes: { serviceID: (t) => t.ServiceID, nodeID: (t) => t.NodeID },
  }),
};
