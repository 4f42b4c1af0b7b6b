// The executor contract the agent drives (SwarmKit's Executor/Controller shape) and the container
// types it speaks in, with Docker's field names. Self-contained: nothing here imports the cluster API.

/** Docker's AuthConfig as carried (base64url JSON) in the X-Registry-Auth header. */
export interface RegistryAuth {
  username?: string;
  password?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
}

/** A mount in a ContainerSpec (Docker's `mount.Mount`). */
export interface MountSpec {
  Type: 'bind' | 'volume' | 'tmpfs';
  /** Host path (bind), volume name (volume; empty = anonymous), unused for tmpfs. */
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
  /** A volume's: no copy of the image's content into it, labels and driver options when it is made. */
  VolumeOptions?: {
    NoCopy?: boolean;
    Labels?: Record<string, string>;
    DriverConfig?: { Name?: string; Options?: Record<string, string> };
  };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

/** Docker's HealthConfig. Durations are nanoseconds; 0 means "use the default". */
export interface HealthConfig {
  /** [] inherit from the image; ["NONE"] disable; ["CMD", args…]; ["CMD-SHELL", command]. */
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  Retries?: number;
  StartPeriod?: number;
}

export interface Ulimit {
  Name: string;
  Soft: number;
  Hard: number;
}

export interface ContainerSpec {
  Image: string;
  /** Replaces the image's Entrypoint when set (SwarmKit's Command). */
  Command?: string[];
  /** Replaces the image's Cmd when set (SwarmKit's Args). */
  Args?: string[];
  Env?: string[];
  Dir?: string;
  User?: string;
  Hostname?: string;
  Labels?: Record<string, string>;
  Mounts?: MountSpec[];
  ReadOnly?: boolean;
  StopSignal?: string;
  /** Nanoseconds; default 10 s as in SwarmKit. */
  StopGracePeriod?: number;
  Healthcheck?: HealthConfig;
  Init?: boolean;
  CapabilityAdd?: string[];
  CapabilityDrop?: string[];
  Sysctls?: Record<string, string>;
  Ulimits?: Ulimit[];
}

export interface ResourceRequirements {
  Limits?: { NanoCPUs?: number; MemoryBytes?: number; Pids?: number };
  Reservations?: { NanoCPUs?: number; MemoryBytes?: number };
}

/** What the image store gives the executor about an image (its config and unpacked layers). */
export interface ImageConfig {
  Env?: string[];
  Cmd?: string[];
  Entrypoint?: string[];
  WorkingDir?: string;
  User?: string;
  Healthcheck?: HealthConfig;
  StopSignal?: string;
  Labels?: Record<string, string>;
}

export interface ResolvedImage {
  /** Content-addressed image ID, e.g. "sha256:…". */
  id: string;
  config: ImageConfig;
  /** Unpacked layer directories, bottom → top. */
  layers: string[];
}

/** The image store as the executor needs it (src/executor/images/ implements it). */
export interface ImageResolver {
  /**
   * Throws NOT_FOUND when the image is not present locally (and cannot be pulled, for a resolver
   * that pulls: with `pull.auth` as the registry credentials).
   */
  resolve(ref: string, pull?: { auth?: RegistryAuth }): Promise<ResolvedImage>;
}

/** What the network side hands a container: its netns and name-service files. */
export interface PreparedNetwork {
  /** A bind-mounted netns path (/run/netns/…); absent → runc makes a fresh netns with only `lo`. */
  netnsPath?: string;
  /** Host files to bind onto /etc/hosts and /etc/resolv.conf; absent → the executor writes defaults. */
  hostsFile?: string;
  resolvConf?: string;
  /** Overrides the container hostname when set (must have no dots, see runtime.md §7). */
  hostname?: string;
  /** Sysctls of the container's netns that the network needs, set by the runtime as the container starts. */
  sysctls?: Record<string, string>;
  /** Addresses for NetworkSettings in `docker inspect`, keyed by network name. */
  networks?: Record<
    string,
    { IPAddress: string; IPPrefixLen: number; MacAddress?: string; NetworkID?: string }
  >;
}

/** The network side as the executor needs it (src/network/ implements it). All calls idempotent. */
export interface NetworkProvider {
  prepareNetwork(containerId: string, task?: ExecutorTask): Promise<PreparedNetwork>;
  releaseNetwork(containerId: string): Promise<void>;
  /**
   * The full set of remote endpoints of an overlay network: each task IP on another node with
   * that node's underlay address. Replaces the previous set. Absent where there are no overlays.
   */
  setNetworkPeers?(networkId: string, peers: readonly { ip: string; nodeAddr: string }[]): Promise<void>;
}

/** A file a task's container gets from the swarm: a secret (under /run/secrets) or a config. */
export interface TaskFile {
  /** Absolute path inside the container. */
  target: string;
  data: Buffer;
  uid: number;
  gid: number;
  mode: number;
}

/** Where a task's secrets and configs come from (the node's copy of what the managers sent it). */
export interface TaskFileProvider {
  /** The task's files, rendered; throws (the task fails) when one is not available on this node. */
  filesFor(task: ExecutorTask): Promise<TaskFile[]>;
}

/** Docker's State.Health. */
export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';
export interface HealthLogEntry {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}
export interface HealthState {
  Status: HealthStatus;
  FailingStreak: number;
  Log: HealthLogEntry[];
}

/** How wait() ends: the process exited, or its health check declared it unhealthy (still running). */
export type ExitStatus =
  | { kind: 'exited'; ExitCode: number; OOMKilled: boolean; Error?: string }
  | { kind: 'unhealthy' };

/** The node as the executor describes it to the manager (SwarmKit NodeDescription, trimmed). */
export interface NodeDescription {
  Hostname: string;
  Platform: { Architecture: string; OS: string };
  Resources: { NanoCPUs: number; MemoryBytes: number };
  Engine: { EngineVersion: string; Labels?: Record<string, string> };
}

/** The parts of a Task the executor reads (aligned with Docker's Task JSON). */
export interface ExecutorTask {
  ID: string;
  ServiceID: string;
  /** Service name (Task.ServiceAnnotations.Name). */
  ServiceName: string;
  /** Service labels (Task.ServiceAnnotations.Labels), for templates. */
  ServiceLabels?: Record<string, string>;
  /** 0 for global services: the container name then uses NodeID. */
  Slot: number;
  NodeID: string;
  Spec: { ContainerSpec: TaskContainerSpec; Resources?: ResourceRequirements };
  /** Docker's Task.NetworksAttachments: the overlays the task joins, with its address on each. */
  NetworksAttachments?: unknown[];
}

/** A task's ContainerSpec: the container's, plus how to pull its image (never kept with the container). */
/** Where a secret or config file goes in the container and who owns it (Docker's file target). */
export interface FileTarget {
  Name: string;
  UID?: string;
  GID?: string;
  Mode?: number;
}

export interface TaskContainerSpec extends ContainerSpec {
  Secrets?: { File?: FileTarget; SecretID: string; SecretName: string }[];
  Configs?: { File?: FileTarget; ConfigID: string; ConfigName: string }[];
  /** SwarmKit's PullOptions: RegistryAuth is the X-Registry-Auth (base64url JSON) of the service. */
  PullOptions?: { RegistryAuth?: string };
}

export interface LogOptions {
  follow?: boolean;
  /** Last N entries only; undefined = all. */
  tail?: number;
  /** Unix seconds (fractional allowed): entries strictly after. */
  since?: number;
  until?: number;
  stdout?: boolean;
  stderr?: boolean;
  /** Ends a follow. */
  signal?: AbortSignal;
}

export interface LogEntry {
  stream: 'stdout' | 'stderr';
  /** RFC3339Nano as written by conmon. */
  time: string;
  /** Nanoseconds since the epoch (for since/until and merging streams). */
  timeNs: bigint;
  /** Line text, including the trailing "\n" of a complete line. */
  line: string;
}

/** ContainerStatus for the task (SwarmKit's ContainerStatus). */
export interface ContainerStatus {
  ContainerID: string;
  PID: number;
  ExitCode: number;
}

/** One task's container, stepped by the agent. Calls are idempotent where SwarmKit's are. */
export interface Controller {
  /** Resolves the image and creates the container (state READY). */
  prepare(): Promise<void>;
  /** Starts the process (state RUNNING). No-op when already started. */
  start(): Promise<void>;
  /** Resolves when the process exits or turns unhealthy. */
  wait(signal?: AbortSignal): Promise<ExitStatus>;
  /** StopSignal, then SIGKILL after StopGracePeriod. */
  shutdown(): Promise<void>;
  /** SIGKILL now. */
  terminate(): Promise<void>;
  /** Removes the container and everything it holds on the host (not named volumes). */
  remove(): Promise<void>;
  status(): Promise<ContainerStatus | undefined>;
  logs(opts: LogOptions): AsyncIterable<LogEntry>;
}

export interface Executor {
  describe(): Promise<NodeDescription>;
  controller(task: ExecutorTask): Controller;
}

/** Name of a task's container: `<service>.<slot|nodeID>.<taskID>` (SwarmKit naming). */
export function taskContainerName(task: ExecutorTask): string {
  return `${task.ServiceName}.${task.Slot === 0 ? task.NodeID : task.Slot}.${task.ID}`;
}

/** Labels a task's container carries (com.docker.swarm.*), plus the spec's own labels. */
export function taskContainerLabels(task: ExecutorTask): Record<string, string> {
  return {
    ...(task.Spec.ContainerSpec.Labels ?? {}),
    'com.docker.swarm.task': '',
    'com.docker.swarm.task.id': task.ID,
    'com.docker.swarm.task.name': taskContainerName(task),
    'com.docker.swarm.node.id': task.NodeID,
    'com.docker.swarm.service.id': task.ServiceID,
    'com.docker.swarm.service.name': task.ServiceName,
  };
}
