// The compiled `xiota` command as a user runs it: help, argument and config errors (exit 2),
// init, check against a real Prosody with flags only (exit 0, and 1 on a wrong password
// without echoing it), read with a simulated driver, and run until SIGTERM.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../agent/config';
import { startProsody, type ProsodyServer } from '../../scripts/local-prosody';
import { envWith, killAll, runCli, startScript } from './_run';
import { waitFor } from '../session/_helpers';

const t = suite('xiota cli');
let srv: ProsodyServer;
let dir: string;
const PASS = 'dev-Pass-7781';

t.before(async () => {
  srv = await startProsody({ users: [{ user: 'dev', password: PASS }] });
  dir = mkdtempSync(join(tmpdir(), 'xiota-cli-'));
});
t.after(async () => {
  killAll();
  await srv?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const SIM_DRIVER = `drivers:
  - id: sim
    kind: simulated
    poll_interval_s: 1
    options:
      seed: 3
      things:
        - id: porch
          fields:
            - { name: lux, type: numeric, unit: lx, precision: 1, waveform: sine, min: 0, max: 900, period_s: 60 }
            - { name: door, type: boolean }
`;

function writeConfig(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, body, { mode: 0o600 });
  return p;
}

function accountYaml(password = PASS): string {
  const pw = writeConfig(`pw-${Math.random().toString(36).slice(2)}`, password + '\n');
  return `account:
  jid: dev@${srv.host}
  password_file: ${JSON.stringify(pw)}
server:
  host: 127.0.0.1
  port: ${srv.c2sPort}
tls:
  ca_file: ${JSON.stringify(srv.caFile)}
outbox:
  dir: ${JSON.stringify(join(dir, 'state-' + Math.random().toString(36).slice(2), 'outbox'))}
pubsub:
  access_model: open
log:
  format: text
`;
}

t('help: usage on stdout, exit 0', async () => {
  const r = await runCli(['help'], { env: envWith() });
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /Usage: xiota <command>/);
  assert.match(r.stdout, /check/);
});

t('an unknown flag: exit 2, the flag named', async () => {
  const r = await runCli(['check', '--jdi', 'dev@x'], { env: envWith() });
  assert.is(r.code, 2);
  assert.match(r.stderr, /--jdi/);
});

t('init writes a starter config that loadConfig accepts', async () => {
  const path = join(dir, 'x.yaml');
  const r = await runCli(['init', '--config', path], { env: envWith() });
  assert.is(r.code, 0, r.stderr);
  const loaded = loadConfig(path, { env: {}, checkFiles: false });
  assert.equal(loaded.errors, []);
  assert.ok(loaded.config);
  assert.is(loaded.config!.account.jid, 'gateway@example.org');
  // and refuses to overwrite it
  const again = await runCli(['init', '--config', path], { env: envWith() });
  assert.is(again.code, 2);
  assert.match(again.stderr, /already exists/);
});

t('init PATH writes that file (not ./xiota.yaml); refusals exit non-zero and write nothing', async () => {
  const cwd = mkdtempSync(join(dir, 'init-'));
  const path = join(cwd, 'sub-x.yaml');
  const r = await runCli(['init', path], { env: envWith(), cwd });
  assert.is(r.code, 0, r.stderr);
  assert.ok(existsSync(path), 'the named file');
  assert.not.ok(existsSync(join(cwd, 'xiota.yaml')), 'no ./xiota.yaml');
  const before = readFileSync(path, 'utf8');
  writeFileSync(path, before + '# mine\n');
  const again = await runCli(['init', path], { env: envWith(), cwd });
  assert.is(again.code, 2);
  assert.match(again.stderr, /already exists; not overwriting it/);
  assert.match(readFileSync(path, 'utf8'), /# mine\n$/);
  const extra = await runCli(['init', path, 'more'], { env: envWith(), cwd });
  assert.is(extra.code, 2);
  assert.match(extra.stderr, /unexpected argument ".*" "more" after "init"/);
  const noDir = await runCli(['init', join(cwd, 'nope', 'x.yaml')], { env: envWith(), cwd });
  assert.is(noDir.code, 2);
  assert.match(noDir.stderr, /directory does not exist \(create it first: mkdir -p /);
  assert.equal(readdirSync(cwd), ['sub-x.yaml']);
});

t('check with flags only against a real Prosody: exit 0, the report lines', async () => {
  const r = await runCli(['check', '--jid', `dev@${srv.host}`, '--server', `127.0.0.1:${srv.c2sPort}`, '--ca', srv.caFile], {
    env: envWith({ XIOTA_PASSWORD: PASS }),
  });
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`^server +127\\.0\\.0\\.1:${srv.c2sPort}$`, 'm'));
  assert.match(r.stdout, /^tls +TLSv1\.[23] .*verified by ca-file/m);
  assert.match(r.stdout, /^sasl +SCRAM-SHA-/m);
  assert.match(r.stdout, /^sm +enabled/m);
  assert.match(r.stdout, /^ping +[\d.]+ ms/m);
  assert.not.match(r.stdout + r.stderr, new RegExp(PASS));
  // no access: section: the agent runs, but check says nobody would see anything
  assert.match(r.stdout, /^access +WARN no owner configured: .*add your JID under access.owners$/m);
});

