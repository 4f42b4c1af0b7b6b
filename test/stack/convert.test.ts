import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SwarmError } from '../../src/api/errors.js';
import { NetworkCreateRequestSchema, PayloadSpecSchema, ServiceSpecSchema } from '../../src/api/types.js';
import { stripNulls, validateServiceSpec } from '../../src/api/validate.js';
import { ComposeError, loadCompose } from '../../src/stack/compose.js';
import { type StackObjects, stackObjects } from '../../src/stack/convert.js';

// The fixtures stay in the source tree: from dist/test/stack, reach back to test/stack.
const FIXTURES = existsSync(join(import.meta.dirname, 'fixtures'))
  ? join(import.meta.dirname, 'fixtures')
  : join(import.meta.dirname, '../../../test/stack/fixtures');

function fromFixture(name: string, stack = 'app'): StackObjects {
  const path = join(FIXTURES, name);
  const project = loadCompose([{ path, text: readFileSync(path, 'utf8') }], {});
  return stackObjects(stack, project, { readFile: (p) => readFileSync(p) });
}

/** Converts an in-memory compose file; `files` are what readFile returns, by path. */
function convert(text: string, files: Record<string, string> = {}, stack = 'app'): StackObjects {
  const project = loadCompose([{ path: '/app/compose.yml', text }], {});
  return stackObjects(stack, project, {
    readFile: (p) => {
      const data = files[p];
      if (data === undefined) throw new Error(`ENOENT: no such file or directory, open '${p}'`);
      return Buffer.from(data);
    },
  });
}

function service(objects: StackObjects, name: string) {
  const found = objects.services.find((s) => s.name === name);
  assert.ok(found, `no service ${name}`);
  return found;
}

/** Every object passes the Engine API's own schemas and checks, as the daemon would read them. */
function assertAcceptedByTheApi(objects: StackObjects): void {
  for (const s of objects.services) {
    ServiceSpecSchema.parse(s.spec);
    validateServiceSpec(JSON.parse(JSON.stringify(s.spec)));
  }
  for (const n of objects.networks) if (n.create) NetworkCreateRequestSchema.parse(stripNulls(n.create));
  for (const p of [...objects.secrets, ...objects.configs]) if (p.create) PayloadSpecSchema.parse(p.create);
}

// ---------------------------------------------------------------------------------------------
// The docker CLI's own requests (docker-cli-api-trace.md, `docker stack deploy -c compose.yml app`)
// ---------------------------------------------------------------------------------------------

const DOCKER_SERVICE_CREATE =
  '{"Name":"app_web","Labels":{"com.docker.stack.image":"bb:1","com.docker.stack.namespace":"app"},"TaskTemplate":{"ContainerSpec":{"Image":"bb:1","Labels":{"com.docker.stack.namespace":"app"},"Args":["httpd","-f","-p","80"],"Privileges":{"CredentialSpec":null,"SELinuxContext":null},"Secrets":[{"File":{"Name":"s2","UID":"0","GID":"0","Mode":292},"SecretID":"<id>","SecretName":"app_s2"}]},"Resources":{},"Placement":{},"Networks":[{"Target":"app_front","Aliases":["web"]}],"ForceUpdate":0},"Mode":{"Replicated":{"Replicas":2}},"EndpointSpec":{"Ports":[{"Protocol":"tcp","TargetPort":80,"PublishedPort":8082,"PublishMode":"ingress"}]}}';
const DOCKER_NETWORK_CREATE =
  '{"CheckDuplicate":false,"Driver":"overlay","Scope":"","EnableIPv6":false,"IPAM":null,"Internal":false,"Attachable":false,"Ingress":false,"ConfigOnly":false,"ConfigFrom":null,"Options":null,"Labels":{"com.docker.stack.namespace":"app"},"Name":"app_front"}';
