// The Engine API objects swarmctl reads, as zod schemas that check only the fields the CLI uses
// and pass every other field through untouched (a service spec is posted back whole on update,
// so nothing the daemon sent may be lost).

import { z } from 'zod';

const version = z.object({ Index: z.number() }).passthrough();
const labels = z.record(z.string()).nullish();

export const PortConfigSchema = z
  .object({
    Name: z.string().optional(),
    Protocol: z.string().optional(),
    TargetPort: z.number().optional(),
    PublishedPort: z.number().optional(),
    PublishMode: z.string().optional(),
  })
  .passthrough();
export type PortConfig = z.infer<typeof PortConfigSchema>;

const jsonObject = z.record(z.unknown());

export const ServiceSpecSchema = z
  .object({
    Name: z.string().optional(),
    Labels: labels,
    TaskTemplate: jsonObject.optional(),
    Mode: jsonObject.optional(),
    UpdateConfig: jsonObject.nullish(),
    RollbackConfig: jsonObject.nullish(),
    EndpointSpec: jsonObject.nullish(),
  })
  .passthrough();
export type ServiceSpec = z.infer<typeof ServiceSpecSchema>;

export const ServiceSchema = z
  .object({
    ID: z.string(),
    Version: version,
    CreatedAt: z.string().optional(),
    UpdatedAt: z.string().optional(),
    Spec: ServiceSpecSchema,
    PreviousSpec: ServiceSpecSchema.nullish(),
    Endpoint: z
      .object({ Ports: z.array(PortConfigSchema).nullish(), VirtualIPs: z.array(jsonObject).nullish() })
      .passthrough()
      .nullish(),
    UpdateStatus: z
      .object({ State: z.string().optional(), Message: z.string().optional() })
      .passthrough()
      .nullish(),
    ServiceStatus: z
      .object({ RunningTasks: z.number(), DesiredTasks: z.number(), CompletedTasks: z.number().optional() })
      .passthrough()
      .nullish(),
    JobStatus: jsonObject.nullish(),
  })
  .passthrough();
export type Service = z.infer<typeof ServiceSchema>;

export const TaskSchema = z
  .object({
    ID: z.string(),
    Version: version.optional(),
    CreatedAt: z.string().optional(),
    UpdatedAt: z.string().optional(),
    Spec: z
      .object({ ContainerSpec: z.object({ Image: z.string().optional() }).passthrough().nullish() })
      .passthrough()
      .optional(),
    ServiceID: z.string(),
    Slot: z.number().optional(),
    NodeID: z.string().optional(),
    Status: z
      .object({
        Timestamp: z.string().optional(),
        State: z.string(),
        Message: z.string().optional(),
        Err: z.string().optional(),
        PortStatus: z
          .object({ Ports: z.array(PortConfigSchema).nullish() })
          .passthrough()
          .nullish(),
        ContainerStatus: z.object({ ContainerID: z.string().optional() }).passthrough().nullish(),
      })
      .passthrough(),
    DesiredState: z.string(),
  })
  .passthrough();
export type Task = z.infer<typeof TaskSchema>;

export const NodeSchema = z
  .object({
    ID: z.string(),
    Version: version,
    CreatedAt: z.string().optional(),
    UpdatedAt: z.string().optional(),
    Spec: z
      .object({
        Name: z.string().optional(),
        Labels: labels,
        Role: z.string().default(''),
        Availability: z.string().default(''),
      })
      .passthrough(),
    Description: z
      .object({
        Hostname: z.string().optional(),
        Platform: z
          .object({ Architecture: z.string().optional(), OS: z.string().optional() })
          .passthrough()
          .nullish(),
        Resources: z
          .object({ NanoCPUs: z.number().optional(), MemoryBytes: z.number().optional() })
          .passthrough()
          .nullish(),
        Engine: z
          .object({
            EngineVersion: z.string().optional(),
            Labels: labels,
            Plugins: z.array(z.object({ Type: z.string(), Name: z.string() }).passthrough()).nullish(),
          })
          .passthrough()
          .nullish(),
        TLSInfo: z
          .object({
            TrustRoot: z.string().optional(),
            CertIssuerSubject: z.string().optional(),
            CertIssuerPublicKey: z.string().optional(),
          })
          .passthrough()
          .nullish(),
      })
      .passthrough()
      .optional(),
    Status: z
      .object({ State: z.string(), Message: z.string().optional(), Addr: z.string().optional() })
      .passthrough(),
    ManagerStatus: z
      .object({
        Leader: z.boolean().optional(),
        Reachability: z.string().default('unknown'),
        Addr: z.string().optional(),
      })
      .passthrough()
      .nullish(),
  })
  .passthrough();
export type Node = z.infer<typeof NodeSchema>;

export const SwarmSpecSchema = z
  .object({
    Name: z.string().optional(),
    Labels: labels,
    Orchestration: z.object({ TaskHistoryRetentionLimit: z.number().nullish() }).passthrough().nullish(),
    Raft: jsonObject.nullish(),
    Dispatcher: z.object({ HeartbeatPeriod: z.number().optional() }).passthrough().nullish(),
    CAConfig: z.object({ NodeCertExpiry: z.number().optional() }).passthrough().nullish(),
    TaskDefaults: jsonObject.nullish(),
    EncryptionConfig: z.object({ AutoLockManagers: z.boolean().optional() }).passthrough().nullish(),
  })
  .passthrough();
export type SwarmSpec = z.infer<typeof SwarmSpecSchema>;

export const SwarmSchema = z
  .object({
    ID: z.string(),
    Version: version,
    Spec: SwarmSpecSchema,
    JoinTokens: z.object({ Worker: z.string(), Manager: z.string() }).passthrough(),
  })
  .passthrough();
export type Swarm = z.infer<typeof SwarmSchema>;

export const InfoSchema = z
  .object({
    ID: z.string().optional(),
    Name: z.string().optional(),
    Swarm: z
      .object({
        NodeID: z.string().optional(),
        NodeAddr: z.string().optional(),
        LocalNodeState: z.string().optional(),
        ControlAvailable: z.boolean().optional(),
        Error: z.string().optional(),
        RemoteManagers: z.array(z.object({ NodeID: z.string(), Addr: z.string() }).passthrough()).nullish(),
        Nodes: z.number().optional(),
        Managers: z.number().optional(),
        Cluster: z
          .object({
            ID: z.string().optional(),
            Spec: SwarmSpecSchema.optional(),
            RootRotationInProgress: z.boolean().optional(),
            DefaultAddrPool: z.array(z.string()).nullish(),
            SubnetSize: z.number().optional(),
            DataPathPort: z.number().optional(),
          })
          .passthrough()
          .nullish(),
      })
      .passthrough()
      .optional(),
  })
  .passthrough();
export type Info = z.infer<typeof InfoSchema>;

export const ImageSummarySchema = z
  .object({
    Id: z.string(),
    RepoTags: z.array(z.string()).nullish(),
    RepoDigests: z.array(z.string()).nullish(),
    Created: z.number(),
    Size: z.number(),
  })
  .passthrough();
export type ImageSummary = z.infer<typeof ImageSummarySchema>;

export const IdResponseSchema = z.object({ ID: z.string(), Warning: z.string().optional() }).passthrough();
export const UpdateResponseSchema = z.object({ Warnings: z.array(z.string()).nullish() }).passthrough();
export const NetworkSchema = z.object({ Id: z.string(), Name: z.string() }).passthrough();
export const NamedObjectSchema = z.object({
  ID: z.string(),
  Spec: z.object({ Name: z.string() }).passthrough(),
});
