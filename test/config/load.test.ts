import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { loadConfig, configFromObject, formatIssues, starterConfig, ConfigIssue, LoadResult, publishPolicyFor, pubsubFor } from '../../agent/config';

const dir = mkdtempSync(join(tmpdir(), 'xiota-config-'));
let n = 0;
function load(yaml: string): LoadResult {
  const file = join(dir, `c${n++}.yaml`);
  writeFileSync(file, yaml);
  return loadConfig(file, { env: {} });
}
function find(issues: ConfigIssue[], path: string): ConfigIssue {
  const i = issues.find((x) => x.path === path);
  if (!i) throw new assert.Assertion({ message: `no issue at ${path}: ${JSON.stringify(issues)}`, generated: false, operator: 'find', expects: path, actual: issues });
  return i;
}

/** A repo file, found from the compiled test's dir (dist/) or the working directory. */
function repoFile(rel: string): string {
  for (let d = __dirname; d !== dirname(d); d = dirname(d)) if (existsSync(join(d, rel))) return join(d, rel);
  return join(process.cwd(), rel);
}

const MIN = 'account:\n  jid: gw@example.org\n  password_env: GW_PASS\n';

test('a minimal config loads with every default applied', () => {
  const r = load(MIN);
  assert.equal(r.errors, []);
  const c = r.config!;
  assert.is(c.account.jid, 'gw@example.org');
  assert.is(c.account.resource, undefined, 'no resource: the server picks one (XEP-0386 Bind 2) where it can');
  assert.is(c.tls.servername, 'example.org');
  assert.is(c.session.pingIntervalS, 60);
  assert.is(c.session.reconnect.maxDelayS, 60);
  assert.is(c.pubsub.service, 'pep');
  assert.is(c.pubsub.accessModel, 'presence');
  assert.is(c.outbox.dir, '/var/lib/xiota/outbox');
  assert.is(c.log.level, 'info');
  assert.equal(c.drivers, []);
});

test('a wrong type names the key, the line and the column', () => {
  const r = load(MIN + 'session:\n  stream_management: true\n  ping_interval_s: often\n');
  assert.is(r.config, undefined);
  const i = find(r.errors, 'session.ping_interval_s');
  assert.is(i.line, 6);
  assert.is(i.col, 20);
  assert.is(i.message, 'expected a number of seconds, got "often" (a duration works too: 200ms, 30s, 5m, 2h, 7d)');
  assert.is(formatIssues('config.yaml', [i]), 'config.yaml:6:20: session.ping_interval_s: expected a number of seconds, got "often" (a duration works too: 200ms, 30s, 5m, 2h, 7d)');
});

test('durations accept units', () => {
  const r = load(MIN + 'session:\n  ping_interval_s: 2m\noutbox:\n  flush_interval_ms: 1s\n');
  assert.equal(r.errors, []);
  assert.is(r.config!.session.pingIntervalS, 120);
  assert.is(r.config!.outbox.flushIntervalMs, 1000);
});

test('unknown keys are errors at the key, with a suggestion when close', () => {
  const r = load(MIN + 'sesion:\n  ping_interval_s: 30\nlog:\n  levle: debug\n  colour: red\n');
  const a = find(r.errors, 'sesion');
  assert.is(a.line, 4);
  assert.is(a.col, 1);
  assert.match(a.message, 'did you mean "session"?');
  const b = find(r.errors, 'log.levle');
  assert.is(b.line, 7);
  assert.is(b.col, 3);
  assert.match(b.message, 'did you mean "level"?');
  const c = find(r.errors, 'log.colour');
  assert.not.match(c.message, 'did you mean');
});

test('camelCase spelling of a key suggests the snake_case one', () => {
  const r = load(MIN + 'session:\n  pingIntervalS: 30\n');
  assert.match(find(r.errors, 'session.pingIntervalS').message, 'did you mean "ping_interval_s"?');
});

