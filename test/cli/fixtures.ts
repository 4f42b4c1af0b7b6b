// Engine API documents recorded from Docker 20.10.24 (docker-cli-api-trace.md appendix and
// docker-cli-outputs.md `node inspect self`), used as fixtures for the formatter tests.

export const serviceWebUpdating = {
  ID: 't1mdmph27kpniy9bi3oskqncd',
  Version: {
    Index: 2742,
  },
  CreatedAt: '2026-11-23T07:57:57.795939461Z',
  UpdatedAt: '2026-11-23T07:58:21.185902098Z',
  Spec: {
    Name: 'web',
    Labels: {},
    TaskTemplate: {
      ContainerSpec: {
        Image: 'bb:1',
        Args: ['httpd', '-f', '-p', '80'],
        Env: ['X=1'],
        Init: false,
        DNSConfig: {},
        Isolation: 'default',
      },
      Resources: {
        Limits: {},
        Reservations: {},
      },
      Placement: {},
      ForceUpdate: 0,
      Runtime: 'container',
    },
    Mode: {
      Replicated: {
        Replicas: 3,
      },
    },
    UpdateConfig: {
      Parallelism: 1,
      Delay: 1000000000,
      FailureAction: 'pause',
      Monitor: 5000000000,
      MaxFailureRatio: 0,
      Order: 'stop-first',
    },
    EndpointSpec: {
      Mode: 'vip',
      Ports: [
        {
          Protocol: 'tcp',
          TargetPort: 80,
          PublishedPort: 8081,
          PublishMode: 'ingress',
        },
      ],
    },
  },
  PreviousSpec: {
    Name: 'web',
    Labels: {},
    TaskTemplate: {
      ContainerSpec: {
        Image: 'bb:1',
        Args: ['httpd', '-f', '-p', '80'],
        Init: false,
        DNSConfig: {},
        Isolation: 'default',
      },
      Resources: {
        Limits: {},
        Reservations: {},
      },
      Placement: {},
      ForceUpdate: 0,
      Runtime: 'container',
    },
    Mode: {
      Replicated: {
        Replicas: 3,
      },
    },
    EndpointSpec: {
      Mode: 'vip',
      Ports: [
        {
          Protocol: 'tcp',
          TargetPort: 80,
          PublishedPort: 8081,
          PublishMode: 'ingress',
        },
      ],
    },
  },
  Endpoint: {
    Spec: {
      Mode: 'vip',
      Ports: [
        {
          Protocol: 'tcp',
          TargetPort: 80,
          PublishedPort: 8081,
          PublishMode: 'ingress',
        },
      ],
    },
    Ports: [
      {
        Protocol: 'tcp',
        TargetPort: 80,
        PublishedPort: 8081,
        PublishMode: 'ingress',
      },
    ],
    VirtualIPs: [
      {
        NetworkID: 'yuocgjmuu9b65oo870yxhnrqp',
        Addr: '10.0.0.17/24',
      },
    ],
  },
  UpdateStatus: {
    State: 'updating',
    StartedAt: '2026-11-23T07:58:21.185893995Z',
    Message: 'update in progress',
  },
};

export const serviceLsItem = {
  ID: 't1mdmph27kpniy9bi3oskqncd',
  Version: {
    Index: 2726,
  },
  CreatedAt: '2026-11-23T07:57:57.795939461Z',
  UpdatedAt: '2026-11-23T07:57:57.796919322Z',
  Spec: {
    Name: 'web',
    Labels: {},
    TaskTemplate: {
      ContainerSpec: {
        Image: 'bb:1',
        Args: ['httpd', '-f', '-p', '80'],
        Init: false,
        DNSConfig: {},
        Isolation: 'default',
      },
      Resources: {
        Limits: {},
        Reservations: {},
      },
      Placement: {},
      ForceUpdate: 0,
      Runtime: 'container',
    },
    Mode: {
      Replicated: {
        Replicas: 2,
      },
    },
    EndpointSpec: {
      Mode: 'vip',
      Ports: [
        {
          Protocol: 'tcp',
          TargetPort: 80,
          PublishedPort: 8081,
          PublishMode: 'ingress',
        },
      ],
    },
  },
  Endpoint: {
    Spec: {
      Mode: 'vip',
      Ports: [
        {
          Protocol: 'tcp',
          TargetPort: 80,
          PublishedPort: 8081,
          PublishMode: 'ingress',
        },
      ],
    },
    Ports: [
      {
        Protocol: 'tcp',
        TargetPort: 80,
        PublishedPort: 8081,
        PublishMode: 'ingress',
      },
    ],
    VirtualIPs: [
      {
        NetworkID: 'yuocgjmuu9b65oo870yxhnrqp',
        Addr: '10.0.0.17/24',
      },
    ],
  },
  ServiceStatus: {
    RunningTasks: 2,
    DesiredTasks: 2,
    CompletedTasks: 0,
  },
};

