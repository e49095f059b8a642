// Values for people (agent/format.ts): bytes in IEC units, durations, on/off, units after a space.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatBytes, formatDuration, formatNumber, formatValue } from '../../agent/format';

test('bytes: IEC units, at most three significant digits', () => {
  assert.is(formatBytes(0), '0 B');
  assert.is(formatBytes(512), '512 B');
  assert.is(formatBytes(1536), '1.5 KiB');
  assert.is(formatBytes(25276059648), '23.5 GiB');
  assert.is(formatBytes(1024 ** 3 * 123.4), '123 GiB');
  assert.is(formatBytes(1024 ** 2 * 10), '10 MiB');
  assert.is(formatBytes(-2048), '-2 KiB');
});

test('durations: the two largest units', () => {
  assert.is(formatDuration(0), '0 s');
  assert.is(formatDuration(42), '42 s');
  assert.is(formatDuration(303), '5 min 3 s');
  assert.is(formatDuration(5 * 3600 + 12 * 60 + 9), '5 h 12 min');
  assert.is(formatDuration(3 * 86400 + 4 * 3600 + 59), '3 d 4 h');
  assert.is(formatDuration(86400 + 30), '1 d');
});

test('values: units after a space, booleans on/off, precision kept', () => {
  assert.is(formatValue(22.5, '°C', 1), '22.5 °C');
  assert.is(formatValue(41, '%'), '41 %');
  assert.is(formatValue(true), 'on');
  assert.is(formatValue(false, 'x'), 'off');
  assert.is(formatValue('idle'), 'idle');
  assert.is(formatValue(25276059648, 'B'), '23.5 GiB');
  assert.is(formatValue(90061, 's'), '1 d 1 h');
  assert.is(formatValue(12, 's'), '12 s');
  assert.is(formatNumber(0.1 + 0.2), '0.3');
  assert.is(formatNumber(21.456, 2), '21.46');
});

test.run();