const DOCKER_SECRET_CREATE =
  '{"Name":"app_s2","Labels":{"com.docker.stack.namespace":"app"},"Data":"c3RhY2stc2VjcmV0"}';

test('the web service spec is the docker CLI 20.10 body, field for field and in its order', () => {
  const web = service(fromFixture('trace-app.yml'), 'app_web');
  // The CLI sends the secret's ID, looked up after creating it; the caller fills it in.
  assert.equal(JSON.stringify(web.spec), DOCKER_SERVICE_CREATE.replace('"<id>"', '""'));
  assert.deepEqual(web.dependsOn, []);
});

test('the network and secret create bodies are the docker CLI 20.10 bodies', () => {
  const objects = fromFixture('trace-app.yml');
  assert.deepEqual(
    objects.networks.map((n) => ({ name: n.name, external: n.external, body: JSON.stringify(n.create) })),
    [{ name: 'app_front', external: false, body: DOCKER_NETWORK_CREATE }],
  );
  assert.deepEqual(
    objects.secrets.map((s) => ({ name: s.name, external: s.external, body: JSON.stringify(s.create) })),
    [{ name: 'app_s2', external: false, body: DOCKER_SECRET_CREATE }],
  );
  assert.deepEqual(objects.configs, []);
  assert.deepEqual(objects.warnings, []);
});

// ---------------------------------------------------------------------------------------------
// Every seed converts into objects the API accepts
// ---------------------------------------------------------------------------------------------

for (const name of [
  'trace-app.yml',
  'seed-003-page-hit-counter-compose.yml',
  'seed-003-page-hit-counter-stack.yml',
  'seed-003-visualizer-portainer.yml',
  'seed-003-webapp-fixed.yml',
]) {
  test(`the seed ${name} converts into objects the Engine API accepts`, () => {
    assertAcceptedByTheApi(fromFixture(name));
  });
}

test('the page-hit-counter seed: services in dependency order, one network, no default network', () => {
  const objects = fromFixture('seed-003-page-hit-counter-stack.yml');
  assert.deepEqual(
    objects.services.map((s) => [s.name, s.dependsOn]),
    [
      ['app_redis', []],
      ['app_app', [{ service: 'app_redis', condition: 'service_started' }]],
    ],
  );
  assert.deepEqual(
    objects.networks.map((n) => n.name),
    ['app_demo-net'],
  );
  assert.deepEqual(service(objects, 'app_app').spec.Mode, { Replicated: { Replicas: 2 } });
  // No count in the file: Docker sends none, and the manager reads that as 1.
  assert.deepEqual(service(objects, 'app_redis').spec.Mode, { Replicated: {} });
});

test('services that list no network share STACK_default, created only because they use it', () => {
  const objects = fromFixture('seed-003-visualizer-portainer.yml', 'ui');
  assert.deepEqual(
    objects.networks.map((n) => n.name),
    ['ui_default'],
  );
  const viz = service(objects, 'ui_visualizer').spec;
  assert.deepEqual(viz.TaskTemplate.Networks, [{ Target: 'ui_default', Aliases: ['visualizer'] }]);
  assert.deepEqual(viz.TaskTemplate.ContainerSpec?.Mounts, [
    { Type: 'bind', Source: '/var/run/docker.sock', Target: '/var/run/docker.sock' },
  ]);
  assert.deepEqual(viz.TaskTemplate.Placement, { Constraints: ['node.role == manager'] });
});

