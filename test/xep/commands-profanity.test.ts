// Profanity 0.13.1 (Debian) driven in tmux against the agent on a real Prosody: log in (TLS
// verified against the test CA through `tls.certpath`), `/cmd list` and `/cmd exec` on the
// agent's full JID, a set through Profanity's form (which submits with no `action` and does not
// enforce <range>), and a chat `read`. Assertions are on the captured screen.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../agent/agent';
import { configFromObject } from '../../agent/config';
import * as commandsModule from '../../agent/commands';
import { MODULES, type AgentModule } from '../../agent/modules';
import { createSimulatedDriver } from '../../drivers/simulated';
import { startProsody, type ProsodyServer } from '../../scripts/local-prosody';
import { waitFor } from '../session/_helpers';

const t = suite('ad-hoc commands from Profanity');
const TMUX = ['-L', `xiota-profanity-${process.pid}`];
let srv: ProsodyServer;
let dir: string;
let agent: Agent;
let dev: string;
let started = false;

const modules: AgentModule[] = MODULES.map((m) => (m.name !== 'commands' ? m : {
  name: 'commands', install: (ctx, d) => { commandsModule.install(ctx, d, { rangeOf: (th, f) => (th === 'greenhouse' && f === 'setpoint' ? { min: 5, max: 30 } : undefined) }); },
}));

function tmux(...args: string[]): string {
  return execFileSync('tmux', [...TMUX, ...args], { encoding: 'utf8' });
}

function screen(): string {
  return tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', 'prof');
}

