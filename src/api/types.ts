// Swarm objects with Docker's Engine API field names, as zod schemas (validated at every boundary)
// and the TypeScript types inferred from them. Unknown fields are dropped, as Docker ignores them.
import { z } from 'zod';

/** Integers a float64 holds exactly: Go would reject 1e300 for an int64 field, so do we. */
const int = () => z.number().int().safe();
/** Durations are int64 nanoseconds on the wire, as Docker's. */
const duration = () => z.number().int().safe().nonnegative();
const labels = () => z.record(z.string(), z.string());

export const VersionSchema = z.object({ Index: int().nonnegative() });
export type Version = z.infer<typeof VersionSchema>;

// ---------------------------------------------------------------------------------------------
// Task template
// ---------------------------------------------------------------------------------------------

export const MountSchema = z.object({
  Type: z.enum(['bind', 'volume', 'tmpfs', 'npipe', 'cluster']).default('volume'),
  Source: z.string().optional(),
  Target: z.string().min(1, 'Target must not be empty'),
  ReadOnly: z.boolean().optional(),
  Consistency: z.string().optional(),
  BindOptions: z.object({ Propagation: z.string().optional() }).optional(),
  VolumeOptions: z
    .object({
      NoCopy: z.boolean().optional(),
      Labels: labels().optional(),
      DriverConfig: z.object({ Name: z.string().optional(), Options: labels().optional() }).optional(),
    })
    .optional(),
  TmpfsOptions: z.object({ SizeBytes: int().nonnegative().optional(), Mode: int().optional() }).optional(),
});
export type Mount = z.infer<typeof MountSchema>;

export const HealthConfigSchema = z.object({
  Test: z.array(z.string()).optional(),
  Interval: duration().optional(),
  Timeout: duration().optional(),
  Retries: int().nonnegative().optional(),
  StartPeriod: duration().optional(),
  StartInterval: duration().optional(),
});
export type HealthConfig = z.infer<typeof HealthConfigSchema>;

const FileTargetSchema = z.object({
  Name: z.string(),
  UID: z.string().optional(),
  GID: z.string().optional(),
  Mode: int().optional(),
});

export const SecretReferenceSchema = z.object({
  File: FileTargetSchema.optional(),
  SecretID: z.string(),
  SecretName: z.string(),
});
export const ConfigReferenceSchema = z.object({
  File: FileTargetSchema.optional(),
  Runtime: z.object({}).optional(),
  ConfigID: z.string(),
  ConfigName: z.string(),
});

/** The longest X-Registry-Auth accepted (Node's default limit on all request headers together). */
export const MAX_REGISTRY_AUTH_LENGTH = 16 * 1024;

export const ContainerSpecSchema = z.object({
  Image: z.string().min(1, 'ContainerSpec: image reference must be provided'),
  Labels: labels().optional(),
  Command: z.array(z.string()).optional(),
  Args: z.array(z.string()).optional(),
  Hostname: z.string().optional(),
  Env: z.array(z.string()).optional(),
  Dir: z.string().optional(),
  User: z.string().optional(),
  Groups: z.array(z.string()).optional(),
  Privileges: z.record(z.string(), z.unknown()).optional(),
  Init: z.boolean().nullable().optional(),
  TTY: z.boolean().optional(),
  OpenStdin: z.boolean().optional(),
  ReadOnly: z.boolean().optional(),
  Mounts: z.array(MountSchema).optional(),
  StopSignal: z.string().optional(),
  StopGracePeriod: duration().optional(),
  Healthcheck: HealthConfigSchema.optional(),
  Hosts: z.array(z.string()).optional(),
  DNSConfig: z
    .object({
      Nameservers: z.array(z.string()).optional(),
      Search: z.array(z.string()).optional(),
      Options: z.array(z.string()).optional(),
    })
    .optional(),
  Secrets: z.array(SecretReferenceSchema).optional(),
  Configs: z.array(ConfigReferenceSchema).optional(),
  Isolation: z.string().optional(),
  Sysctls: labels().optional(),
  CapabilityAdd: z.array(z.string()).optional(),
  CapabilityDrop: z.array(z.string()).optional(),
  Ulimits: z.array(z.object({ Name: z.string(), Soft: int(), Hard: int() })).optional(),
  OomScoreAdj: int().optional(),
  /**
   * SwarmKit's PullOptions: the X-Registry-Auth a service was created or updated with, re-encoded
   * (base64url JSON AuthConfig). Stored and carried to the nodes with each task; the Engine API
   * never returns it (engineapi/cluster.ts) and never reads it from a body (controlapi/services.ts).
   */
  PullOptions: z
    .object({
      RegistryAuth: z
        .string()
        .max(MAX_REGISTRY_AUTH_LENGTH)
        .regex(/^[A-Za-z0-9_-]+$/, 'RegistryAuth must be base64url'),
    })
    .optional(),
});
export type ContainerSpec = z.infer<typeof ContainerSpecSchema>;

