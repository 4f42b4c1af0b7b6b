import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tabwrite } from '../../src/cli/tabwriter.js';

test('columns are max(widest cell + 3, 10) wide and the last column is not padded', () => {
  const out = tabwrite('ID\tNAME\tX\nabcdefghijkl\tweb\tlast\n');
  assert.equal(out, 'ID             NAME      X\nabcdefghijkl   web       last\n');
});

test('empty cells before the last column are padded, so such rows end in blanks', () => {
  const out = tabwrite('A\tERROR\tPORTS\nx\t\t\n');
  assert.equal(out, 'A         ERROR     PORTS\nx                   \n');
});

test('cell width counts characters, not bytes', () => {
  const out = tabwrite('"ab…"\tz\n"abcd"\tz\n');
  assert.equal(out, '"ab…"     z\n"abcd"    z\n');
});

test('a line with fewer cells ends a column block', () => {
  const out = tabwrite('aaaaaaaaaaaaaaa\tb\nline\nc\td\n');
  assert.equal(out, 'aaaaaaaaaaaaaaa   b\nline\nc         d\n');
});