t('check with an owner configured: the access line, no warning', async () => {
  const path = writeConfig('owner.yaml', accountYaml() + 'access:\n  owners: [alice@example.org]\n  readers: ["@example.org"]\n');
  const r = await runCli(['check', '--config', path], { env: envWith() });
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^access +1 owner\(s\), 0 controller\(s\), 1 reader\(s\); strangers: refuse$/m);
  assert.not.match(r.stdout, /WARN/);
  // where `xiota run` will serve the local API (no /run/xiota here: api.sock in outbox.dir)
  assert.match(r.stdout, /^api +\/.*\/api\.sock \(mode 660\)$/m);
});

t('check with an api.group the system lacks: exit 1, the api line says what to do (xiota run would stop there)', async () => {
  const path = writeConfig('nogroup.yaml', accountYaml() + 'access:\n  owners: [alice@example.org]\napi:\n  group: xiota-no-such-group\n');
  const r = await runCli(['check', '--config', path], { env: envWith() });
  assert.is(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /^api +FAIL api\.group "xiota-no-such-group" is not a group on this system: create it \(groupadd xiota-no-such-group\) or change api\.group$/m);
});

t('check with a wrong password: exit 1, not-authorized named, the password never printed', async () => {
  const wrong = 'Wr0ng-Secret-551';
  const r = await runCli(['check', '--jid', `dev@${srv.host}`, '--server', `127.0.0.1:${srv.c2sPort}`, '--ca', srv.caFile], {
    env: envWith({ XIOTA_PASSWORD: wrong }),
  });
  assert.is(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /not-authorized/);
  assert.match(r.stderr, /password/);
  assert.not.match(r.stdout + r.stderr, new RegExp(wrong));
  assert.not.match(r.stdout, /^ping/m);
});

t('a config with a wrong type: exit 2, file:line and the key named', async () => {
  const path = writeConfig('bad.yaml', `${accountYaml()}session:\n  ping_interval_s: often\n`);
  const r = await runCli(['check', '--config', path], { env: envWith() });
  assert.is(r.code, 2, r.stdout + r.stderr);
  const lines = accountYaml().split('\n').length; // the session block starts after it
  assert.match(r.stderr, new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${lines + 1}:\\d+: error: session\\.ping_interval_s`));
  assert.match(r.stderr, /often/);
});

t('read with a simulated driver: a table with the thing and its fields', async () => {
  const path = writeConfig('read.yaml', accountYaml() + SIM_DRIVER);
  const r = await runCli(['read', '--config', path], { env: envWith() });
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^THING +FIELD +VALUE +UNIT +TIME/m);
  assert.match(r.stdout, /^porch +lux +\d+\.\d +lx /m);
  assert.match(r.stdout, /^porch +door +(true|false) /m);
});

t('run: session online, then a clean stop on SIGTERM (exit 0)', async () => {
  const path = writeConfig('run.yaml', accountYaml() + SIM_DRIVER);
  const p = startScript(join(__dirname, '../../agent/cli/main.js'), ['run', '--config', path], { env: envWith(), timeoutMs: 20_000 });
  await waitFor('session online', () => /session online/.test(p.out().stderr), 10_000).catch((e: Error) => {
    throw new Error(`${e.message}\n${p.out().stderr}`);
  });
  p.child.kill('SIGTERM');
  const r = await p.done;
  assert.is(r.code, 0, r.stderr);
  assert.is(r.signal, null);
  assert.match(r.stderr, /SIGTERM: stopping/);
  assert.match(r.stderr, /stopped pending=0/);
});

t.run();
