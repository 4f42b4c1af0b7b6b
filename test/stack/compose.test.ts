// biome-ignore-all lint/suspicious/noTemplateCurlyInString: compose files use ${VAR} interpolation
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ComposeError, type ComposeProject, loadCompose, parseDotEnv } from '../../src/stack/compose.js';

// The fixtures stay in the source tree: from dist/test/stack, reach back to test/stack.
const FIXTURES = existsSync(join(import.meta.dirname, 'fixtures'))
  ? join(import.meta.dirname, 'fixtures')
  : join(import.meta.dirname, '../../../test/stack/fixtures');

function fixture(name: string): { path: string; text: string } {
  const path = join(FIXTURES, name);
  return { path, text: readFileSync(path, 'utf8') };
}

/** Loads one in-memory file named compose.yml. */
function load(text: string, env: Record<string, string | undefined> = {}): ComposeProject {
  return loadCompose([{ path: 'compose.yml', text }], env);
}

/** The messages of the ComposeError that `fn` throws. */
function errorsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ComposeError, `expected a ComposeError, got ${String(e)}`);
    assert.equal(e.code, 'INVALID_ARGUMENT');
    return e.message.split('\n');
  }
  assert.fail('expected a ComposeError');
}

// ---------------------------------------------------------------------------------------------
// The seed files
// ---------------------------------------------------------------------------------------------

for (const name of [
  'trace-app.yml',
  'seed-003-page-hit-counter-compose.yml',
  'seed-003-page-hit-counter-stack.yml',
  'seed-003-visualizer-portainer.yml',
  'seed-003-webapp-fixed.yml',
]) {
  test(`the seed compose file ${name} loads`, () => {
    const project = loadCompose([fixture(name)], {});
    assert.ok(Object.keys(project.services).length > 0);
    for (const svc of Object.values(project.services)) assert.ok(svc.image);
  });
}

test('the page-hit-counter seed keeps its depends_on, ports and network', () => {
  const project = loadCompose([fixture('seed-003-page-hit-counter-stack.yml')], {});
  assert.deepEqual(Object.keys(project.services), ['redis', 'app']);
  const app = project.services.app;
  assert.deepEqual(app?.depends_on, { redis: { condition: 'service_started' } });
  assert.deepEqual(app?.ports, [{ target: 5000, published: 5000, protocol: 'tcp', mode: 'ingress' }]);
  assert.deepEqual(app?.networks, { 'demo-net': null });
  assert.equal(app?.deploy?.replicas, 2);
  assert.deepEqual(project.networks['demo-net'], { driver: 'overlay', external: false });
});

test('the seed with typos is refused with every mistake at its line, and how to fix it', () => {
  const file = fixture('seed-003-webapp-typos.yml');
  const messages = errorsOf(() => loadCompose([file], {}));
  const at = (line: number, rest: string) => `${file.path}:${line}: ${rest}`;
  assert.deepEqual(messages, [
    at(
      6,
      'services.db.volumes[0]: "data: /var/lib/postgresql/data" has a space after the colon, so YAML read it as a mapping; write "data:/var/lib/postgresql/data" (or the long form with type, source, target)',
    ),
    at(
      10,
      'services.webapp.volumes[0]: "webapp_volumn: /opt/app/static" has a space after the colon, so YAML read it as a mapping; write "webapp_volumn:/opt/app/static" (or the long form with type, source, target)',
    ),
    at(
      21,
      'services.webapp.deploy.replicase: unknown key (did you mean "replicas"?); allowed here: endpoint_mode, labels, mode, placement, replicas, resources, restart_policy, rollback_config, update_config',
    ),
    at(
      33,
      'services.webapp.deploy.reservations: unknown key here: it belongs under "resources" (resources.reservations)',
    ),
    at(
      42,
      'configs.webapp_config: needs "file" (the path of the config\'s content) or "external: true" (a config created beforehand)',
    ),
    at(
      43,
      'configs.file: must be a mapping, got "./webapp_config": is "file:" meant to be indented under the config above it?',
    ),
    at(
      44,
      'configs.external: must be a mapping, got false: is "external:" meant to be indented under the config above it?',
    ),
  ]);
});