export const taskRunning = {
  ID: 'mckiwzyv3pocihveionhfrxzj',
  Version: {
    Index: 2731,
  },
  CreatedAt: '2026-11-23T07:57:57.796593597Z',
  UpdatedAt: '2026-11-23T07:57:58.699753629Z',
  Labels: {},
  Spec: {
    ContainerSpec: {
      Image: 'bb:1',
      Args: ['httpd', '-f', '-p', '80'],
      Init: false,
      DNSConfig: {},
      Isolation: 'default',
    },
    Resources: {
      Limits: {},
      Reservations: {},
    },
    Placement: {},
    ForceUpdate: 0,
  },
  ServiceID: 't1mdmph27kpniy9bi3oskqncd',
  Slot: 1,
  NodeID: 'esllzp6ulhjbq2vgojw97rby5',
  Status: {
    Timestamp: '2026-11-23T07:57:58.631474872Z',
    State: 'running',
    Message: 'started',
    ContainerStatus: {
      ContainerID: '965a0ebb8bdff4dd8cbeb4f8be73aeb91efd056d2841f4f106aab3be7b3f89ea',
      PID: 30440,
      ExitCode: 0,
    },
    PortStatus: {},
  },
  DesiredState: 'running',
  NetworksAttachments: [
    {
      Network: {
        ID: 'yuocgjmuu9b65oo870yxhnrqp',
        Version: {
          Index: 6,
        },
        CreatedAt: '2026-11-23T07:22:36.823815845Z',
        UpdatedAt: '2026-11-23T07:22:36.836416039Z',
        Spec: {
          Name: 'ingress',
          Labels: {},
          DriverConfiguration: {},
          Ingress: true,
          IPAMOptions: {
            Driver: {},
          },
          Scope: 'swarm',
        },
        DriverState: {
          Name: 'overlay',
          Options: {
            'com.docker.network.driver.overlay.vxlanid_list': '4096',
          },
        },
        IPAMOptions: {
          Driver: {
            Name: 'default',
          },
          Configs: [
            {
              Subnet: '10.0.0.0/24',
              Gateway: '10.0.0.1',
            },
          ],
        },
      },
      Addresses: ['10.0.0.18/24'],
    },
  ],
};

export const taskUnschedulable = {
  ID: '92anmv296v3ulqaxbuhgsa86h',
  Version: {
    Index: 2809,
  },
  CreatedAt: '2026-11-23T08:00:16.392440266Z',
  UpdatedAt: '2026-11-23T08:00:16.444690226Z',
  Labels: {},
  Spec: {
    ContainerSpec: {
      Image: 'bb:1',
      Init: false,
      DNSConfig: {},
      Isolation: 'default',
    },
    Resources: {
      Limits: {},
      Reservations: {},
    },
    Placement: {
      Constraints: ['node.role==bogus'],
    },
    ForceUpdate: 0,
  },
  ServiceID: 'z1n0pbb1fmab1f5uc5a4b3he1',
  Slot: 1,
  Status: {
    Timestamp: '2026-11-23T08:00:16.444612971Z',
    State: 'pending',
    Message: 'pending task scheduling',
    Err: 'no suitable node (scheduling constraints not satisfied on 1 node)',
    PortStatus: {},
  },
  DesiredState: 'running',
};

export const taskNoImage = {
  ID: '4fnskr4qj7pozc69qztc69but',
  Version: {
    Index: 2831,
  },
  CreatedAt: '2026-11-23T08:00:39.071738807Z',
  UpdatedAt: '2026-11-23T08:00:39.322728194Z',
  Labels: {},
  Spec: {
    ContainerSpec: {
      Image: 'nosuchimage:1',
      Args: ['sleep', '3600'],
      Init: false,
      DNSConfig: {},
      Isolation: 'default',
    },
    Resources: {
      Limits: {},
      Reservations: {},
    },
    Placement: {},
    ForceUpdate: 0,
  },
  ServiceID: 'yziewwad74fmmget4cvh0yvez',
  Slot: 1,
  NodeID: 'esllzp6ulhjbq2vgojw97rby5',
  Status: {
    Timestamp: '2026-11-23T08:00:39.231111639Z',
    State: 'rejected',
    Message: 'preparing',
    Err: 'No such image: nosuchimage:1',
    ContainerStatus: {
      ContainerID: '',
      PID: 0,
      ExitCode: 0,
    },
    PortStatus: {},
  },
  DesiredState: 'ready',
};