test('a missing required key points at its section', () => {
  const r = load('server:\n  direct_tls: true\naccount:\n  password_env: X\n');
  const i = find(r.errors, 'account.jid');
  assert.is(i.message, 'is required');
  assert.is(i.line, 3);
});

test('YAML syntax errors carry their line', () => {
  const r = load(MIN + 'session:\n  ping_interval_s: [1, 2\npresence:\n  status: x\n');
  assert.is(r.config, undefined);
  assert.ok(r.errors.length >= 1);
  assert.match(r.errors[0].message, /^YAML syntax:/);
  assert.ok(r.errors[0].line! >= 5 && r.errors[0].line! <= 7, `line ${r.errors[0].line}`);
});

test('a duplicate key is a syntax error on its line', () => {
  const r = load(MIN + 'log:\n  level: info\n  level: debug\n');
  assert.is(r.errors.length, 1);
  assert.is(r.errors[0].line, 6);
});

test('all errors are collected, sorted by line', () => {
  const r = load(`account:
  jid: not-a-jid
  password_env: X
server:
  port: 99999
presence:
  priority: high
pubsub:
  access_model: public
drivers:
  - id: a
    kind: gpio
`);
  const paths = r.errors.map((e) => e.path);
  assert.equal(paths, ['account.jid', 'server.port', 'presence.priority', 'pubsub.access_model', 'drivers[0].kind']);
  assert.equal(r.errors.map((e) => e.line), [2, 5, 7, 9, 12]);
  assert.match(find(r.errors, 'server.port').message, 'out of range');
});

test('out-of-range harmless values are clamped with a warning', () => {
  const r = load(MIN + 'session:\n  ping_interval_s: 2\n  max_stanza_bytes: 100\n');
  assert.equal(r.errors, []);
  assert.is(r.config!.session.pingIntervalS, 5);
  assert.is(r.config!.session.maxStanzaBytes, 10000);
  const w = find(r.warnings, 'session.ping_interval_s');
  assert.is(w.line, 5);
  assert.match(w.message, 'using 5');
});

test('driver options are checked per kind, with the camelCase object produced', () => {
  const r = load(MIN + `drivers:
  - id: sim
    kind: simulated
    poll_interval_s: 2
    options:
      things:
        - id: t1
          fields:
            - { name: temp, type: numeric, period_s: 30 }
  - id: sim
    kind: w1
    options:
      devices: [28-00000abc]
      colour: blue
`);
  assert.match(find(r.errors, 'drivers[1].id').message, 'already used');
  const dev = find(r.errors, 'drivers[1].options.devices[0]');
  assert.is(dev.line, 16);
  assert.is(find(r.errors, 'drivers[1].options.colour').line, 17);

  const ok = load(MIN + 'drivers:\n  - id: sim\n    kind: simulated\n    poll_interval_s: 2\n    options:\n      things:\n        - id: t1\n          fields:\n            - { name: temp, type: numeric, period_s: 30 }\n');
  assert.equal(ok.errors, []);
  const d = ok.config!.drivers[0];
  assert.is(d.kind, 'simulated');
  if (d.kind === 'simulated') {
    assert.is(d.options.things[0].fields[0].periodS, 30);
    assert.is(d.options.pollIntervalMs, 2000);
  }
});

test('an enum field without values is reported', () => {
  const r = configFromObject({ account: { jid: 'a@b.c' }, drivers: [{ id: 's', kind: 'simulated', options: { things: [{ id: 't', fields: [{ name: 'm', type: 'enum' }] }] } }] });
  assert.match(find(r.errors, 'drivers[0].options.things[0].fields[0].values').message, 'needs its list');
});

test('files that must exist are checked, relative to the config file', () => {
  const r = load(MIN + 'tls:\n  ca_file: missing-ca.pem\n');
  const i = find(r.errors, 'tls.ca_file');
  assert.is(i.line, 5);
  assert.match(i.message, 'does not exist');
  writeFileSync(join(dir, 'ca.pem'), 'x');
  const ok = load(MIN + 'tls:\n  ca_file: ca.pem\n');
  assert.equal(ok.errors, []);
  assert.is(ok.config!.tls.caFile, join(dir, 'ca.pem'));
});