const ResourceValuesSchema = z.object({
  NanoCPUs: int().nonnegative().optional(),
  MemoryBytes: int().nonnegative().optional(),
  Pids: int().nonnegative().optional(),
  GenericResources: z.array(z.unknown()).optional(),
});

export const ResourceRequirementsSchema = z.object({
  Limits: ResourceValuesSchema.optional(),
  Reservations: ResourceValuesSchema.optional(),
  SwapBytes: int().optional(),
  MemorySwappiness: int().optional(),
});
export type ResourceRequirements = z.infer<typeof ResourceRequirementsSchema>;

export const RestartPolicySchema = z.object({
  Condition: z.enum(['none', 'on-failure', 'any']).optional(),
  Delay: duration().optional(),
  MaxAttempts: int().nonnegative().optional(),
  Window: duration().optional(),
});
export type RestartPolicy = z.infer<typeof RestartPolicySchema>;

export const PlacementSchema = z.object({
  Constraints: z.array(z.string()).optional(),
  Preferences: z.array(z.object({ Spread: z.object({ SpreadDescriptor: z.string() }) })).optional(),
  MaxReplicas: int().nonnegative().optional(),
  Platforms: z.array(z.object({ Architecture: z.string().optional(), OS: z.string().optional() })).optional(),
});
export type Placement = z.infer<typeof PlacementSchema>;

export const NetworkAttachmentConfigSchema = z.object({
  Target: z.string().min(1),
  Aliases: z.array(z.string()).optional(),
  DriverOpts: labels().optional(),
});

export const TaskSpecSchema = z.object({
  ContainerSpec: ContainerSpecSchema.optional(),
  Resources: ResourceRequirementsSchema.optional(),
  RestartPolicy: RestartPolicySchema.optional(),
  Placement: PlacementSchema.optional(),
  Networks: z.array(NetworkAttachmentConfigSchema).optional(),
  // The docker CLI sends a LogDriver without a Name when a compose file sets only logging options.
  LogDriver: z.object({ Name: z.string().default(''), Options: labels().optional() }).optional(),
  ForceUpdate: int().nonnegative().optional(),
  Runtime: z.string().optional(),
});
export type TaskSpec = z.infer<typeof TaskSpecSchema>;

// ---------------------------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------------------------

export const ServiceModeSchema = z.object({
  Replicated: z.object({ Replicas: int().nonnegative().optional() }).optional(),
  Global: z.object({}).optional(),
  ReplicatedJob: z
    .object({
      MaxConcurrent: int().nonnegative().optional(),
      TotalCompletions: int().nonnegative().optional(),
    })
    .optional(),
  GlobalJob: z.object({}).optional(),
});
export type ServiceMode = z.infer<typeof ServiceModeSchema>;

export const UpdateConfigSchema = z.object({
  Parallelism: int().nonnegative().optional(),
  Delay: duration().optional(),
  FailureAction: z.enum(['pause', 'continue', 'rollback']).optional(),
  Monitor: duration().optional(),
  MaxFailureRatio: z.number().min(0).max(1).optional(),
  // `docker stack deploy` sends "" for an update_config without `order`: the default.
  Order: z.preprocess((v) => (v === '' ? undefined : v), z.enum(['stop-first', 'start-first']).optional()),
});
export type UpdateConfig = z.infer<typeof UpdateConfigSchema>;

export const PortConfigSchema = z.object({
  Name: z.string().optional(),
  Protocol: z.enum(['tcp', 'udp', 'sctp']).optional(),
  TargetPort: int().min(0).max(65535).optional(),
  PublishedPort: int().min(0).max(65535).optional(),
  PublishMode: z.enum(['ingress', 'host']).optional(),
});
export type PortConfig = z.infer<typeof PortConfigSchema>;

export const EndpointSpecSchema = z.object({
  Mode: z.enum(['vip', 'dnsrr']).optional(),
  Ports: z.array(PortConfigSchema).optional(),
});
export type EndpointSpec = z.infer<typeof EndpointSpecSchema>;