test('the fixed webapp seed: named volumes, config and secret refs, resources, and a bridge warning', () => {
  const objects = fromFixture('seed-003-webapp-fixed.yml');
  assert.deepEqual(objects.warnings, [
    'network webapp_network uses driver "bridge": services of a stack can only attach to swarm-scoped networks such as "overlay"',
  ]);
  const spec = service(objects, 'app_webapp').spec;
  assert.deepEqual(spec.TaskTemplate.ContainerSpec?.Mounts, [
    {
      Type: 'volume',
      Source: 'app_webapp_volumn',
      Target: '/opt/app/static',
      VolumeOptions: { Labels: { 'com.docker.stack.namespace': 'app' } },
    },
  ]);
  assert.deepEqual(spec.TaskTemplate.ContainerSpec?.Configs, [
    {
      File: { Name: 'webapp_config', UID: '0', GID: '0', Mode: 0o444 },
      ConfigID: '',
      ConfigName: 'app_webapp_config',
    },
  ]);
  assert.deepEqual(spec.TaskTemplate.Resources, {
    Limits: { NanoCPUs: 100_000_000, MemoryBytes: 314_572_800 },
    Reservations: { NanoCPUs: 10_000_000, MemoryBytes: 104_857_600 },
  });
  assert.deepEqual(spec.TaskTemplate.RestartPolicy, {
    Condition: 'on-failure',
    Delay: 5_000_000_000,
    MaxAttempts: 3,
  });
  assert.deepEqual(spec.UpdateConfig, { Parallelism: 2, Delay: 10_000_000_000, MaxFailureRatio: 0 });
  assert.deepEqual(spec.EndpointSpec, {
    Ports: [
      { Protocol: 'udp', TargetPort: 3000, PublishMode: 'ingress' },
      { Protocol: 'tcp', TargetPort: 8000, PublishedPort: 8000, PublishMode: 'ingress' },
    ],
  });
  const db = service(objects, 'app_db').spec;
  assert.deepEqual(db.TaskTemplate.ContainerSpec?.Mounts, [
    {
      Type: 'volume',
      Source: 'app_data',
      Target: '/var/lib/postgresql/data',
      VolumeOptions: { Labels: { 'com.docker.stack.namespace': 'app' }, DriverConfig: { Name: 'local' } },
    },
  ]);
  assert.deepEqual(
    objects.configs.map((c) => [c.name, c.create?.Data]),
    [['app_webapp_config', Buffer.from('listen=8000\n').toString('base64')]],
  );
});

// ---------------------------------------------------------------------------------------------
// A service using every supported key
// ---------------------------------------------------------------------------------------------

const FULL = `
version: "3.9"
services:
  api:
    image: registry.example/api:2.1
    entrypoint: /entry.sh
    command: ["serve", "--port", "8080"]
    hostname: api-host
    user: "1000:1000"
    working_dir: /srv
    environment:
      ZED: last
      ALPHA: first
      FROM_ENV:
    labels: {com.example.role: api}
    ports:
      - "80:8080"
      - target: 9090
        published: 9090
        protocol: udp
        mode: host
    networks:
      back:
        aliases: [api-internal]
      public:
    volumes:
      - data:/var/lib/api
      - shared:/shared:ro
      - /etc/ssl/certs:/certs:ro
      - type: tmpfs
        target: /tmp
        tmpfs: {size: 10M}
      - /anonymous
    secrets:
      - db_password
      - source: tls_key
        target: /run/tls/key.pem
        uid: "999"
        gid: "999"
        mode: 0400
    configs:
      - source: api_conf
        target: /etc/api.conf
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:8080/health"]
      interval: 30s
      timeout: 5s
      retries: 3
      start_period: 1m
    stop_grace_period: 45s
    stop_signal: SIGINT
    logging:
      driver: json-file
      options: {max-size: 10m, max-file: 3}
    extra_hosts: ["db.local:10.0.0.5"]
    dns: [10.0.0.2]
    dns_search: example.internal
    tty: true
    stdin_open: true
    read_only: true
    init: true
    cap_add: [net_admin, CAP_SYS_TIME]
    cap_drop: [ALL]
    sysctls: {net.core.somaxconn: 1024}
    ulimits:
      nofile: {soft: 20000, hard: 40000}
      nproc: 65535
    depends_on:
      db:
        condition: service_healthy
    deploy:
      mode: replicated
      replicas: 3
      endpoint_mode: VIP
      labels: {com.example.tier: backend}
      placement:
        constraints: [node.role == worker]
        preferences:
          - spread: node.labels.zone
        max_replicas_per_node: 2
      resources:
        limits: {cpus: "1.5", memory: 512M, pids: 100}
        reservations: {cpus: 0.25, memory: 128M}
      restart_policy:
        condition: on-failure
        delay: 10s
        max_attempts: 5
        window: 2m
      update_config:
        parallelism: 2
        delay: 5s
        failure_action: rollback
        monitor: 30s
        max_failure_ratio: 0.2
        order: start-first
      rollback_config:
        parallelism: 0
        order: stop-first
  db:
    image: postgres:16
    restart: on-failure:4
    deploy:
      mode: global
networks:
  back:
    driver: overlay
    attachable: true
    internal: true
    driver_opts: {encrypted: "true"}
    ipam:
      config:
        - subnet: 10.20.0.0/24
    labels: {com.example.net: back}
  public:
    external: true
    name: edge
  unused:
volumes:
  data:
    driver: local
    driver_opts: {type: nfs, device: ":/exports/api"}
    labels: {backup: daily}
  shared:
    external: true
secrets:
  db_password:
    file: ./secrets/db_password
    labels: {rotated: "2026"}
  tls_key:
    external: true
    name: tls-key-v3
configs:
  api_conf:
    name: api-conf-v7
    file: ./api.conf
    template_driver: golang
`;