test('the fixed webapp seed normalises sizes, CPUs, durations and short syntaxes', () => {
  const project = loadCompose([fixture('seed-003-webapp-fixed.yml')], {});
  const webapp = project.services.webapp;
  assert.deepEqual(webapp?.deploy?.resources, {
    limits: { cpus: 100_000_000, memory: 300 * 1024 * 1024 },
    reservations: { cpus: 10_000_000, memory: 100 * 1024 * 1024 },
  });
  assert.deepEqual(webapp?.deploy?.update_config, { parallelism: 2, delay: 10_000_000_000 });
  assert.deepEqual(webapp?.deploy?.restart_policy, {
    condition: 'on-failure',
    delay: 5_000_000_000,
    max_attempts: 3,
  });
  assert.deepEqual(webapp?.ports, [
    { target: 3000, protocol: 'udp', mode: 'ingress' },
    { target: 8000, published: 8000, protocol: 'tcp', mode: 'ingress' },
  ]);
  assert.deepEqual(webapp?.volumes, [{ type: 'volume', source: 'webapp_volumn', target: '/opt/app/static' }]);
  assert.deepEqual(project.configs.webapp_config, { file: join(FIXTURES, 'webapp_config'), external: false });
  assert.deepEqual(project.volumes.webapp_volumn, { external: false });
});

// ---------------------------------------------------------------------------------------------
// Errors name the file, the line and the key
// ---------------------------------------------------------------------------------------------

test('a value of the wrong type is reported at its line with what was found', () => {
  const text = [
    'version: "3.8"', // 1
    'services:', // 2
    '  web:', // 3
    '    image: nginx', // 4
    '    ports:', // 5
    '      - "80:80"', // 6
    '    environment:', // 7
    '      A: 1', // 8
    '    networks:', // 9
    '      - default', // 10
    '    deploy:', // 11
    '      replicas: two', // 12
  ].join('\n');
  assert.deepEqual(
    errorsOf(() => load(text)),
    ['compose.yml:12: services.web.deploy.replicas: must be a number, got "two"'],
  );
});

test('a YAML syntax error gives the file and line', () => {
  const messages = errorsOf(() => load('services:\n  web:\n    image: [nginx\n  db:\n    image: x\n'));
  assert.match(messages[0] ?? '', /^compose\.yml:\d+: YAML syntax error: /);
  assert.deepEqual(
    errorsOf(() => load('services:\n  web:\n    image: a\n    image: b\n')),
    ['compose.yml:4: YAML syntax error: Map keys must be unique'],
  );
});

test('an unknown key is an error that suggests the key meant and lists the allowed ones', () => {
  const messages = errorsOf(() => load('services:\n  web:\n    image: nginx\n    enviroment:\n      A: b\n'));
  assert.equal(messages.length, 1);
  assert.match(
    messages[0] ?? '',
    /^compose\.yml:4: services\.web\.enviroment: unknown key \(did you mean "environment"\?\); allowed here: .*cap_add.*working_dir$/,
  );
  assert.deepEqual(
    errorsOf(() => load('servics:\n  web:\n    image: nginx\n')),
    [
      'compose.yml:1: servics: unknown key (did you mean "services"?); allowed here: configs, name, networks, secrets, services, version, volumes',
    ],
  );
});

test('depends_on naming an unknown service is an error at that entry', () => {
  const text =
    'services:\n  web:\n    image: nginx\n    depends_on:\n      - db\n      - cache\n  db:\n    image: postgres\n';
  assert.deepEqual(
    errorsOf(() => load(text)),
    [
      'compose.yml:6: services.web.depends_on.cache: unknown service "cache"; services in this project: web, db',
    ],
  );
  const long =
    'services:\n  web:\n    image: nginx\n    depends_on:\n      cache:\n        condition: service_healthy\n';
  assert.deepEqual(
    errorsOf(() => load(long)),
    ['compose.yml:5: services.web.depends_on.cache: unknown service "cache"; services in this project: web'],
  );
});

test('a depends_on cycle is an error naming the cycle', () => {
  const text =
    'services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [c]\n  c:\n    image: x\n    depends_on: [a]\n';
  assert.deepEqual(
    errorsOf(() => load(text)),
    ['compose.yml:10: services.c.depends_on.a: dependency cycle: a -> b -> c -> a'],
  );
});