export const swarm = {
  ID: '7qd8eb52sltyncsgq8f4ypz3d',
  Version: {
    Index: 843,
  },
  CreatedAt: '2026-11-23T07:22:36.823767893Z',
  UpdatedAt: '2026-11-23T07:38:34.059354207Z',
  Spec: {
    Name: 'default',
    Labels: {},
    Orchestration: {
      TaskHistoryRetentionLimit: 5,
    },
    Raft: {
      SnapshotInterval: 10000,
      KeepOldSnapshots: 0,
      LogEntriesForSlowFollowers: 500,
      ElectionTick: 10,
      HeartbeatTick: 1,
    },
    Dispatcher: {
      HeartbeatPeriod: 5000000000,
    },
    CAConfig: {
      NodeCertExpiry: 7776000000000000,
    },
    TaskDefaults: {},
    EncryptionConfig: {
      AutoLockManagers: false,
    },
  },
  TLSInfo: {
    TrustRoot:
      '-----BEGIN CERTIFICATE-----\nMIIBajCCARCgAwIBAgIUP7kIsbW1vMAMhHh9WLrnkjD7j2gwCgYIKoZIzj0EAwIw\nEzERMA8\u2026',
    CertIssuerSubject: 'MBMxETAPBgNVBAMTCHN3YXJtLWNh',
    CertIssuerPublicKey:
      'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEMve0YgDheY0EFw8nl0OOMBWOokBloNc/+34dCQcN6j7FyKVyQHDVWS7c1Pm8y20o\u2026',
  },
  RootRotationInProgress: false,
  DefaultAddrPool: ['10.0.0.0/8'],
  SubnetSize: 24,
  DataPathPort: 4789,
  JoinTokens: {
    Worker: 'SWMTKN-1-<50 chars: CA digest>-<25 chars: secret>',
    Manager: 'SWMTKN-1-<50 chars: CA digest>-<25 chars: secret>',
  },
};

export const nodeSelf = {
  ID: 'esllzp6ulhjbq2vgojw97rby5',
  Version: {
    Index: 838,
  },
  CreatedAt: '2026-11-23T07:22:36.823788474Z',
  UpdatedAt: '2026-11-23T07:38:17.409396529Z',
  Spec: {
    Labels: {},
    Role: 'manager',
    Availability: 'active',
  },
  Description: {
    Hostname: 'vm',
    Platform: {
      Architecture: 'x86_64',
      OS: 'linux',
    },
    Resources: {
      NanoCPUs: 2000000000,
      MemoryBytes: 25276502016,
    },
    Engine: {
      EngineVersion: '20.10.24+dfsg1',
      Plugins: [
        {
          Type: 'Log',
          Name: 'awslogs',
        },
        {
          Type: 'Log',
          Name: 'fluentd',
        },
        {
          Type: 'Log',
          Name: 'gcplogs',
        },
        {
          Type: 'Log',
          Name: 'gelf',
        },
        {
          Type: 'Log',
          Name: 'journald',
        },
        {
          Type: 'Log',
          Name: 'json-file',
        },
        {
          Type: 'Log',
          Name: 'local',
        },
        {
          Type: 'Log',
          Name: 'logentries',
        },
        {
          Type: 'Log',
          Name: 'splunk',
        },
        {
          Type: 'Log',
          Name: 'syslog',
        },
        {
          Type: 'Network',
          Name: 'bridge',
        },
        {
          Type: 'Network',
          Name: 'host',
        },
        {
          Type: 'Network',
          Name: 'ipvlan',
        },
        {
          Type: 'Network',
          Name: 'macvlan',
        },
        {
          Type: 'Network',
          Name: 'null',
        },
        {
          Type: 'Network',
          Name: 'overlay',
        },
        {
          Type: 'Volume',
          Name: 'local',
        },
      ],
    },
    TLSInfo: {
      TrustRoot:
        '-----BEGIN CERTIFICATE-----\nMIIBajCCARCgAwIBAgIUP7kIsbW1vMAMhHh9WLrnkjD7j2gwCgYIKoZIzj0EAwIw\nEzERMA8GA1UEAxMIc3dhcm0tY2EwHhcNMjYxMTIzMDcxODAwWhcNNDYxMTE4MDcx\nODAwWjATMREwDwYDVQQDEwhzd2FybS1jYTBZMBMGByqGSM49AgEGCCqGSM49AwEH\nA0IABDL3tGIA4XmNBBcPJ5dDjjAVjqJAZaDXP/t+HQkHDeo+xcilckBw1Vku3NT5\nvMttKBER1+I8NY0D4onin8UP8XujQjBAMA4GA1UdDwEB/wQEAwIBBjAPBgNVHRMB\nAf8EBTADAQH/MB0GA1UdDgQWBBRfFzzEbUsFeEbht8qowTsdDxm/wjAKBggqhkjO\nPQQDAgNIADBFAiBtNeMdpJ3Wd31ZyIv5bI+kJa8bQ9OZTjeSJhn+LwYxaAIhAMxd\nMiQ0YBSJ4S/s10Q8iEx4n3roVDM4dOY4yJm9arQk\n-----END CERTIFICATE-----\n',
      CertIssuerSubject: 'MBMxETAPBgNVBAMTCHN3YXJtLWNh',
      CertIssuerPublicKey:
        'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEMve0YgDheY0EFw8nl0OOMBWOokBloNc/+34dCQcN6j7FyKVyQHDVWS7c1Pm8y20oERHX4jw1jQPiieKfxQ/xew==',
    },
  },
  Status: {
    State: 'ready',
    Addr: '127.0.0.1',
  },
  ManagerStatus: {
    Leader: true,
    Reachability: 'reachable',
    Addr: '127.0.0.1:2377',
  },
};