const FULL_FILES = {
  '/app/secrets/db_password': 'pw',
  '/app/api.conf': 'port={{ env "PORT" }}',
};

test('a service using every supported key converts as docker stack deploy would', () => {
  const objects = convert(FULL, FULL_FILES);
  assertAcceptedByTheApi(objects);
  const api = service(objects, 'app_api');
  assert.deepEqual(api.dependsOn, [{ service: 'app_db', condition: 'service_healthy' }]);
  assert.deepEqual(api.spec, {
    Name: 'app_api',
    Labels: {
      'com.docker.stack.image': 'registry.example/api:2.1',
      'com.docker.stack.namespace': 'app',
      'com.example.tier': 'backend',
    },
    TaskTemplate: {
      ContainerSpec: {
        Image: 'registry.example/api:2.1',
        Labels: { 'com.docker.stack.namespace': 'app', 'com.example.role': 'api' },
        Command: ['/entry.sh'],
        Args: ['serve', '--port', '8080'],
        Hostname: 'api-host',
        Env: ['ALPHA=first', 'FROM_ENV', 'ZED=last'],
        Dir: '/srv',
        User: '1000:1000',
        Privileges: { CredentialSpec: null, SELinuxContext: null },
        Init: true,
        StopSignal: 'SIGINT',
        TTY: true,
        OpenStdin: true,
        ReadOnly: true,
        Mounts: [
          {
            Type: 'volume',
            Source: 'app_data',
            Target: '/var/lib/api',
            VolumeOptions: {
              Labels: { backup: 'daily', 'com.docker.stack.namespace': 'app' },
              DriverConfig: { Name: 'local', Options: { device: ':/exports/api', type: 'nfs' } },
            },
          },
          { Type: 'volume', Source: 'shared', Target: '/shared', ReadOnly: true, VolumeOptions: {} },
          { Type: 'bind', Source: '/etc/ssl/certs', Target: '/certs', ReadOnly: true },
          { Type: 'tmpfs', Target: '/tmp', TmpfsOptions: { SizeBytes: 10 * 1024 * 1024 } },
          { Type: 'volume', Target: '/anonymous' },
        ],
        StopGracePeriod: 45_000_000_000,
        Healthcheck: {
          Test: ['CMD', 'curl', '-f', 'http://localhost:8080/health'],
          Interval: 30_000_000_000,
          Timeout: 5_000_000_000,
          StartPeriod: 60_000_000_000,
          Retries: 3,
        },
        Hosts: ['10.0.0.5 db.local'],
        DNSConfig: { Nameservers: ['10.0.0.2'], Search: ['example.internal'] },
        Secrets: [
          {
            File: { Name: 'db_password', UID: '0', GID: '0', Mode: 0o444 },
            SecretID: '',
            SecretName: 'app_db_password',
          },
          {
            File: { Name: '/run/tls/key.pem', UID: '999', GID: '999', Mode: 0o400 },
            SecretID: '',
            SecretName: 'tls-key-v3',
          },
        ],
        Configs: [
          {
            File: { Name: '/etc/api.conf', UID: '0', GID: '0', Mode: 0o444 },
            ConfigID: '',
            ConfigName: 'api-conf-v7',
          },
        ],
        Sysctls: { 'net.core.somaxconn': '1024' },
        CapabilityAdd: ['CAP_NET_ADMIN', 'CAP_SYS_TIME'],
        CapabilityDrop: ['ALL'],
        Ulimits: [
          { Name: 'nofile', Hard: 40000, Soft: 20000 },
          { Name: 'nproc', Hard: 65535, Soft: 65535 },
        ],
      },
      Resources: {
        Limits: { NanoCPUs: 1_500_000_000, MemoryBytes: 512 * 1024 * 1024, Pids: 100 },
        Reservations: { NanoCPUs: 250_000_000, MemoryBytes: 128 * 1024 * 1024 },
      },
      RestartPolicy: {
        Condition: 'on-failure',
        Delay: 10_000_000_000,
        MaxAttempts: 5,
        Window: 120_000_000_000,
      },
      Placement: {
        Constraints: ['node.role == worker'],
        Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }],
        MaxReplicas: 2,
      },
      Networks: [
        { Target: 'app_back', Aliases: ['api-internal', 'api'] },
        { Target: 'edge', Aliases: ['api'] },
      ],
      LogDriver: { Name: 'json-file', Options: { 'max-file': '3', 'max-size': '10m' } },
      ForceUpdate: 0,
    },
    Mode: { Replicated: { Replicas: 3 } },
    UpdateConfig: {
      Parallelism: 2,
      Delay: 5_000_000_000,
      FailureAction: 'rollback',
      Monitor: 30_000_000_000,
      MaxFailureRatio: 0.2,
      Order: 'start-first',
    },
    RollbackConfig: { Parallelism: 0, MaxFailureRatio: 0, Order: 'stop-first' },
    EndpointSpec: {
      Mode: 'vip',
      Ports: [
        { Protocol: 'tcp', TargetPort: 8080, PublishedPort: 80, PublishMode: 'ingress' },
        { Protocol: 'udp', TargetPort: 9090, PublishedPort: 9090, PublishMode: 'host' },
      ],
    },
  });
});