test('a required variable that is not set is an error naming the variable and the key', () => {
  const text = 'services:\n  web:\n    image: "nginx:${TAG:?set TAG to the release}"\n';
  assert.deepEqual(
    errorsOf(() => load(text)),
    ['compose.yml:3: services.web.image: required variable TAG is missing a value: set TAG to the release'],
  );
  assert.deepEqual(
    errorsOf(() => load('services:\n  web:\n    image: "nginx:${TAG:?}"\n', { TAG: '' })),
    ['compose.yml:3: services.web.image: required variable TAG is missing a value'],
  );
  // `?` only needs the variable to be set.
  assert.equal(
    load('services:\n  web:\n    image: "nginx${TAG?}"\n', { TAG: '' }).services.web?.image,
    'nginx',
  );
});

test('a lone $ is an interpolation error that says to double it', () => {
  assert.deepEqual(
    errorsOf(() => load('services:\n  web:\n    image: x\n    command: echo $ 1\n')),
    [
      'compose.yml:4: services.web.command: invalid interpolation format: "echo $ 1". You may need to escape any $ with another $.',
    ],
  );
});

test("Docker's forbidden keys are refused with its advice; its unsupported ones are warnings", () => {
  assert.deepEqual(
    errorsOf(() => load('services:\n  web:\n    image: x\n    volumes_from: [db]\n')),
    [
      'compose.yml:4: services.web.volumes_from: not allowed in a stack: To share a volume between services, define it using the top-level `volumes` option and reference it from each service that shares it using the service-level `volumes` option.',
    ],
  );
  const project = load(
    'services:\n  web:\n    image: x\n    build: .\n    links: [db]\n    container_name: w\n    privileged: true\n  db:\n    image: y\n    network_mode: host\n',
  );
  assert.deepEqual(project.warnings, [
    'Ignoring unsupported options: build, links, network_mode, privileged',
    'Ignoring deprecated options:\n\ncontainer_name: Setting the container name is not supported.',
  ]);
  assert.equal('build' in (project.services.web ?? {}), false);
});

test('a version other than 3.x is refused', () => {
  assert.deepEqual(
    errorsOf(() => load('version: "2.4"\nservices:\n  web:\n    image: x\n')),
    [
      'compose.yml:1: version: unsupported Compose file version "2.4": stack deploy reads version 3.x files and files without a version',
    ],
  );
  assert.ok(load('version: 3\nservices:\n  web:\n    image: x\n').services.web);
});

test('references to undeclared networks, volumes, secrets and configs are errors at their line', () => {
  const text = [
    'services:',
    '  web:',
    '    image: x',
    '    networks: [front]',
    '    volumes:',
    '      - data:/data',
    '      - /srv:/srv',
    '    secrets:',
    '      - token',
    '    configs:',
    '      - source: conf',
    '        target: /etc/conf',
    'secrets:',
    '  other:',
    '    file: ./other',
  ].join('\n');
  assert.deepEqual(
    errorsOf(() => load(text)),
    [
      'compose.yml:4: services.web.networks.front: network "front" is not declared: add it under the top-level "networks:"',
      'compose.yml:6: services.web.volumes[0]: volume "data" is not declared: add it under the top-level "volumes:"',
      'compose.yml:9: services.web.secrets[0]: secret "token" is not declared: add it under the top-level "secrets:" (declared: other)',
      'compose.yml:11: services.web.configs[0]: config "conf" is not declared: add it under the top-level "configs:"',
    ],
  );
});

test('a service without an image is an error: a stack does not build', () => {
  assert.deepEqual(
    errorsOf(() => load('services:\n  web:\n    build: .\n')),
    [
      'compose.yml:2: services.web: has no image: stack deploy runs images and does not build them ("build" is ignored); add "image:"',
    ],
  );
});

test('global mode with replicas, and healthcheck test with disable, are errors as in Docker', () => {
  assert.deepEqual(
    errorsOf(() =>
      load('services:\n  web:\n    image: x\n    deploy:\n      mode: global\n      replicas: 2\n'),
    ),
    [
      'compose.yml:6: services.web.deploy.replicas: replicas can only be used with replicated or replicated-job mode',
    ],
  );
  assert.deepEqual(
    errorsOf(() =>
      load('services:\n  web:\n    image: x\n    healthcheck:\n      test: curl x\n      disable: true\n'),
    ),
    ["compose.yml:6: services.web.healthcheck.disable: test and disable can't be set at the same time"],
  );
});