export const ServiceSpecSchema = z.object({
  Name: z.string().optional(),
  Labels: labels().optional(),
  TaskTemplate: TaskSpecSchema.default({}),
  Mode: ServiceModeSchema.optional(),
  UpdateConfig: UpdateConfigSchema.optional(),
  RollbackConfig: UpdateConfigSchema.optional(),
  Networks: z.array(NetworkAttachmentConfigSchema).optional(),
  EndpointSpec: EndpointSpecSchema.optional(),
});
export type ServiceSpec = z.infer<typeof ServiceSpecSchema>;

export const UpdateStatusSchema = z.object({
  State: z.enum([
    'updating',
    'paused',
    'completed',
    'rollback_started',
    'rollback_paused',
    'rollback_completed',
  ]),
  StartedAt: z.string().optional(),
  CompletedAt: z.string().optional(),
  Message: z.string().optional(),
});
export type UpdateStatus = z.infer<typeof UpdateStatusSchema>;

export const EndpointSchema = z.object({
  Spec: EndpointSpecSchema.optional(),
  Ports: z.array(PortConfigSchema).optional(),
  VirtualIPs: z.array(z.object({ NetworkID: z.string(), Addr: z.string() })).optional(),
});
export type Endpoint = z.infer<typeof EndpointSchema>;

const meta = {
  ID: z.string(),
  Version: VersionSchema,
  CreatedAt: z.string(),
  UpdatedAt: z.string(),
};

/** A secret's or config's spec. In the store `Data` is sealed with the data key (lib/sealed.ts). */
export const PayloadSpecSchema = z.object({
  Name: z.string(),
  Labels: labels().optional(),
  /** The payload, base64 (Docker's wire form); sealed in the store; a secret's is never returned. */
  Data: z.string().optional(),
  Driver: z.object({ Name: z.string(), Options: labels().nullish() }).nullish(),
  Templating: z.object({ Name: z.string(), Options: labels().nullish() }).nullish(),
});
export type PayloadSpec = z.infer<typeof PayloadSpecSchema>;

export const SecretSchema = z.object({ ...meta, Spec: PayloadSpecSchema });
export type Secret = z.infer<typeof SecretSchema>;
export const ConfigSchema = z.object({ ...meta, Spec: PayloadSpecSchema });
export type Config = z.infer<typeof ConfigSchema>;

export const ServiceSchema = z.object({
  ...meta,
  Spec: ServiceSpecSchema,
  PreviousSpec: ServiceSpecSchema.optional(),
  Endpoint: EndpointSchema.optional(),
  UpdateStatus: UpdateStatusSchema.optional(),
  JobStatus: z.object({ JobIteration: VersionSchema, LastExecution: z.string().optional() }).optional(),
  /** Internal: bumped on every spec change so tasks can be matched to the spec they run (`_up-to-date`). */
  SpecVersion: VersionSchema.optional(),
});
export type Service = z.infer<typeof ServiceSchema>;

// ---------------------------------------------------------------------------------------------
// Task
// ---------------------------------------------------------------------------------------------

/** Task states in lifecycle order (SwarmKit api/types.proto); comparisons use this order. */
export const TASK_STATES = [
  'new',
  'pending',
  'assigned',
  'accepted',
  'preparing',
  'ready',
  'starting',
  'running',
  'complete',
  'shutdown',
  'failed',
  'rejected',
  'remove',
  'orphaned',
] as const;
export type TaskState = (typeof TASK_STATES)[number];
export const TaskStateSchema = z.enum(TASK_STATES);

export function taskStateIndex(s: TaskState): number {
  return TASK_STATES.indexOf(s);
}

export const TaskStatusSchema = z.object({
  Timestamp: z.string(),
  State: TaskStateSchema,
  Message: z.string().default(''),
  Err: z.string().optional(),
  ContainerStatus: z
    .object({ ContainerID: z.string().optional(), PID: int().optional(), ExitCode: int().optional() })
    .optional(),
  PortStatus: z.object({ Ports: z.array(PortConfigSchema).optional() }).optional(),
});
export type TaskStatus = z.infer<typeof TaskStatusSchema>;

/** Docker's Task.NetworksAttachments entry: the network as it was when the task got its address on it. */
export const NetworkAttachmentSchema = z.object({
  Network: z.object({
    ID: z.string(),
    Spec: z.object({
      Name: z.string(),
      Labels: labels(),
      Ingress: z.boolean().optional(),
      Internal: z.boolean().optional(),
    }),
    DriverState: z.object({ Name: z.string(), Options: labels() }),
    IPAMOptions: z.object({
      Driver: z.object({ Name: z.string() }),
      Configs: z.array(z.object({ Subnet: z.string(), Gateway: z.string() })),
    }),
  }),
  Addresses: z.array(z.string()),
});
export type NetworkAttachment = z.infer<typeof NetworkAttachmentSchema>;

