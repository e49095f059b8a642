// Values, ages and status as a phone shows them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChatThing } from '../../agent/chat/fields';
import { cleanText, formatAge, formatState, formatValue, historyText, splitMessage, statusText, type FieldState } from '../../agent/chat/format';

const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);

test('values with units, precision, booleans on/off, strings cleaned', () => {
  assert.is(formatValue(22.5, { type: 'numeric', unit: '°C', precision: 1 }), '22.5 °C');
  assert.is(formatValue(22.456, { type: 'numeric', unit: '°C', precision: 1 }), '22.5 °C');
  assert.is(formatValue(41, { type: 'numeric', unit: '%' }), '41 %');
  assert.is(formatValue(0.1 + 0.2, { type: 'numeric' }), '0.3');
  assert.is(formatValue(25_276_059_648, { type: 'int', unit: 'B' }), '23.5 GiB', 'bytes in binary units (agent/format.ts)');
  assert.is(formatValue(3 * 3600 + 120, { type: 'numeric', unit: 's' }), '3 h 2 min');
  assert.is(formatValue(7, { type: 'int' }), '7');
  assert.is(formatValue(true), 'on');
  assert.is(formatValue(false, { type: 'boolean' }), 'off');
  assert.is(formatValue('auto', { type: 'enum' }), 'auto');
  assert.is(formatValue('a\u0000b\nc\u202Ed'), 'a b c d');
  assert.is(formatValue(''), '(empty)');
  assert.is(cleanText('x'.repeat(500)).length, 121);
});

test('ages', () => {
  assert.is(formatAge(0), 'just now');
  assert.is(formatAge(-5000), 'just now', 'a clock slightly ahead');
  assert.is(formatAge(12_400), '12 s ago');
  assert.is(formatAge(119_000), '119 s ago');
  assert.is(formatAge(180_000), '3 min ago');
  assert.is(formatAge(2 * 3600_000), '2 h ago');
  assert.is(formatAge(5 * 86_400_000), '5 d ago');
  assert.is(formatAge(NaN), 'just now');
});

test('one field: "22.5 °C, 12 s ago", failures and no value', () => {
  const f = { name: 'temperature', type: 'numeric' as const, unit: '°C', precision: 1 };
  assert.is(formatState({ value: 22.5, timestamp: NOW - 12_000 }, f, NOW), '22.5 °C, 12 s ago');
  assert.is(formatState({ error: 'no response', timestamp: NOW - 3000 }, f, NOW), 'failed: no response, 3 s ago');
  assert.is(formatState(undefined, f, NOW), 'no value yet');
});

test('status: label: value lines per thing, a field read at another time has its own age', () => {
  const things: ChatThing[] = [
    { id: 'greenhouse', name: 'Greenhouse', fields: [
      { name: 'temperature', type: 'numeric', unit: '°C', precision: 1 },
      { name: 'fan', type: 'boolean', writable: true },
      { name: 'co2', type: 'int', unit: 'ppm' },
    ] },
    { id: 'shed', fields: [{ name: 'door', type: 'boolean' }] },
  ];
  const st: Record<string, FieldState> = {
    'greenhouse.temperature': { value: 22.5, timestamp: NOW - 12_000 },
    'greenhouse.fan': { value: false, timestamp: NOW - 12_000 },
    'greenhouse.co2': { value: 612, timestamp: NOW - 600_000 },
  };
  const text = statusText(things, (t, f) => st[`${t}.${f}`], NOW);
  assert.is(text, [
    'Greenhouse (greenhouse), 12 s ago:',
    'temperature: 22.5 °C',
    'fan: off (settable)',
    'co2: 612 ppm, 10 min ago',
    '',
    'shed:',
    'door: no value yet',
  ].join('\n'));
  assert.match(statusText([], () => undefined, NOW), /no things yet/);
});

test('history: newest first with ages', () => {
  const f = { name: 'temperature', type: 'numeric' as const, unit: '°C', precision: 1 };
  const text = historyText('greenhouse.temperature', f, [
    { timestamp: NOW - 120_000, value: 21 }, { timestamp: NOW - 60_000, value: 21.5 }, { timestamp: NOW - 5000, error: 'timeout' },
  ], NOW, '(newest first)');
  assert.is(text, 'greenhouse.temperature, 3 values (newest first):\n5 s ago: failed: timeout\n60 s ago: 21.5 °C\n2 min ago: 21.0 °C');
  assert.is(historyText('a.b', f, [], NOW, 'in the last 10 min'), 'a.b: no values in the last 10 min');
});

test('long answers are split at line ends, an overlong line hard', () => {
  const lines = Array.from({ length: 400 }, (_, i) => `line ${i}: ${'x'.repeat(20)}`);
  const parts = splitMessage(lines.join('\n'), 3000);
  assert.ok(parts.length > 1);
  assert.ok(parts.every((p) => p.length <= 3000));
  assert.is(parts.join('\n'), lines.join('\n'), 'nothing lost, nothing added');
  const hard = splitMessage('y'.repeat(7000), 3000);
  assert.equal(hard.map((p) => p.length), [3000, 3000, 1000]);
  assert.equal(splitMessage('short'), ['short']);
});

test.run();