test('ingress ports with endpoint_mode dnsrr are refused, as the manager would', () => {
  const text =
    'services:\n  dns:\n    image: x\n    ports: ["53:53/udp"]\n    deploy: {endpoint_mode: dnsrr}\n';
  assert.deepEqual(
    errorsOf(() => load(text)),
    [
      "compose.yml:4: services.dns.ports: ports published in ingress mode can't be used with endpoint_mode dnsrr: publish them with mode: host",
    ],
  );
  const hostMode =
    'services:\n  dns:\n    image: x\n    ports: [{target: 53, published: 53, mode: host}]\n    deploy: {endpoint_mode: dnsrr}\n';
  assert.equal(load(hostMode).services.dns?.deploy?.endpoint_mode, 'dnsrr');
});

test('values of the wrong shape get messages that say what is expected', () => {
  const text = [
    'services:',
    '  web:',
    '    image: x',
    '    stop_grace_period: 10',
    '    ports:',
    '      - "80:80/tcpx"',
    '      - target: 80',
    '        mode: bridge',
    '    healthcheck:',
    '      test: ["curl", "-f", "http://localhost"]',
    '    deploy:',
    '      resources:',
    '        limits:',
    '          memory: lots',
    '      update_config:',
    '        order: random',
  ].join('\n');
  assert.deepEqual(
    errorsOf(() => load(text)),
    [
      'compose.yml:4: services.web.stop_grace_period: must be a duration with a unit, such as "10s" or "1m30s", got 10',
      'compose.yml:6: services.web.ports[0]: invalid protocol "tcpx" in port "80:80/tcpx": use tcp, udp or sctp',
      'compose.yml:8: services.web.ports[1].mode: must be one of "ingress", "host", got "bridge"',
      'compose.yml:10: services.web.healthcheck.test: a list must start with "CMD" (run the command), "CMD-SHELL" (run it in a shell) or "NONE", got "curl"; for example ["CMD", "curl", "-f", "http://localhost"]',
      'compose.yml:14: services.web.deploy.resources.limits.memory: must be a size such as "512M", "1G" or a number of bytes, got "lots"',
      'compose.yml:16: services.web.deploy.update_config.order: must be one of "start-first", "stop-first", got "random"',
    ],
  );
});

test('a missing required key is reported at its mapping', () => {
  assert.deepEqual(
    errorsOf(() => load('services:\n  web:\n    image: x\n    ports:\n      - published: 80\n')),
    ['compose.yml:5: services.web.ports[0].target: is required'],
  );
});

// ---------------------------------------------------------------------------------------------
// Interpolation
// ---------------------------------------------------------------------------------------------

test('variables are interpolated in every string value, with defaults and escapes', () => {
  const text = [
    'services:',
    '  web:',
    '    image: "$REGISTRY/web:${TAG:-latest}"',
    '    command: ["echo", "$$HOME", "${GREETING-hello}", "${EMPTY:-was-empty}", "${EMPTY-kept-empty}"]',
    '    environment:',
    '      - "URL=http://${HOST:-${FALLBACK_HOST}}:8080"',
    '      - "DEBUG=${DEBUG:+yes}"',
    '    deploy:',
    '      replicas: ${REPLICAS}',
  ].join('\n');
  const project = load(text, {
    REGISTRY: 'reg.example',
    EMPTY: '',
    FALLBACK_HOST: 'db',
    REPLICAS: '3',
    DEBUG: '1',
  });
  const web = project.services.web;
  assert.equal(web?.image, 'reg.example/web:latest');
  assert.deepEqual(web?.command, ['echo', '$HOME', 'hello', 'was-empty', '']);
  assert.deepEqual(web?.environment, { URL: 'http://db:8080', DEBUG: 'yes' });
  assert.equal(web?.deploy?.replicas, 3);
  assert.deepEqual(project.warnings, []);
});

test('an unset variable without a default becomes empty, with a warning naming it once', () => {
  const project = load('services:\n  web:\n    image: "nginx${TAG}"\n    hostname: "$TAG"\n');
  assert.equal(project.services.web?.image, 'nginx');
  assert.deepEqual(project.warnings, [
    'The "TAG" variable is not set. Defaulting to a blank string. (compose.yml:3: services.web.image)',
  ]);
});