/** Types a line into Profanity and waits until the screen matches. */
async function type(line: string, expect?: RegExp, timeoutMs = 10_000): Promise<string> {
  tmux('send-keys', '-t', 'prof', '-l', line);
  tmux('send-keys', '-t', 'prof', 'Enter');
  if (!expect) return screen();
  try {
    return await waitFor(`${expect} after ${line}`, () => { const s = screen(); return expect.test(s) ? s : undefined; }, timeoutMs, 100);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- screen ---\n${screen()}`);
  }
}

t.before(async () => {
  // Profanity asks the server for the commands feature before it lists a contact's commands.
  srv = await startProsody({ users: [{ user: 'dev', password: 'devpass' }, { user: 'alice', password: 'alicepass' }], modules: ['adhoc'] });
  dir = mkdtempSync(join(tmpdir(), 'xiota-profanity-'));
  const r = configFromObject({
    account: { jid: `dev@${srv.host}/gw`, password: 'devpass' },
    server: { host: '127.0.0.1', port: srv.c2sPort },
    tls: { ca_file: srv.caFile },
    outbox: { dir: join(dir, 'outbox'), flush_interval_ms: 20 },
    access: { owners: [`alice@${srv.host}`] },
  });
  assert.equal(r.errors, []);
  const driver = createSimulatedDriver('sim', {
    seed: 1, pollIntervalMs: 200,
    things: [{ id: 'greenhouse', name: 'Greenhouse', fields: [
      { name: 'temperature', type: 'numeric', unit: '°C', precision: 1, waveform: 'constant', initial: 22.5 },
      { name: 'setpoint', type: 'numeric', unit: '°C', precision: 1, writable: true, initial: 21 },
      { name: 'fan', type: 'boolean', writable: true, initial: false },
    ] }],
  });
  agent = new Agent({ config: r.config!, credentials: { password: 'devpass', source: 'password', warnings: [] }, drivers: [driver], modules });
  await agent.start();
  await waitFor('agent online', () => agent.client.state === 'online', 15_000);
  await waitFor('first reading', () => agent.drivers.latestReadings().length === 1, 10_000);
  dev = agent.client.jid;

  // A throwaway HOME: the account, and the test CA as Profanity's certificate path.
  const home = join(dir, 'home');
  const certs = join(home, 'certs');
  mkdirSync(join(home, '.local/share/profanity'), { recursive: true });
  mkdirSync(join(home, '.config/profanity'), { recursive: true });
  mkdirSync(certs, { recursive: true });
  copyFileSync(srv.caFile, join(certs, 'ca.crt'));
  execFileSync('openssl', ['rehash', certs]);
  writeFileSync(join(home, '.local/share/profanity/accounts'),
    `[alice@${srv.host}]\nenabled=true\njid=alice@${srv.host}\nserver=127.0.0.1\nport=${srv.c2sPort}\nresource=prof\npassword=alicepass\n`);
  writeFileSync(join(home, '.config/profanity/profrc'), `[connection]\ntls.certpath=${certs}\n`);
  const env = `env HOME=${home} XDG_CONFIG_HOME=${home}/.config XDG_DATA_HOME=${home}/.local/share TERM=xterm-256color`;
  tmux('new-session', '-d', '-s', 'prof', '-x', '200', '-y', '60', `${env} profanity -a alice@${srv.host}`);
  started = true;
  await waitFor('Profanity logged in', () => /logged in successfully/.test(screen()) || undefined, 15_000, 100).catch((e) => { throw new Error(`${(e as Error).message}\n${screen()}`); });
});

t.after(async () => {
  if (started) {
    // kill-server leaves its socket file behind: remove it too.
    let socket = '';
    try { socket = tmux('display-message', '-p', '#{socket_path}').trim(); tmux('kill-server'); } catch { /* already gone */ }
    if (socket) rmSync(socket, { force: true });
  }
  await agent?.stop();
  await srv?.stop();
  rmSync(dir, { recursive: true, force: true });
});

t('/cmd list on the full JID shows the owner every command', async () => {
  const s = await type(`/cmd list ${dev}`, /Ad hoc commands:[\s\S]*!\s+status\s*\n/);
  const listed = s.slice(s.lastIndexOf('Ad hoc commands:')).split('\n').map((l) => /!\s+(\w+)\s*$/.exec(l)?.[1]).filter(Boolean);
  assert.equal([...listed].sort(), ['access', 'alerts', 'history', 'read', 'set', 'status']);
});

t('/cmd exec status shows every field as a labelled line (Profanity draws no tables)', async () => {
  const s = await type(`/cmd exec status ${dev}`, /Form title: Status[\s\S]*Greenhouse fan: off/);
  assert.match(s, /\[field1\] Greenhouse temperature \(°C\): 22\.5 °C, (just now|\d+ s ago)/);
  assert.match(s, /\[field2\] Greenhouse setpoint \(°C\): 21\.0 °C/);
  await type('/form cancel');
  await type('/win 1');
});

t('/cmd exec set: an out-of-range value comes back with the error; a good one is set', async () => {
  let s = await type(`/cmd exec set ${dev}`, /Form title: Set[\s\S]*\[field2\] Greenhouse fan/);
  assert.match(s, /\[field1\] Greenhouse setpoint \(°C\): 21\.0/);
  await type('/field1 99');
  s = await type('/form submit', /got "99"/);
  assert.match(s, /Greenhouse setpoint \(°C\)" \(greenhouse\.setpoint\): expected a decimal number such as 21\.5 from 5 to 30, got "99"/);
  assert.is(agent.drivers.latestReadings()[0]!.values.find((v) => v.field === 'setpoint')!.value, 21);
  // The form came back (Profanity numbers its fields again, the error field first).
  const n = /\[field(\d+)\] Greenhouse setpoint/.exec(s.slice(s.lastIndexOf('got "99"')))?.[1];
  assert.ok(n, s);
  await type(`/field${n} 24`);
  s = await type('/form submit', /Set greenhouse\.setpoint = 24\.0 °C\./);
  await waitFor('setpoint 24 on the device', () => agent.drivers.latestReadings()[0]!.values.find((v) => v.field === 'setpoint')!.value === 24, 5000);
  await type('/win 1');
});

t('chat: `read greenhouse` answered in the chat window', async () => {
  assert.ok(MODULES.some((m) => m.name === 'chat'), 'the agent lists the chat module');
  const s = await type(`/msg ${dev.split('/')[0]} read greenhouse`, /temperature: 22\.5 °C/, 10_000);
  assert.match(s, /me: read greenhouse/);
});

t.run();
