// Config and secret payload templates (Docker's `golang` driver), rendered per task.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { renderTemplate, type TemplateContext, TemplateError } from '../../src/agent/templating.js';

function taskContext(overrides: Partial<TemplateContext> = {}): TemplateContext {
  return {
    service: { id: 'svc1', name: 'web', labels: { tier: 'front', 'com.example.env': 'prod' } },
    node: { id: 'node1', hostname: 'worker-1', os: 'linux', architecture: 'x86_64' },
    task: { id: 'task1', name: 'web.2.task1', slot: 2 },
    env: ['DB_HOST=db.local', 'EMPTY=', 'OPTS=a=b'],
    secrets: { db_password: 's3cret' },
    configs: { 'base.conf': 'listen 80;' },
    ...overrides,
  };
}

const render = (source: string, ctx = taskContext()) => renderTemplate(source, ctx).data;

/** Asserts a TemplateError whose message matches and that points at the given line. */
function assertTemplateError(source: string, message: RegExp, line: number): void {
  assert.throws(
    () => render(source),
    (err) => err instanceof TemplateError && message.test(err.message) && err.line === line,
  );
}

test('each task renders its own service name and slot', () => {
  const source = '{{.Service.Name}}-{{.Task.Slot}}';
  assert.equal(render(source), 'web-2');
  assert.equal(render(source, taskContext({ task: { id: 't', name: 'web.5.t', slot: 5 } })), 'web-5');
});

test("a global service's task (slot 0) sees the node ID as its slot, as SwarmKit does", () => {
  assert.equal(
    render('{{.Task.Slot}}', taskContext({ task: { id: 't', name: 'g.node1.t', slot: 0 } })),
    'node1',
  );
});

test('node, task and service fields print as they are', () => {
  assert.equal(render('{{.Node.Hostname}} {{.Node.ID}}'), 'worker-1 node1');
  assert.equal(render('{{.Node.Platform.OS}}/{{.Node.Platform.Architecture}}'), 'linux/x86_64');
  assert.equal(render('{{.Task.ID}} {{.Task.Name}} {{.Service.ID}}'), 'task1 web.2.task1 svc1');
});

test('env reads the container environment, and an unset variable is empty', () => {
  assert.equal(render('host={{env "DB_HOST"}}'), 'host=db.local');
  assert.equal(render('[{{env "NOPE"}}][{{env "EMPTY"}}]'), '[][]');
  assert.equal(render('{{env "OPTS"}}'), 'a=b');
});

test('secret and config read payloads the task references, by target', () => {
  assert.equal(render('password={{secret "db_password"}}'), 'password=s3cret');
  assert.equal(render('{{config "base.conf"}}'), 'listen 80;');
});

test('reading a secret marks the rendered payload sensitive; other functions do not', () => {
  assert.equal(renderTemplate('{{secret "db_password"}}', taskContext()).sensitive, true);
  assert.equal(renderTemplate('{{config "base.conf"}} {{env "DB_HOST"}}', taskContext()).sensitive, false);
  assert.equal(renderTemplate('{{if false}}{{secret "db_password"}}{{end}}', taskContext()).sensitive, false);
});

test('a secret or config the task does not reference is an error', () => {
  assertTemplateError(
    'a\n{{secret "other"}}',
    /line 2: error calling secret: secret target other not found/,
    2,
  );
  assertTemplateError(
    '{{config "other.conf"}}',
    /error calling config: config target other.conf not found/,
    1,
  );
});

test('index reads a label, and a missing label is empty', () => {
  assert.equal(render('{{index .Service.Labels "com.example.env"}}'), 'prod');
  assert.equal(render('[{{index .Service.Labels "missing"}}]'), '[]');
  assert.equal(render('{{.Service.Labels.tier}}'), 'front');
});

test('a missing label read as a field is an error (missingkey=error)', () => {
  assertTemplateError('{{.Service.Labels.nope}}', /map has no entry for key "nope"/, 1);
});

test('trim markers remove the whitespace next to an action, newlines included', () => {
  assert.equal(render('a  \n {{- .Service.Name -}} \n\t b'), 'awebb');
  assert.equal(render('a {{- .Service.Name }} b'), 'aweb b');
  assert.equal(render('{{-3}}'), '-3');
});