test('keys are not interpolated and x- extension fields are dropped', () => {
  const project = load(
    'x-common: &common\n  image: "${IMG}"\nservices:\n  web:\n    <<: *common\n    labels:\n      $KEY: v\n',
    {
      IMG: 'nginx',
    },
  );
  assert.equal(project.services.web?.image, 'nginx');
  assert.deepEqual(project.services.web?.labels, { $KEY: 'v' });
});

// ---------------------------------------------------------------------------------------------
// Normalisation of the polymorphic fields
// ---------------------------------------------------------------------------------------------

test('short and long forms come out in one shape', () => {
  const text = `
services:
  web:
    image: x
    command: sh -c 'echo "a b"; sleep 1'
    entrypoint: ["/init"]
    environment: [A=1, B, C=]
    labels: {tier: web, weight: 10}
    ports:
      - 80
      - "127.0.0.1:8443:443"
      - "9000-9001:9000-9001/udp"
      - {target: 53, published: 5353, protocol: udp, mode: host}
    volumes:
      - /var/log
      - ./data:/data:ro
      - cache:/cache:nocopy
      - type: tmpfs
        target: /tmp
        tmpfs: {size: 64m}
    secrets:
      - token
      - {source: cert, target: /etc/cert.pem, uid: 0, gid: "101", mode: 0440}
    networks:
      front:
        aliases: [www]
      back:
    extra_hosts: ["db:10.0.0.2", "cache=10.0.0.3"]
    healthcheck:
      test: curl -f http://localhost
      interval: 1m30s
      retries: 3
    ulimits:
      nofile: {soft: 1024, hard: 2048}
      nproc: 512
    stop_grace_period: 1m
    dns: 8.8.8.8
    tty: "yes"
volumes:
  cache:
secrets:
  token: {file: token.txt}
  cert: {external: true}
networks:
  front:
  back:
`;
  const web = load(text, { B: 'from-env' }).services.web;
  assert.deepEqual(web?.command, ['sh', '-c', 'echo "a b"; sleep 1']);
  assert.deepEqual(web?.entrypoint, ['/init']);
  assert.deepEqual(web?.environment, { A: '1', B: 'from-env', C: '' });
  assert.deepEqual(web?.labels, { tier: 'web', weight: '10' });
  assert.deepEqual(web?.ports, [
    { target: 80, protocol: 'tcp', mode: 'ingress' },
    { target: 443, published: 8443, protocol: 'tcp', mode: 'ingress', host_ip: '127.0.0.1' },
    { target: 9000, published: 9000, protocol: 'udp', mode: 'ingress' },
    { target: 9001, published: 9001, protocol: 'udp', mode: 'ingress' },
    { target: 53, published: 5353, protocol: 'udp', mode: 'host' },
  ]);
  assert.deepEqual(web?.volumes, [
    { type: 'volume', target: '/var/log' },
    { type: 'bind', source: 'data', target: '/data', read_only: true },
    { type: 'volume', source: 'cache', target: '/cache', volume: { nocopy: true } },
    { type: 'tmpfs', target: '/tmp', tmpfs: { size: 64 * 1024 * 1024 } },
  ]);
  assert.deepEqual(web?.secrets, [
    { source: 'token' },
    { source: 'cert', target: '/etc/cert.pem', uid: '0', gid: '101', mode: 0o440 },
  ]);
  assert.deepEqual(web?.networks, { front: { aliases: ['www'] }, back: null });
  assert.deepEqual(web?.extra_hosts, ['db:10.0.0.2', 'cache:10.0.0.3']);
  assert.deepEqual(web?.healthcheck, {
    test: ['CMD-SHELL', 'curl -f http://localhost'],
    interval: 90_000_000_000,
    retries: 3,
  });
  assert.deepEqual(web?.ulimits, { nofile: { soft: 1024, hard: 2048 }, nproc: { soft: 512, hard: 512 } });
  assert.equal(web?.stop_grace_period, 60_000_000_000);
  assert.deepEqual(web?.dns, ['8.8.8.8']);
  assert.equal(web?.tty, true);
});

test('depends_on in map form keeps each condition', () => {
  const text =
    'services:\n  web:\n    image: x\n    depends_on:\n      db: {condition: service_healthy}\n      migrate:\n        condition: service_completed_successfully\n  db:\n    image: y\n  migrate:\n    image: z\n';
  assert.deepEqual(load(text).services.web?.depends_on, {
    db: { condition: 'service_healthy' },
    migrate: { condition: 'service_completed_successfully' },
  });
  assert.deepEqual(
    errorsOf(() =>
      load(
        'services:\n  web:\n    image: x\n    depends_on:\n      web2: {condition: healthy}\n  web2:\n    image: y\n',
      ),
    ),
    [
      'compose.yml:5: services.web.depends_on.web2.condition: must be one of "service_started", "service_healthy", "service_completed_successfully", got "healthy"',
    ],
  );
});