test('networks: only used ones, declared settings, external ones by their own name', () => {
  const objects = convert(FULL, FULL_FILES);
  assert.deepEqual(objects.networks, [
    {
      name: 'app_back',
      external: false,
      create: {
        CheckDuplicate: false,
        Driver: 'overlay',
        Scope: '',
        EnableIPv6: false,
        IPAM: { Driver: '', Config: [{ Subnet: '10.20.0.0/24' }] },
        Internal: true,
        Attachable: true,
        Ingress: false,
        ConfigOnly: false,
        ConfigFrom: null,
        Options: { encrypted: 'true' },
        Labels: { 'com.docker.stack.namespace': 'app', 'com.example.net': 'back' },
        Name: 'app_back',
      },
    },
    { name: 'app_default', external: false, create: objects.networks[1]?.create },
    { name: 'edge', external: true },
  ]);
  assert.equal(objects.networks[1]?.create?.Driver, 'overlay');
  assert.deepEqual(service(objects, 'app_db').spec.TaskTemplate.Networks, [
    { Target: 'app_default', Aliases: ['db'] },
  ]);
});

test('secrets and configs: stack-scoped unless named or external, with their content and templating', () => {
  const objects = convert(FULL, FULL_FILES);
  assert.deepEqual(objects.secrets, [
    {
      name: 'app_db_password',
      external: false,
      create: {
        Name: 'app_db_password',
        Labels: { 'com.docker.stack.namespace': 'app', rotated: '2026' },
        Data: Buffer.from('pw').toString('base64'),
      },
    },
    { name: 'tls-key-v3', external: true },
  ]);
  assert.deepEqual(objects.configs, [
    {
      name: 'api-conf-v7',
      external: false,
      create: {
        Name: 'api-conf-v7',
        Labels: { 'com.docker.stack.namespace': 'app' },
        Data: Buffer.from('port={{ env "PORT" }}').toString('base64'),
        Templating: { Name: 'golang' },
      },
    },
  ]);
});

