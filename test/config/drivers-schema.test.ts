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
  assert.equal(kinds, ['simulated', 'linux', 'w1', 'iio', 'serial', 'mqtt']);
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

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