test("relative paths are resolved against the first file's directory; ~ against HOME", () => {
  const project = loadCompose(
    [
      {
        path: '/srv/app/compose.yml',
        text: 'services:\n  web:\n    image: x\n    volumes: ["./www:/www", "~/cache:/cache"]\nsecrets:\n  s: {file: ../s.txt}\n',
      },
      { path: '/srv/app/override/extra.yml', text: 'configs:\n  c: {file: ./c.txt}\n' },
    ],
    { HOME: '/home/me' },
  );
  assert.equal(project.workingDir, '/srv/app');
  assert.deepEqual(
    project.services.web?.volumes?.map((v) => v.source),
    ['/srv/app/www', '/home/me/cache'],
  );
  assert.equal(project.secrets.s?.file, '/srv/s.txt');
  assert.equal(project.configs.c?.file, '/srv/app/c.txt');
});

// ---------------------------------------------------------------------------------------------
// env_file and .env
// ---------------------------------------------------------------------------------------------

test('env_file variables are read through readFile and overridden by environment', () => {
  const files: Record<string, string> = {
    '/app/web.env': '# comment\nA=from-file\nB="quoted stays"\n  C=x\nPASS\nMISSING\n',
    '/app/more.env': 'C=second-file\n',
  };
  const read: string[] = [];
  const project = loadCompose(
    [
      {
        path: '/app/compose.yml',
        text: 'services:\n  web:\n    image: x\n    env_file: [web.env, ./more.env]\n    environment:\n      A: from-compose\n',
      },
    ],
    { PASS: 'through' },
    {
      readFile: (p) => {
        read.push(p);
        const text = files[p];
        if (text === undefined) throw new Error(`ENOENT: no such file or directory, open '${p}'`);
        return Buffer.from(text);
      },
    },
  );
  assert.deepEqual(read, ['/app/web.env', '/app/more.env']);
  assert.deepEqual(project.services.web?.environment, {
    A: 'from-compose',
    B: '"quoted stays"',
    C: 'second-file',
    PASS: 'through',
  });
  assert.deepEqual(project.services.web?.env_file, ['/app/web.env', '/app/more.env']);
});

test('an env_file that cannot be read is an error at the env_file line', () => {
  const text = 'services:\n  web:\n    image: x\n    env_file: missing.env\n';
  assert.deepEqual(
    errorsOf(() =>
      loadCompose(
        [{ path: 'compose.yml', text }],
        {},
        {
          readFile: (p) => {
            throw new Error(`ENOENT: no such file or directory, open '${p}'`);
          },
        },
      ),
    ),
    [
      "compose.yml:4: services.web.env_file[0]: cannot read missing.env: ENOENT: no such file or directory, open 'missing.env'",
    ],
  );
  assert.deepEqual(
    errorsOf(() => load(text)),
    [
      'compose.yml:4: services.web.env_file[0]: cannot read missing.env: loadCompose was called without a readFile callback',
    ],
  );
});

test('parseDotEnv reads compose .env files: comments, export, quotes, inline comments', () => {
  const text = [
    '# settings',
    'TAG=1.2.3',
    'export REGISTRY=reg.example ',
    "SINGLE='keep $literal \\n'",
    'DOUBLE="line1\\nline2 \\"q\\""',
    'MULTI="a',
    'b"',
    'URL=http://x/#frag # trailing comment',
    'EMPTY=',
    '',
  ].join('\n');
  assert.deepEqual(parseDotEnv(text), {
    TAG: '1.2.3',
    REGISTRY: 'reg.example',
    SINGLE: 'keep $literal \\n',
    DOUBLE: 'line1\nline2 "q"',
    MULTI: 'a\nb',
    URL: 'http://x/#frag',
    EMPTY: '',
  });
  assert.deepEqual(
    errorsOf(() => parseDotEnv('A=1\nJUSTNAME\n')),
    ['.env:2: "JUSTNAME" has no "=": write JUSTNAME= for an empty value'],
  );
  assert.deepEqual(
    errorsOf(() => parseDotEnv('1BAD=x', '/srv/.env')),
    ['/srv/.env:1: invalid variable name "1BAD"'],
  );
});

