import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromObject, loadConfig, starterConfig, formatIssues } from '../../agent/config';
import { createDriver } from '../../drivers';

const dir = mkdtempSync(join(tmpdir(), 'xiota-drivers-'));
const account = { jid: 'gw@example.org', password_env: 'P' };

test('every kind of the starter (examples uncommented) builds with createDriver', () => {
  const text = starterConfig();
  const from = text.indexOf('\ndrivers:');
  const to = text.indexOf('\nthings:');
  const body = text.slice(from, to).replace(/^(\s*)# (\s*)(?=[\w-]+:|- )/gm, '$1$2');
  const file = join(dir, 'all.yaml');
  writeFileSync(file, text.slice(0, from) + body + text.slice(to));
  const r = loadConfig(file, { env: {} });
  assert.equal(r.errors, []);
  const kinds: string[] = [];
  for (const d of r.config!.drivers) {
    const drv = createDriver(d.kind, d.id, d.options);
    assert.is(drv.id, d.id);
    assert.is(drv.kind, d.kind);
    kinds.push(drv.kind);
  }
  assert.equal(kinds, ['simulated', 'linux', 'w1', 'iio', 'bridge', 'serial', 'mqtt']);
  const sim = r.config!.drivers[0];
  assert.is(createDriver(sim.kind, sim.id, sim.options).pollIntervalMs, 5000, 'poll_interval_s reaches the driver');
});

test('serial: json and kv need a fields mapping; nmea does not', () => {
  const bad = configFromObject({ account, drivers: [{ id: 'gps', kind: 'serial', options: { path: '/dev/ttyS0', protocol: 'json' } }] });
  assert.is(bad.errors[0].path, 'drivers[0].options.fields');
  const ok = configFromObject({ account, drivers: [{ id: 'gps', kind: 'serial', options: { path: '/dev/ttyS0', protocol: 'nmea', baud_rate: 9600 } }] });
  assert.equal(ok.errors, []);
  const d = ok.config!.drivers[0];
  assert.ok(d.kind === 'serial' && d.options.baudRate === 9600);
});

test('mqtt: topics, command topics, password from a file without leaking it', () => {
  const noTopic = configFromObject({ account, drivers: [{ id: 'm', kind: 'mqtt', options: { url: 'mqtt://127.0.0.1:1883', things: [{ id: 't', fields: [{ name: 'a', type: 'numeric' }] }] } }] });
  assert.is(noTopic.errors[0].path, 'drivers[0].options.things[0].fields[0].topic');
  const noCmd = configFromObject({ account, drivers: [{ id: 'm', kind: 'mqtt', options: { url: 'mqtt://h', things: [{ id: 't', topic: 'a/b', fields: [{ name: 'r', type: 'boolean', writable: true }] }] } }] });
  assert.is(noCmd.errors[0].path, 'drivers[0].options.things[0].fields[0].command_topic');
  const badUrl = configFromObject({ account, drivers: [{ id: 'm', kind: 'mqtt', options: { url: 'http://h', things: [{ id: 't', topic: 'a', fields: [{ name: 'x', type: 'string' }] }] } }] });
  assert.is(badUrl.errors[0].path, 'drivers[0].options.url');

  const secret = 'mqtt-S3cret!';
  writeFileSync(join(dir, 'mqtt-pw'), secret + '\n');
  const opts = { url: 'mqtt://127.0.0.1:1883', username: 'u', password_file: 'mqtt-pw', things: [{ id: 't', topic: 'a', fields: [{ name: 'x', type: 'string' }] }] };
  const ok = configFromObject({ account, drivers: [{ id: 'm', kind: 'mqtt', options: opts }] }, { baseDir: dir });
  assert.equal(ok.errors, []);
  const d = ok.config!.drivers[0];
  assert.ok(d.kind === 'mqtt' && d.options.password === secret);
  const inline = configFromObject({ account, drivers: [{ id: 'm', kind: 'mqtt', options: { ...opts, password_file: undefined, password: secret } }] });
  assert.is(inline.warnings[0].path, 'drivers[0].options.password');
  const both = configFromObject({ account, drivers: [{ id: 'm', kind: 'mqtt', options: { ...opts, password: 12345678 } }] }, { baseDir: dir });
  const text = formatIssues('x', [...inline.warnings, ...both.errors, ...both.warnings]);
  assert.ok(both.errors.length > 0);
  assert.not.ok(text.includes(secret) || text.includes('12345678'), text);
});

test('poll_interval_s on a push driver is a warning at its key', () => {
  const r = configFromObject({ account, drivers: [{ id: 'gps', kind: 'serial', poll_interval_s: 5, options: { path: '/dev/ttyS0', protocol: 'nmea' } }] });
  assert.equal(r.errors, []);
  assert.is(r.warnings[0].path, 'drivers[0].poll_interval_s');
});

test('min/max of fields: errors by file:line for min not below max, a non-numeric field, an initial outside; mapped into the FieldSpec', () => {
  const file = join(dir, 'ranges.yaml');
  writeFileSync(file, [
    'account: { jid: gw@example.org, password_env: P }',  // 1
    'drivers:',                                               // 2
    '  - id: sim',                                            // 3
    '    kind: simulated',                                    // 4
    '    options:',                                           // 5
    '      things:',                                          // 6
    '        - id: greenhouse',                               // 7
    '          fields:',                                      // 8
    '            - name: setpoint',                           // 9
    '              type: numeric',                            // 10
    '              writable: true',                           // 11
    '              min: 30',                                  // 12
    '              max: 5',                                   // 13
    '            - name: fan',                                // 14
    '              type: boolean',                            // 15
    '              writable: true',                           // 16
    '              max: 1',                                   // 17
    '            - name: vent',                               // 18
    '              type: int',                                // 19
    '              writable: true',                           // 20
    '              min: 0',                                   // 21
    '              max: 100',                                 // 22
    '              initial: 120',                             // 23
    '  - id: m',                                              // 24
    '    kind: mqtt',                                         // 25
    '    options:',                                           // 26
    '      url: mqtt://127.0.0.1:1883',                       // 27
    '      things:',                                          // 28
    '        - id: boiler',                                   // 29
    '          topic: b/state',                               // 30
    '          fields:',                                      // 31
    '            - { name: target, type: numeric, writable: true, command_topic: b/set, min: 40, max: 40 }', // 32
    '',
  ].join('\n'));
  const r = loadConfig(file, { env: { P: 'x' } });
  const got = r.errors.map((e) => `${e.line}: ${e.path}: ${e.message}`);
  assert.equal(got, [
    '12: drivers[0].options.things[0].fields[0].min: min 30 must be below max 5',
    '17: drivers[0].options.things[0].fields[1].max: min and max apply to numeric and int fields; this field is boolean: remove them',
    '23: drivers[0].options.things[0].fields[2].initial: initial 120 is outside min 0 to max 100',
    '32: drivers[1].options.things[0].fields[0].min: min 40 must be below max 40',
  ]);
  const ok = configFromObject({ account, drivers: [
    { id: 'sim', kind: 'simulated', options: { things: [{ id: 'g', fields: [{ name: 'setpoint', type: 'numeric', writable: true, min: 5, max: 30 }] }] } },
    { id: 'gw', kind: 'serial', options: { path: '/dev/ttyS0', protocol: 'json', fields: [{ name: 'duty', type: 'int', writable: true, min: 0, max: 255 }, { name: 't', type: 'numeric', max: 9 }] } },
  ] });
  assert.equal(ok.errors, []);
  assert.equal(ok.warnings.map((w) => `${w.path}: ${w.message}`), ['drivers[1].options.fields[1].max: min and max are the range of sets and this field is not writable: they have no effect']);
  const ranges = ok.config!.drivers.map((d) => createDriver(d.kind, d.id, d.options).things()[0]!.fields[0]!).map((f) => [f.min, f.max]);
  assert.equal(ranges, [[5, 30], [0, 255]], 'the range reaches the FieldSpec the host checks sets against');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test('every field kind (simulated, serial mapping, mqtt) takes the common keys and checks an enum\'s values the same way', () => {
  const enumNoValues = { name: 'mode', type: 'enum' };
  const r = configFromObject({ account, drivers: [
    { id: 'sim', kind: 'simulated', options: { things: [{ id: 'g', fields: [enumNoValues] }] } },
    { id: 'gw', kind: 'serial', options: { path: '/dev/ttyS0', protocol: 'json', fields: [enumNoValues] } },
    { id: 'm', kind: 'mqtt', options: { url: 'mqtt://h', things: [{ id: 't', topic: 'a', fields: [enumNoValues] }] } },
  ] });
  assert.equal(r.errors.map((e) => `${e.path}: ${e.message}`), [
    'drivers[0].options.things[0].fields[0].values: an enum field needs its list of values',
    'drivers[1].options.fields[0].values: an enum field needs its list of values',
    'drivers[2].options.things[0].fields[0].values: an enum field needs its list of values',
  ]);
  const common = { name: 'level', type: 'int', unit: '%', precision: 0, writable: true, min: 0, max: 100 };
  const ok = configFromObject({ account, drivers: [
    { id: 'sim', kind: 'simulated', options: { things: [{ id: 'g', fields: [common] }] } },
    { id: 'gw', kind: 'serial', options: { path: '/dev/ttyS0', protocol: 'json', fields: [{ ...common, path: 'a.b', scale: 0.1, offset: 1 }] } },
    { id: 'm', kind: 'mqtt', options: { url: 'mqtt://h', things: [{ id: 't', topic: 'a', fields: [{ ...common, path: 'a.b', scale: 0.1, offset: 1, command_topic: 'a/set' }] }] } },
  ] });
  assert.equal(ok.errors, []);
  const specs = ok.config!.drivers.map((d) => createDriver(d.kind, d.id, d.options).things()[0]!.fields[0]!).map((f) => [f.name, f.type, f.unit, f.writable, f.min, f.max]);
  assert.equal(specs, [['level', 'int', '%', true, 0, 100], ['level', 'int', '%', true, 0, 100], ['level', 'int', '%', true, 0, 100]]);
});

test.run();
