// The per-container record persisted as <bundle>/meta.json: the source of truth after a swarmd
// restart. Validated with zod on every read; written atomically (temp file + rename).
import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import type { ContainerSpec, HealthConfig, ResourceRequirements } from '../types.js';

const healthConfigSchema: z.ZodType<HealthConfig> = z.object({
  Test: z.array(z.string()).optional(),
  Interval: z.number().optional(),
  Timeout: z.number().optional(),
  Retries: z.number().optional(),
  StartPeriod: z.number().optional(),
});

export const containerSpecSchema: z.ZodType<ContainerSpec> = z.object({
  Image: z.string().min(1),
  Command: z.array(z.string()).optional(),
  Args: z.array(z.string()).optional(),
  Env: z.array(z.string()).optional(),
  Dir: z.string().optional(),
  User: z.string().optional(),
  Hostname: z.string().optional(),
  Labels: z.record(z.string()).optional(),
  Mounts: z
    .array(
      z.object({
        Type: z.enum(['bind', 'volume', 'tmpfs']),
        Source: z.string().optional(),
        Target: z.string().min(1),
        ReadOnly: z.boolean().optional(),
        VolumeOptions: z
          .object({
            NoCopy: z.boolean().optional(),
            Labels: z.record(z.string()).optional(),
            DriverConfig: z
              .object({ Name: z.string().optional(), Options: z.record(z.string()).optional() })
              .optional(),
          })
          .optional(),
        TmpfsOptions: z.object({ SizeBytes: z.number().optional(), Mode: z.number().optional() }).optional(),
      }),
    )
    .optional(),
  ReadOnly: z.boolean().optional(),
  StopSignal: z.string().optional(),
  StopGracePeriod: z.number().optional(),
  Healthcheck: healthConfigSchema.optional(),
  Init: z.boolean().optional(),
  CapabilityAdd: z.array(z.string()).optional(),
  CapabilityDrop: z.array(z.string()).optional(),
  Sysctls: z.record(z.string()).optional(),
  Ulimits: z.array(z.object({ Name: z.string(), Soft: z.number(), Hard: z.number() })).optional(),
});

export const resourcesSchema: z.ZodType<ResourceRequirements> = z.object({
  Limits: z
    .object({
      NanoCPUs: z.number().optional(),
      MemoryBytes: z.number().optional(),
      Pids: z.number().optional(),
    })
    .optional(),
  Reservations: z.object({ NanoCPUs: z.number().optional(), MemoryBytes: z.number().optional() }).optional(),
});

export const containerStatusSchema = z.enum(['created', 'running', 'exited', 'dead']);
export type ContainerRunState = z.infer<typeof containerStatusSchema>;

const recordSchema = z.object({
  Id: z.string().regex(/^[0-9a-f]{64}$/),
  Name: z.string(),
  RuncId: z.string(),
  Created: z.string(),
  Image: z.string(),
  ImageID: z.string(),
  TaskID: z.string().optional(),
  Spec: containerSpecSchema,
  Resources: resourcesSchema.optional(),
  Labels: z.record(z.string()),
  Hostname: z.string(),
  /** The argv PID 1 runs (after Entrypoint/Cmd merge and Init). */
  Path: z.string(),
  Args: z.array(z.string()),
  Env: z.array(z.string()),
  WorkingDir: z.string(),
  User: z.string(),
  /** "uid:gid" PID 1 runs as (resolved at create; `runc exec` inherits it). */
  ProcessUser: z.string(),
  StopSignal: z.string(),
  Healthcheck: healthConfigSchema.optional(),
  Mounts: z.array(
    z.object({
      Type: z.enum(['bind', 'volume', 'tmpfs']),
      Name: z.string().optional(),
      /** A volume made for this container alone (no name given): it goes with the container. */
      Anonymous: z.boolean().optional(),
      Source: z.string(),
      Destination: z.string(),
      RW: z.boolean(),
    }),
  ),
  Network: z
    .object({
      netnsPath: z.string().optional(),
      networks: z
        .record(
          z.object({
            IPAddress: z.string(),
            IPPrefixLen: z.number(),
            MacAddress: z.string().optional(),
            NetworkID: z.string().optional(),
          }),
        )
        .optional(),
    })
    .optional(),
  State: z.object({
    Status: containerStatusSchema,
    Pid: z.number(),
    ExitCode: z.number(),
    OOMKilled: z.boolean(),
    Error: z.string(),
    StartedAt: z.string(),
    FinishedAt: z.string(),
  }),
});

export type ContainerRecord = z.infer<typeof recordSchema>;

/** Docker's zero time, used for StartedAt/FinishedAt before the event. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

export async function readRecord(path: string): Promise<ContainerRecord> {
  return recordSchema.parse(JSON.parse(await readFile(path, 'utf8')));
}

/** Temp file + rename: a crash leaves either the old or the new record, never half of one. */
export async function writeRecord(path: string, rec: ContainerRecord): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, JSON.stringify(rec, null, 1));
  await rename(tmp, path);
}