test('a resource in the JID moves to account.resource; a conflicting one is an error', () => {
  const r = configFromObject({ account: { jid: 'a@example.org/kitchen', password_env: 'P' } });
  assert.is(r.config!.account.jid, 'a@example.org');
  assert.is(r.config!.account.resource, 'kitchen');
  const bad = configFromObject({ account: { jid: 'a@example.org/kitchen', resource: 'hall' } });
  assert.match(find(bad.errors, 'account.resource').message, 'differs');
});

test('cross-field rules: one password source, interval order, PLAIN needs allow_plain', () => {
  const r = load(`account:
  jid: a@example.org
  password_env: P
  password_file: /x
publish:
  min_interval_s: 600
  max_interval_s: 60
sasl:
  mechanisms: [PLAIN]
`);
  assert.match(find(r.errors, 'account.password_env').message, 'only one');
  assert.is(find(r.errors, 'publish.min_interval_s').line, 6);
  assert.match(find(r.errors, 'sasl.mechanisms').message, 'allow_plain');
});

test('thing overrides merge over the defaults', () => {
  const r = configFromObject({
    account: { jid: 'a@example.org' },
    publish: { deadband: 0.1, max_interval_s: 0 },
    things: { cpu: { node: 'custom-node', publish: { min_interval_s: 10, fields: { temperature: { deadband: 0.2 } } }, pubsub: { max_items: 10, access_model: 'open' } } },
  });
  assert.equal(r.errors, []);
  const c = r.config!;
  assert.equal(publishPolicyFor(c, 'cpu'), { deadband: 0.1, minIntervalMs: 10000, deadbands: { temperature: 0.2 } });
  assert.equal(publishPolicyFor(c, 'other'), { deadband: 0.1, minIntervalMs: 0 });
  const p = pubsubFor(c, 'cpu');
  assert.is(p.node, 'custom-node');
  assert.is(p.maxItems, 10);
  assert.is(p.accessModel, 'open');
  assert.is(pubsubFor(c, 'disk').node, 'urn:xiota:disk');
});

test('a missing file and an empty file are reported, not thrown', () => {
  const r = loadConfig(join(dir, 'nope.yaml'));
  assert.match(r.errors[0].message, 'xiota init');
  const e = load('');
  assert.match(e.errors[0].message, 'empty');
});

test('the starter config loads without errors and matches examples/xiota.yaml', () => {
  const r = load(starterConfig());
  assert.equal(r.errors, []);
  assert.equal(r.warnings, []);
  const kinds = r.config!.drivers.map((d) => d.kind);
  assert.equal(kinds, ['simulated', 'linux']);
  assert.ok(r.config!.account.passwordFile?.includes('CREDENTIALS_DIRECTORY'));
  const example = readFileSync(repoFile('examples/xiota.yaml'), 'utf8');
  assert.is(example, starterConfig());
  // Every top-level section is present in the starter.
  for (const k of ['account', 'server', 'tls', 'sasl', 'session', 'presence', 'outbox', 'pubsub', 'publish', 'drivers', 'things', 'log']) {
    assert.match(starterConfig(), new RegExp(`^${k}:`, 'm'));
  }
});

test('the commented-out driver and thing examples of the starter are valid too', () => {
  const text = starterConfig();
  const from = text.indexOf('\ndrivers:');
  const to = text.indexOf('\nlog:');
  // Uncomment `# key:` and `# - ...` lines of the drivers and things sections only.
  const body = text.slice(from, to).replace(/^(\s*)# (\s*)(?=[\w-]+:|- )/gm, '$1$2');
  const r = load(text.slice(0, from) + body + text.slice(to));
  assert.equal(r.errors, []);
  assert.equal(r.config!.drivers.map((d) => d.kind), ['simulated', 'linux', 'w1', 'iio', 'bridge', 'serial', 'mqtt']);
  assert.is(pubsubFor(r.config!, 'greenhouse').node, 'greenhouse-climate');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
