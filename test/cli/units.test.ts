import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bytesSize,
  formatGoDuration,
  humanDuration,
  humanSize,
  parseGoDuration,
  parseNanoCpus,
  ramInBytes,
} from '../../src/cli/units.js';

test('Go durations parse to nanoseconds, compound and fractional forms included', () => {
  assert.equal(parseGoDuration('1s'), 1e9);
  assert.equal(parseGoDuration('1m30s'), 90e9);
  assert.equal(parseGoDuration('1.5s'), 1.5e9);
  assert.equal(parseGoDuration('300ms'), 3e8);
  assert.equal(parseGoDuration('2160h'), 7776000e9);
  assert.equal(parseGoDuration('0'), 0);
});

test('bad durations fail with Go wording', () => {
  assert.throws(() => parseGoDuration('5'), { message: 'time: missing unit in duration "5"' });
  assert.throws(() => parseGoDuration('abc'), { message: 'time: invalid duration "abc"' });
  assert.throws(() => parseGoDuration('5x'), { message: 'time: unknown unit "x" in duration "5x"' });
});

test('durations print like time.Duration.String', () => {
  assert.equal(formatGoDuration(5e9), '5s');
  assert.equal(formatGoDuration(90e9), '1m30s');
  assert.equal(formatGoDuration(7776000e9), '2160h0m0s');
  assert.equal(formatGoDuration(1.5e9), '1.5s');
  assert.equal(formatGoDuration(5e8), '500ms');
  assert.equal(formatGoDuration(0), '0s');
});

test('human durations follow go-units thresholds', () => {
  assert.equal(humanDuration(400), 'Less than a second');
  assert.equal(humanDuration(1000), '1 second');
  assert.equal(humanDuration(12_500), '12 seconds');
  assert.equal(humanDuration(61_000), 'About a minute');
  assert.equal(humanDuration(119_000), 'About a minute');
  assert.equal(humanDuration(120_000), '2 minutes');
  assert.equal(humanDuration(3_600_000), 'About an hour');
  assert.equal(humanDuration(2 * 3_600_000), '2 hours');
  assert.equal(humanDuration(3 * 86_400_000), '3 days');
  assert.equal(humanDuration(20 * 86_400_000), '2 weeks');
  assert.equal(humanDuration(90 * 86_400_000), '3 months');
  assert.equal(humanDuration(800 * 86_400_000), '2 years');
});

test('image sizes use decimal units with three significant digits', () => {
  assert.equal(humanSize(2_050_000, 3), '2.05MB');
  assert.equal(humanSize(1_234_567, 3), '1.23MB');
  assert.equal(humanSize(999, 3), '999B');
  assert.equal(humanSize(1000, 3), '1kB');
  assert.equal(humanSize(4_860_000, 3), '4.86MB');
  assert.equal(humanSize(125_000_000, 3), '125MB');
});

test('memory sizes use binary units like docker info', () => {
  assert.equal(bytesSize(25276502016), '23.54GiB');
});

test('memory flags accept docker suffixes', () => {
  assert.equal(ramInBytes('64M'), 67108864);
  assert.equal(ramInBytes('1g'), 1073741824);
  assert.equal(ramInBytes('512m'), 536870912);
  assert.equal(ramInBytes('1024'), 1024);
  assert.throws(() => ramInBytes('lots'), { message: "invalid size: 'lots'" });
});

test('CPU decimals become NanoCPUs', () => {
  assert.equal(parseNanoCpus('0.5'), 500_000_000);
  assert.equal(parseNanoCpus('1.5'), 1_500_000_000);
  assert.equal(parseNanoCpus('2'), 2_000_000_000);
  assert.throws(() => parseNanoCpus('x'));
});

test('an untagged image gets ":latest" as the docker CLI sends it', async () => {
  const { withDefaultTag } = await import('../../src/cli/servicespec.js');
  assert.equal(withDefaultTag('busybox'), 'busybox:latest');
  assert.equal(withDefaultTag('bb:1'), 'bb:1');
  assert.equal(withDefaultTag('localhost:5000/busybox'), 'localhost:5000/busybox:latest');
  assert.equal(withDefaultTag('localhost:5000/busybox:2'), 'localhost:5000/busybox:2');
  assert.equal(withDefaultTag('busybox@sha256:abc'), 'busybox@sha256:abc');
});
