// swarmd's command line: Docker's flag names and defaults, clear errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_FLAGS, parseFlags } from '../../src/daemon/flags.js';

test('--exec-root is optional (swarmd derives <state-dir>/exec) and takes both spellings', () => {
  const d = parseFlags(['--state-dir', '/srv/s']);
  assert.ok(d !== 'help');
  assert.equal(d.execRoot, undefined);
  assert.equal(d.stateDir, '/srv/s');
  for (const argv of [['--exec-root', '/run/x'], ['--exec-root=/run/x']]) {
    const f = parseFlags(argv);
    assert.ok(f !== 'help');
    assert.equal(f.execRoot, '/run/x');
  }
  assert.equal(DEFAULT_FLAGS.execRoot, undefined);
});

test('a flag without its value, or an unknown flag, is refused with a clear message', () => {
  assert.throws(() => parseFlags(['--exec-root']), /flag needs an argument: --exec-root/);
  assert.throws(() => parseFlags(['--exec-rot', '/x']), /unknown flag: --exec-rot/);
  assert.equal(parseFlags(['--help']), 'help');
});