test('a global service, and the container-style restart key as the fallback restart policy', () => {
  const db = service(convert(FULL, FULL_FILES), 'app_db');
  assert.deepEqual(db.spec.Mode, { Global: {} });
  assert.deepEqual(db.spec.TaskTemplate.RestartPolicy, { Condition: 'on-failure', MaxAttempts: 4 });
  assert.deepEqual(convert(FULL, FULL_FILES).warnings, ['Ignoring unsupported options: restart']);
});

test('dependencies come before their dependents whatever the names', () => {
  const objects = convert(
    'services:\n  a:\n    image: x\n    depends_on: [c]\n  b:\n    image: x\n  c:\n    image: x\n    depends_on: {b: {condition: service_completed_successfully}}\n',
  );
  assert.deepEqual(
    objects.services.map((s) => s.name),
    ['app_b', 'app_c', 'app_a'],
  );
  assert.deepEqual(service(objects, 'app_c').dependsOn, [
    { service: 'app_b', condition: 'service_completed_successfully' },
  ]);
});

test('jobs: replicated-job sends the count as both concurrency and completions', () => {
  const objects = convert(
    'services:\n  migrate:\n    image: x\n    deploy: {mode: replicated-job, replicas: 2}\n  sweep:\n    image: x\n    deploy: {mode: global-job}\n',
  );
  assert.deepEqual(service(objects, 'app_migrate').spec.Mode, {
    ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 2 },
  });
  assert.deepEqual(service(objects, 'app_sweep').spec.Mode, { GlobalJob: {} });
});

test("a host IP in a port is dropped with Docker's warning", () => {
  const objects = convert('services:\n  web:\n    image: x\n    ports: ["127.0.0.1:8080:80"]\n');
  assert.deepEqual(objects.warnings, [
    "ignoring IP-address (127.0.0.1:8080:80/tcp) service will listen on '0.0.0.0'",
  ]);
  assert.deepEqual(service(objects, 'app_web').spec.EndpointSpec, {
    Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }],
  });
});

test('a secret file that cannot be read is an error at its file key', () => {
  assert.throws(
    () => convert('services:\n  web:\n    image: x\nsecrets:\n  token:\n    file: ./token.txt\n'),
    (e: unknown) =>
      e instanceof ComposeError &&
      e.message ===
        "/app/compose.yml:6: secrets.token.file: cannot read /app/token.txt: ENOENT: no such file or directory, open '/app/token.txt'",
  );
});

test('a stack name that cannot prefix a service name is refused before anything is created', () => {
  assert.throws(
    () => convert('services:\n  web:\n    image: x\n', {}, 'my.app'),
    (e: unknown) =>
      e instanceof SwarmError &&
      e.httpStatus === 400 &&
      e.message.startsWith(
        'stack "my.app" cannot hold service "web": "my.app_web" is not a valid service name',
      ),
  );
  assert.throws(() => convert('services:\n  web:\n    image: x\n', {}, '  '), /invalid stack name: " {2}"/);
});
