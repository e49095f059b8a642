// The `alerts:` section: defaults, clamping with warnings, errors that name the rule, fields
// checked against what the drivers declare, and the starter's commented example.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromObject, loadConfig, starterConfig } from '../../agent/config';

const t = suite('alerts config');
const account = { jid: 'gw@example.org', password_env: 'P' };
const sim = {
  id: 'sim', kind: 'simulated',
  options: { things: [{ id: 'greenhouse', fields: [{ name: 'temperature', type: 'numeric', unit: '°C' }, { name: 'fan', type: 'boolean', writable: true }] }] },
};
const load = (alerts: unknown, drivers: unknown[] = [sim]) => configFromObject({ account, drivers, alerts });
const issues = (r: { errors: { path: string; message: string }[] }) => r.errors.map((e) => `${e.path}: ${e.message}`);

t('defaults: no rules, group_s 30, max_per_hour 20; a rule keeps what it was given', () => {
  const none = configFromObject({ account });
  assert.equal(none.errors, []);
  assert.equal(none.config!.alerts, { rules: [], groupS: 30, maxPerHour: 20 });
  const r = load({ rules: [{ field: 'greenhouse.temperature', above: 30, for_s: '1m', hysteresis: 1, repeat_s: 3600, to: ['alice@example.org'], name: 'hot' }] });
  assert.equal(r.errors, []);
  assert.equal(r.config!.alerts.rules, [{ field: 'greenhouse.temperature', above: 30, forS: 60, hysteresis: 1, repeatS: 3600, to: ['alice@example.org'], name: 'hot' }]);
});

t('a field no driver declares is an error naming the rule, with a suggestion', () => {
  const r = load({ rules: [{ field: 'greenhouse.temprature', above: 30, name: 'too hot' }, { field: 'grenhouse.temperature', below: 5 }] });
  assert.equal(issues(r), [
    'alerts.rules[0].field: rule "too hot": thing "greenhouse" has no field "temprature" (did you mean "temperature"?); its fields: temperature, fan',
    'alerts.rules[1].field: rule 2 (grenhouse.temperature): no driver declares thing "grenhouse" (did you mean "greenhouse"?); things: greenhouse',
  ]);
});

t('a thing of a driver that finds its things at start is a warning, not an error; linux fields are checked at start', () => {
  const r = load({ rules: [{ field: '28-0316a2795bff.temperature', above: 30 }, { field: 'host.cpu_temperature', above: 80 }] }, [sim, { id: 'onewire', kind: 'w1' }, { id: 'host', kind: 'linux' }]);
  assert.equal(r.errors, []);
  assert.equal(r.warnings.map((w) => w.path), ['alerts.rules[0].field']);
  assert.match(r.warnings[0]!.message, 'onewire (w1) find');
});

t('no condition, two conditions, below over above: errors that name the rule and say what to write', () => {
  const msgs = issues(load({ rules: [
    { field: 'greenhouse.temperature' },
    { field: 'greenhouse.temperature', above: 30, changes: true },
    { field: 'greenhouse.temperature', above: 10, below: 30, name: 'range' },
  ] }));
  assert.equal(msgs.length, 3, msgs.join('\n'));
  assert.match(msgs[0]!, /^alerts.rules\[0\]: this rule \(greenhouse.temperature\) has no condition: give above, below, changes: true or fault: true/);
  assert.match(msgs[1]!, /^alerts.rules\[1\]: .* mixes above\/below and changes: write one rule for each/);
  assert.match(msgs[2]!, /^alerts.rules\[2\].below: rule "range": below 30 is not under above 10/);
});

t('a threshold on a boolean field is an error that points to changes; changes on a number is a warning', () => {
  assert.equal(issues(load({ rules: [{ field: 'greenhouse.fan', above: 0 }] })), [
    'alerts.rules[0].field: rule 1 (greenhouse.fan): above/below need a number, and greenhouse.fan is boolean; use changes: true to hear about its changes',
  ]);
  const w = load({ rules: [{ field: 'greenhouse.temperature', changes: true }, { field: 'greenhouse.fan', changes: true }] });
  assert.equal(w.errors, []);
  assert.equal(w.warnings.map((x) => x.path), ['alerts.rules[0].field']);
  assert.match(w.warnings[0]!.message, 'above/below is usually meant');
});

t('recipients are bare JIDs: a resource, a domain, a non-JID are errors', () => {
  const r = load({ rules: [{ field: 'greenhouse.fan', changes: true, to: ['alice@example.org/phone', '@example.org', 'alice'] }] });
  assert.equal(r.errors.map((e) => e.path), ['alerts.rules[0].to[0]', 'alerts.rules[0].to[1]', 'alerts.rules[0].to[2]']);
  assert.match(r.errors[0]!.message, 'write alice@example.org');
  assert.match(r.errors[1]!.message, 'whole domain');
});

t('numbers out of range clamp with a warning', () => {
  const r = load({ group_s: 7200, max_per_hour: 0, rules: [{ field: 'greenhouse.temperature', above: 30, hysteresis: -1, repeat_s: 10, for_s: -5 }] });
  assert.equal(r.errors, []);
  assert.equal(r.config!.alerts.groupS, 3600);
  assert.equal(r.config!.alerts.maxPerHour, 1);
  const rule = r.config!.alerts.rules[0]!;
  assert.equal([rule.hysteresis, rule.repeatS, rule.forS], [0, 60, 0]);
  assert.equal(r.warnings.map((w) => w.path).sort(), ['alerts.group_s', 'alerts.max_per_hour', 'alerts.rules[0].for_s', 'alerts.rules[0].hysteresis', 'alerts.rules[0].repeat_s']);
  // repeat_s 0 means never, with no warning.
  assert.equal(load({ rules: [{ field: 'greenhouse.temperature', above: 30, repeat_s: 0 }] }).warnings, []);
});

t('unknown keys in a rule are reported with a suggestion', () => {
  const r = load({ rules: [{ field: 'greenhouse.temperature', above: 30, hystersis: 1 }] });
  assert.equal(issues(r), ['alerts.rules[0].hystersis: unknown key "hystersis" (did you mean "hysteresis"?)']);
});

t('the starter\'s commented alert rules are valid once uncommented, and located by line in a file', () => {
  const text = starterConfig();
  const from = text.indexOf('\nalerts:');
  const to = text.indexOf('\n\n', from + 1);
  const body = text.slice(from, to).replace(/^(\s*)# (\s*)(?=rules:|- )/gm, '$1$2');
  const dir = mkdtempSync(join(tmpdir(), 'xiota-alerts-config-'));
  try {
    const file = join(dir, 'x.yaml');
    writeFileSync(file, text.slice(0, from) + body + text.slice(to));
    const r = loadConfig(file, { env: {} });
    assert.equal(r.errors, []);
    assert.equal(r.config!.alerts.rules.map((x) => x.field), ['greenhouse.temperature', 'greenhouse.fan', 'greenhouse.humidity']);
    // A typo in the same file is reported at its line.
    const typo = body.replace('greenhouse.fan', 'greenhouse.fna');
    writeFileSync(file, text.slice(0, from) + typo + text.slice(to));
    const bad = loadConfig(file, { env: {} });
    assert.is(bad.errors.length, 1);
    assert.is(bad.errors[0]!.path, 'alerts.rules[1].field');
    const line = text.slice(0, from).split('\n').length + typo.split('\n').findIndex((l) => l.includes('greenhouse.fna'));
    assert.is(bad.errors[0]!.line, line);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