export const TaskSchema = z.object({
  ...meta,
  Name: z.string().optional(),
  Labels: labels().optional(),
  Spec: TaskSpecSchema,
  ServiceID: z.string(),
  Slot: int().nonnegative().optional(),
  NodeID: z.string().optional(),
  Status: TaskStatusSchema,
  DesiredState: TaskStateSchema,
  NetworksAttachments: z.array(NetworkAttachmentSchema).optional(),
  GenericResources: z.array(z.unknown()).optional(),
  JobIteration: VersionSchema.optional(),
  /** Internal: the service's SpecVersion this task was created from. */
  SpecVersion: VersionSchema.optional(),
  /** Internal: service name and labels, for container names and label filters. */
  ServiceAnnotations: z.object({ Name: z.string(), Labels: labels().optional() }).optional(),
  Endpoint: EndpointSchema.optional(),
});
export type Task = z.infer<typeof TaskSchema>;

// ---------------------------------------------------------------------------------------------
// Node
// ---------------------------------------------------------------------------------------------

export const NodeSpecSchema = z.object({
  Name: z.string().optional(),
  Labels: labels().optional(),
  Role: z.enum(['worker', 'manager']),
  Availability: z.enum(['active', 'pause', 'drain']),
});
export type NodeSpec = z.infer<typeof NodeSpecSchema>;

/** Docker's TLSInfo: a trust root (PEM) and a certificate issuer's subject and public key (base64 DER). */
export const TLSInfoSchema = z.object({
  TrustRoot: z.string(),
  CertIssuerSubject: z.string(),
  CertIssuerPublicKey: z.string(),
});
export type TLSInfo = z.infer<typeof TLSInfoSchema>;

export const NodeDescriptionSchema = z.object({
  Hostname: z.string(),
  Platform: z.object({ Architecture: z.string(), OS: z.string() }),
  Resources: z.object({ NanoCPUs: int(), MemoryBytes: int() }),
  Engine: z.object({
    EngineVersion: z.string(),
    Labels: labels().optional(),
    Plugins: z.array(z.object({ Type: z.string(), Name: z.string() })).optional(),
  }),
  TLSInfo: TLSInfoSchema.optional(),
});
export type NodeDescription = z.infer<typeof NodeDescriptionSchema>;

export const NodeSchema = z.object({
  ...meta,
  Spec: NodeSpecSchema,
  Description: NodeDescriptionSchema.optional(),
  /** Ours (SwarmKit's node attachment): the node's address on the ingress network, for the mesh. */
  IngressAddress: z.string().optional(),
  Status: z.object({
    State: z.enum(['unknown', 'down', 'ready', 'disconnected']),
    Message: z.string().optional(),
    Addr: z.string().optional(),
  }),
  ManagerStatus: z
    .object({
      Leader: z.boolean().optional(),
      Reachability: z.enum(['unknown', 'unreachable', 'reachable']),
      Addr: z.string(),
    })
    .optional(),
});
export type Node = z.infer<typeof NodeSchema>;

// ---------------------------------------------------------------------------------------------
// Cluster (the "swarm" object)
// ---------------------------------------------------------------------------------------------

export const SwarmSpecSchema = z.object({
  Name: z.string().optional(),
  Labels: labels().optional(),
  Orchestration: z.object({ TaskHistoryRetentionLimit: int().nonnegative().optional() }).optional(),
  Raft: z
    .object({
      SnapshotInterval: int().nonnegative().optional(),
      KeepOldSnapshots: int().nonnegative().optional(),
      LogEntriesForSlowFollowers: int().nonnegative().optional(),
      ElectionTick: int().nonnegative().optional(),
      HeartbeatTick: int().nonnegative().optional(),
    })
    .optional(),
  Dispatcher: z.object({ HeartbeatPeriod: duration().optional() }).optional(),
  CAConfig: z
    .object({
      NodeCertExpiry: duration().optional(),
      ExternalCAs: z.array(z.unknown()).optional(),
      SigningCACert: z.string().optional(),
      SigningCAKey: z.string().optional(),
      ForceRotate: int().nonnegative().optional(),
    })
    .optional(),
  TaskDefaults: z.object({ LogDriver: z.object({ Name: z.string() }).optional() }).optional(),
  EncryptionConfig: z.object({ AutoLockManagers: z.boolean().optional() }).optional(),
});
export type SwarmSpec = z.infer<typeof SwarmSpecSchema>;