// ---------------------------------------------------------------------------------------------
// Several files
// ---------------------------------------------------------------------------------------------

test("a second file overrides the first: maps key by key, lists by Docker's rules", () => {
  const base = [
    'version: "3.8"',
    'services:',
    '  web:',
    '    image: web:1',
    '    command: ["serve", "--dev"]',
    '    environment: {A: "1", B: "2"}',
    '    labels: [tier=web]',
    '    ports: ["8080:80", "9090:90"]',
    '    volumes: ["data:/data", "/logs:/logs"]',
    '    secrets: [token]',
    '    dns: [1.1.1.1]',
    '    networks: {front: {aliases: [www]}}',
    '    deploy:',
    '      replicas: 1',
    '      labels: {a: "1"}',
    '      placement: {constraints: ["node.role==worker"]}',
    '    logging: {driver: json-file, options: {max-size: 10m}}',
    'volumes: {data: {}}',
    'secrets: {token: {file: ./token}}',
    'networks: {front: {driver: overlay}}',
  ].join('\n');
  const prod = [
    'version: "3.8"',
    'services:',
    '  web:',
    '    image: web:2',
    '    command: serve',
    '    environment: [B=20, C=30]',
    '    ports: ["8080:80", "443:443"]',
    '    volumes: ["/mnt/data:/data"]',
    '    secrets: [{source: token, target: api-token}]',
    '    dns: [8.8.8.8, 1.1.1.1]',
    '    networks: {front: {aliases: [site]}}',
    '    deploy:',
    '      replicas: 3',
    '      labels: {b: "2"}',
    '      placement: {constraints: ["node.labels.ssd==true"]}',
    '    logging: {options: {max-file: "3"}}',
    '  worker:',
    '    image: worker:2',
    'networks: {front: {attachable: true}}',
  ].join('\n');
  const project = loadCompose(
    [
      { path: '/app/compose.yml', text: base },
      { path: '/app/compose.prod.yml', text: prod },
    ],
    {},
  );
  const web = project.services.web;
  assert.equal(web?.image, 'web:2');
  assert.deepEqual(web?.command, ['serve']);
  assert.deepEqual(web?.environment, { A: '1', B: '20', C: '30' });
  assert.deepEqual(web?.labels, { tier: 'web' });
  assert.deepEqual(
    web?.ports?.map((p) => `${p.published}:${p.target}`),
    ['443:443', '8080:80', '9090:90'],
  );
  assert.deepEqual(web?.volumes, [
    { type: 'bind', source: '/mnt/data', target: '/data' },
    { type: 'bind', source: '/logs', target: '/logs' },
  ]);
  assert.deepEqual(web?.secrets, [{ source: 'token', target: 'api-token' }]);
  assert.deepEqual(web?.dns, ['1.1.1.1', '8.8.8.8']);
  assert.deepEqual(web?.networks, { front: { aliases: ['site'] } });
  assert.deepEqual(web?.deploy, {
    replicas: 3,
    labels: { a: '1', b: '2' },
    placement: { constraints: ['node.role==worker', 'node.labels.ssd==true'] },
  });
  assert.deepEqual(web?.logging, { driver: 'json-file', options: { 'max-size': '10m', 'max-file': '3' } });
  assert.deepEqual(Object.keys(project.services), ['web', 'worker']);
  assert.deepEqual(project.networks.front, { driver: 'overlay', external: false, attachable: true });
  // Keys are located in the file that last set them.
  assert.deepEqual(project.locations['services.web.image'], { file: '/app/compose.prod.yml', line: 4 });
  assert.deepEqual(project.locations['services.web.labels'], { file: '/app/compose.yml', line: 7 });
});

test('an error found after merging points into the file that caused it', () => {
  assert.deepEqual(
    errorsOf(() =>
      loadCompose(
        [
          { path: 'a.yml', text: 'services:\n  web:\n    image: x\n' },
          { path: 'b.yml', text: 'services:\n  web:\n    depends_on: [db]\n' },
        ],
        {},
      ),
    ),
    ['b.yml:3: services.web.depends_on.db: unknown service "db"; services in this project: web'],
  );
});
