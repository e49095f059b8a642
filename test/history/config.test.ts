// The `history:` section of xiota.yaml: defaults, every key read, bad values named with
// file:line:col, a retention too short for the rollups it feeds raised with a warning.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatIssues, loadConfig, type LoadResult } from '../../agent/config';

const dir = mkdtempSync(join(tmpdir(), 'xiota-hconf-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function load(yaml: string): { r: LoadResult; file: string } {
  const file = join(dir, `c${n++}.yaml`);
  writeFileSync(file, 'account:\n  jid: gw@example.org\n  password_env: GW_PASS\n' + yaml);
  return { r: loadConfig(file, { env: {} }), file };
}

test('defaults: enabled, every rollup level, retention per level, 128 MiB', () => {
  const { r } = load('');
  assert.equal(r.errors, []);
  assert.equal(r.config!.history, { enabled: true, retention: { raw: 2 * 86_400, minute: 30 * 86_400, hour: 365 * 86_400, day: 3650 * 86_400 }, rollups: ['minute', 'hour', 'day'], maxBytes: 128 * 1024 * 1024 });
});

test('every key is read: a mapping of retentions, a subset of rollups (kept in order), max_bytes', () => {
  const { r } = load('history:\n  enabled: false\n  retention: { raw: 6h, hour: 90d }\n  rollups: [hour, minute]\n  max_bytes: 2097152\n');
  assert.equal(r.errors, []);
  const h = r.config!.history;
  assert.is(h.enabled, false);
  assert.equal(h.rollups, ['minute', 'hour']);
  assert.equal([h.retention.raw, h.retention.minute, h.retention.hour], [6 * 3600, 30 * 86_400, 90 * 86_400]);
  assert.is(h.maxBytes, 2097152);
  const one = load('history:\n  retention: 7d\n').r.config!.history.retention;
  assert.equal(one, { raw: 7 * 86_400, minute: 7 * 86_400, hour: 7 * 86_400, day: 7 * 86_400 });
});

test('bad values are errors at their line, with what to write instead', () => {
  const { r, file } = load('history:\n  enabled: yes\n  retention: { raw: often, week: 3d }\n  rollups: [minute, hourly]\n');
  const text = formatIssues(file, r.errors);
  assert.match(text, `${file}:5:12: history.enabled: expected true or false, got "yes"`);
  assert.match(text, `${file}:6:21: history.retention.raw: expected a number of seconds, got "often"`);
  assert.match(text, /c\d+\.yaml:6:\d+: history\.retention\.week: unknown key "week"/);
  assert.match(text, /c\d+\.yaml:7:\d+: history\.rollups\[1\]: expected one of minute, hour, day, got "hourly" \(did you mean "hour"\?\)/);
  const lines = (yaml: string) => load(yaml).r.errors.map((e) => `${e.line}: ${e.path}: ${e.message}`).join('\n');
  assert.match(lines('history:\n  retention: [1d]\n'), /5: history.retention: expected a duration like 30d, or a mapping/);
  assert.match(lines('history:\n  rollups: [hour, hour]\n'), /5: history.rollups\[1\]: "hour" is listed twice/);
});

test('harmless numbers are corrected with a warning: a raw retention shorter than two minutes, max_bytes below 1 MiB', () => {
  const { r } = load('history:\n  retention: { raw: 1m }\n  rollups: [minute]\n  max_bytes: 1000\n');
  assert.equal(r.errors, []);
  assert.is(r.config!.history.retention.raw, 120);
  assert.is(r.config!.history.maxBytes, 1024 * 1024);
  const w = r.warnings.map((x) => `${x.line}: ${x.path}: ${x.message}`).join('\n');
  assert.match(w, /history.retention: raw is kept 60 s, less than two minutes \(the minute rollups are built from it\); using 120 s/);
  assert.match(w, /7: history.max_bytes: 1000 is out of range/);
});

test.run();