test('comments produce nothing and may trim', () => {
  assert.equal(render('a{{/* a comment\nover lines */}}b'), 'ab');
  assert.equal(render('a \n{{- /* c */ -}}\n b'), 'ab');
});

test('string literals: escapes in double quotes, raw backquotes', () => {
  assert.equal(render('{{"say \\"hi\\"\\n"}}'), 'say "hi"\n');
  assert.equal(render('{{`raw \\n "x"`}}'), 'raw \\n "x"');
});

test('pipelines pass the value as the last argument', () => {
  assert.equal(render('{{.Service.Name | printf "%s-x"}}'), 'web-x');
  assert.equal(render('{{"db_password" | secret}}'), 's3cret');
  assert.equal(render('{{printf "%s.%d" .Service.Name 3}}'), 'web.3');
  assert.equal(render('{{printf "%d" .Service.Name}}'), '%!d(string=web)');
  assert.equal(render('{{join "," .Service.Name .Node.Hostname}}'), 'web,worker-1');
  assert.equal(render('{{printf "%s" (index .Service.Labels "tier")}}'), 'front');
});

test('if/else if/else use Go truthiness', () => {
  const source = '{{if env "NOPE"}}set{{else if eq .Service.Name "web"}}web{{else}}other{{end}}';
  assert.equal(render(source), 'web');
  assert.equal(render(source, taskContext({ env: ['NOPE=1'] })), 'set');
  assert.equal(render('{{if env "EMPTY"}}y{{else}}n{{end}}'), 'n');
  assert.equal(render('{{if not (index .Service.Labels "missing")}}no label{{end}}'), 'no label');
  assert.equal(render('{{if eq .Task.Slot "2"}}second{{end}}'), 'second');
});

test('a misspelt field is an error naming it and the fields there are', () => {
  assertTemplateError(
    'x\n\n{{.Service.Nmae}}',
    /line 3: can't evaluate field Nmae in \.Service\.Nmae: \.Service has fields ID, Name, Labels/,
    3,
  );
  assertTemplateError('{{.Service.Name.First}}', /can't evaluate field First in type string/, 1);
});

test('an unknown function is an error with its line', () => {
  assertTemplateError('ok\n{{foo .Service.Name}}', /^template: line 2: function "foo" not defined$/, 2);
  assertTemplateError('{{len .Service.Labels}}', /"len" is not supported/, 1);
});

test('an unterminated action, string or comment is an error where it starts', () => {
  assertTemplateError('line one\n{{ .Service.Name', /line 2: unclosed action/, 2);
  assertTemplateError('{{ "abc }}', /unterminated quoted string/, 1);
  assertTemplateError('a\n{{/* never closed }}', /line 2: unclosed comment/, 2);
  assertTemplateError('{{ .Service.Name }', /unexpected "}" in action/, 1);
});

test('malformed control structures are errors', () => {
  assertTemplateError('{{if .Service.Name}}x', /\{\{if\}\} has no matching \{\{end\}\}/, 1);
  assertTemplateError('x\n{{end}}', /line 2: unexpected \{\{end\}\}/, 2);
  assertTemplateError(
    '{{if true}}a{{else}}b\n{{else}}c{{end}}',
    /line 2: second \{\{else\}\} in \{\{if\}\}/,
    2,
  );
  assertTemplateError('{{printf "%s" (env "A"}}', /unexpected "}}", expected "\)"/, 1);
  assertTemplateError('{{range .Service.Labels}}{{end}}', /"range" is not supported/, 1);
  assertTemplateError('{{}}', /missing value for command/, 1);
  assertTemplateError('{{.Service.Name "x"}}', /can't give argument to non-function \.Service\.Name/, 1);
  assertTemplateError('{{env}}', /wrong number of args for env: want 1 got 0/, 1);
});

test('text without actions is returned unchanged, braces included', () => {
  assert.equal(render('plain { text } here'), 'plain { text } here');
  fc.assert(
    fc.property(
      fc.string().filter((text) => !text.includes('{{')),
      (text) => render(text) === text,
    ),
  );
});

test('index returns any label value, whatever its key', () => {
  const key = fc.string().filter((k) => !k.includes('`'));
  fc.assert(
    fc.property(key, fc.string(), (k, v) => {
      const ctx = taskContext({ service: { id: 's', name: 'web', labels: { [k]: v } } });
      return render(`{{index .Service.Labels \`${k}\`}}`, ctx) === v;
    }),
  );
});
