import assert from 'node:assert/strict';
import { test } from 'node:test';
import { executeTemplate, parseTemplate } from '../../src/cli/template.js';

const run = (t: string, data: unknown) => executeTemplate(parseTemplate(t), data);

test('field chains reach nested values', () => {
  assert.equal(run('{{.Spec.Name}} {{.ID}}', { ID: 'x', Spec: { Name: 'web' } }), 'web x');
});

test('json prints compact JSON with Go escaping', () => {
  assert.equal(run('{{json .Spec}}', { Spec: { Name: 'a<b', N: 1 } }), '{"Name":"a\\u003cb","N":1}');
  assert.equal(run('{{json .}}', { A: '1' }), '{"A":"1"}');
});

test('values print like Go fmt: maps sorted, lists spaced, missing keys as <no value>', () => {
  assert.equal(run('{{.L}}', { L: { b: '2', a: '1' } }), 'map[a:1 b:2]');
  assert.equal(run('{{.A}}', { A: ['x', 'y'] }), '[x y]');
  assert.equal(run('{{.Missing}}', {}), '<no value>');
  assert.equal(run('{{.N}}', { N: null }), '<nil>');
});

test('pipelines, functions, if/else and range work', () => {
  assert.equal(run('{{.Name | upper}}', { Name: 'web' }), 'WEB');
  assert.equal(run('{{join .Args ","}}', { Args: ['a', 'b'] }), 'a,b');
  assert.equal(run('{{if .Self}}*{{else}}-{{end}}', { Self: true }), '*');
  assert.equal(run('{{if .Self}}*{{else}}-{{end}}', { Self: false }), '-');
  assert.equal(run('{{range .Env}}[{{.}}]{{end}}', { Env: ['A=1', 'B=2'] }), '[A=1][B=2]');
  assert.equal(run('{{- .A -}} ', { A: 'x' }), 'x');
});

test('unknown functions are errors', () => {
  assert.throws(() => run('{{nope .A}}', {}), /function "nope" not defined/);
});
