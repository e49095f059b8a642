// Per-JID alerts on/off: kept across restarts in <stateDir>/alerts.json, written atomically,
// one shared switch per state directory, a damaged file reported and survived.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALERT_SWITCH_FILE, FileAlertSwitch, MemoryAlertSwitch, alertSwitchFor } from '../../agent/alerts/switch';

const t = suite('alert switch');
let dir: string;
t.before.each(() => { dir = mkdtempSync(join(tmpdir(), 'xiota-alert-switch-')); });
t.after.each(() => rmSync(dir, { recursive: true, force: true }));

t('a choice survives a restart; full JIDs and case count as the bare JID', async () => {
  const a = new FileAlertSwitch(dir);
  assert.is(a.alertsOn('alice@example.org'), true, 'default: on for a default recipient');
  assert.is(a.alertsOn('dave@example.org', false), false, 'default: off for anyone else');
  await a.setAlerts('Alice@Example.org/phone', false);
  await a.setAlerts('dave@example.org', true);
  assert.is(a.alertsOn('alice@example.org'), false);
  const file = join(dir, ALERT_SWITCH_FILE);
  assert.equal(JSON.parse(readFileSync(file, 'utf8')), { on: ['dave@example.org'], off: ['alice@example.org'] });
  assert.is(statSync(file).mode & 0o777, 0o600);
  assert.not.ok(existsSync(file + '.tmp'), 'the temporary file was renamed into place');
  const b = new FileAlertSwitch(dir);
  assert.is(b.alertsOn('alice@example.org/laptop'), false);
  assert.is(b.alertsOn('dave@example.org', false), true);
  assert.equal(b.optedIn(), ['dave@example.org']);
  assert.is(b.choice('erin@example.org'), undefined);
});

t('writes in a row land in order: the last choice wins on disk', async () => {
  const a = new FileAlertSwitch(dir);
  await Promise.all([a.setAlerts('a@x.org', false), a.setAlerts('a@x.org', true), a.setAlerts('a@x.org', false)]);
  assert.is(new FileAlertSwitch(dir).alertsOn('a@x.org'), false);
});

t('a damaged file is reported and everyone keeps the default', async () => {
  writeFileSync(join(dir, ALERT_SWITCH_FILE), '{"off": ["alice@exa');
  const said: string[] = [];
  const a = new FileAlertSwitch(dir, (m) => said.push(m));
  assert.is(a.alertsOn('alice@example.org'), true);
  assert.is(said.length, 1);
  assert.match(said[0]!, 'not valid JSON');
  await a.setAlerts('alice@example.org', false);
  assert.is(new FileAlertSwitch(dir).alertsOn('alice@example.org'), false, 'the next write repairs it');
});

t('one switch per state directory, shared by the modules that use it', async () => {
  const a = alertSwitchFor(dir);
  assert.is(alertSwitchFor(dir), a);
  await a.setAlerts('bob@example.org', false);
  assert.is(alertSwitchFor(dir).alertsOn('bob@example.org'), false);
  assert.is.not(alertSwitchFor(join(dir, 'other')), a);
});

t('in memory: the same rules, nothing written; something that is not a JID is refused with what to write', async () => {
  const m = new MemoryAlertSwitch();
  await m.setAlerts('bob@example.org', false);
  assert.is(m.alertsOn('bob@example.org'), false);
  for (const bad of ['', 'bob', '@example.org']) {
    const err = await m.setAlerts(bad, true).then(() => undefined, (e: Error & { code?: string }) => e);
    assert.is(err?.code, 'XIOTA_E_CONFIG', bad);
    assert.match(err!.message, 'name@domain');
  }
  assert.equal(m.optedIn(), []);
});

t.run();