export const ClusterSchema = z.object({
  ...meta,
  Spec: SwarmSpecSchema,
  TLSInfo: TLSInfoSchema,
  RootRotationInProgress: z.boolean(),
  /** Ours, not on the wire: the root being rotated to and its cross-signed copy (keys are sealed apart). */
  RootRotation: z.object({ CACert: z.string(), CrossSignedCACert: z.string() }).optional(),
  /** Ours, never on the wire: the unlock key (autolock on) sealed with the cluster's data key. */
  UnlockKeySealed: z.string().optional(),
  DefaultAddrPool: z.array(z.string()),
  SubnetSize: int(),
  DataPathPort: int(),
  JoinTokens: z.object({ Worker: z.string(), Manager: z.string() }),
  // Ours, not Docker's (the CLI echoes Spec back whole, so they cannot live there): a join token stops
  // admitting nodes JoinTokenTTL (ns; 0 or absent: never) after it was made. A token without an
  // issue time (made before TTLs existed) never expires until rotated.
  JoinTokenTTL: duration().optional(),
  JoinTokensIssuedAt: z
    .object({ Worker: z.string().datetime().optional(), Manager: z.string().datetime().optional() })
    .optional(),
});
export type Cluster = z.infer<typeof ClusterSchema>;

// ---------------------------------------------------------------------------------------------
// Network (swarm-scoped)
// ---------------------------------------------------------------------------------------------

/** Docker's driver option carrying an overlay network's VXLAN IDs, one per subnet ("4097"). */
export const VXLANID_LIST_OPTION = 'com.docker.network.driver.overlay.vxlanid_list';
/** Docker's option for an overlay network's MTU (`--opt com.docker.network.driver.mtu=1400`). */
export const MTU_OPTION = 'com.docker.network.driver.mtu';

export const IPAMConfigSchema = z.object({
  Subnet: z.string(),
  IPRange: z.string().optional(),
  Gateway: z.string().optional(),
});
export type IPAMConfig = z.infer<typeof IPAMConfigSchema>;

/**
 * A swarm network as the Engine API shows it (`GET /networks/{id}` on a manager: Docker's
 * NetworkResource), stored with our Meta fields: on the wire ID is `Id`, CreatedAt is `Created`,
 * and Version/UpdatedAt are ours (engineapi/networks.ts maps them). Options hold the driver state,
 * VXLAN IDs included, as Docker shows them.
 */
export const NetworkSchema = z.object({
  ...meta,
  Name: z.string(),
  Scope: z.literal('swarm'),
  Driver: z.string(),
  EnableIPv6: z.boolean(),
  IPAM: z.object({
    Driver: z.string(),
    Options: labels(),
    Config: z.array(IPAMConfigSchema),
  }),
  Internal: z.boolean(),
  Attachable: z.boolean(),
  Ingress: z.boolean(),
  ConfigFrom: z.object({ Network: z.string() }),
  ConfigOnly: z.boolean(),
  Options: labels(),
  Labels: labels(),
});
export type Network = z.infer<typeof NetworkSchema>;

/** The body of `POST /networks/create` (Docker's NetworkCreateRequest; `CheckDuplicate` is implied). */
export const NetworkCreateRequestSchema = z.object({
  Name: z.string().optional(),
  CheckDuplicate: z.boolean().optional(),
  Driver: z.string().optional(),
  Scope: z.string().optional(),
  EnableIPv6: z.boolean().optional(),
  IPAM: z
    .object({
      Driver: z.string().optional(),
      Options: labels().optional(),
      Config: z
        .array(IPAMConfigSchema.extend({ AuxiliaryAddresses: labels().optional() }).partial())
        .optional(),
    })
    .optional(),
  Internal: z.boolean().optional(),
  Attachable: z.boolean().optional(),
  Ingress: z.boolean().optional(),
  ConfigOnly: z.boolean().optional(),
  ConfigFrom: z.object({ Network: z.string().optional() }).optional(),
  Options: labels().optional(),
  Labels: labels().optional(),
});
export type NetworkCreateRequest = z.infer<typeof NetworkCreateRequestSchema>;

// ---------------------------------------------------------------------------------------------
// Validation helper
// ---------------------------------------------------------------------------------------------

/** Formats a zod error as Docker-like text naming the field: "Mode.Replicated.Replicas: …". */
export function describeZodError(err: z.ZodError): string {
  return err.issues
    .slice(0, 3)
    .map((i) => {
      const where = i.path.join('.');
      if (i.code === 'invalid_type') {
        return `${where || 'body'}: expected ${i.expected}, got ${i.received}`;
      }
      return where ? `${where}: ${i.message}` : i.message;
    })
    .join('; ');
}
