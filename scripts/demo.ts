// `npm run demo [-- --server ejabberd]`: the README's first command. A throwaway local server (Prosody by default), the agent (the real
// `xiota` CLI as a child process) publishing a simulated room and this machine's /proc and
// /sys to its PEP nodes, and a watcher account, one of the device's owners, that follows the
// device (a presence subscription, so PEP's default access_model `presence` lets it in),
// asks it one chat question and prints the readings live as XEP-0060 events arrive. It
// prints the throwaway accounts so you can log in from a real client (Profanity, Gajim) while
// it runs. Ctrl-C stops everything and removes the temp dir. DEMO_SECONDS=N stops by itself
// after N seconds and exits 0 only if the watcher printed a reading (the smoke test).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ensureProsodyInstalled } from './local-prosody';
import { ejabberdctlPath } from './local-ejabberd';
import { parseServerLabel, startServer, SERVER_KINDS, type ServerLabel, type XmppServer } from './servers';
import { XmppClient } from '../agent/session/client';
import { x, type Element } from '../agent/xml/element';
import { parsePubSubEvent, subscribeIq } from '../agent/xep/pubsub';
import { parseFields } from '../agent/xep/sensordata-fields';
import { formatValue } from '../agent/format';
import { loadConfig } from '../agent/config';
import { buildDrivers } from '../agent/cli/drivers';
import type { DriverContext } from '../drivers/types';

const CLI = join(__dirname, '../agent/cli/main.js');
const GATEWAY = { user: 'gateway', password: 'gateway-demo-pass' };
const WATCHER = { user: 'watcher', password: 'watcher-demo-pass' };
// For you, from a real client: an owner too.
const YOU = { user: 'you', password: 'you-demo-pass' };
const PREFIX = 'urn:xiota:';
// Thing ids the config below produces: the simulated room, and the linux driver's thing
// (its driver id, drivers/linux.ts).
const THINGS = ['room', 'host'];

const say = (s: string) => process.stdout.write(`[demo] ${s}\n`);

function demoConfig(srv: XmppServer, passwordFile: string, outbox: string): string {
  return `# Written by scripts/demo.ts for a throwaway local Prosody; see examples/xiota.yaml.
account:
  jid: ${GATEWAY.user}@${srv.host}
  resource: demo
  password_file: ${JSON.stringify(passwordFile)}
server:
  host: 127.0.0.1
  port: ${srv.c2sPort}
tls:
  ca_file: ${JSON.stringify(srv.caFile)}
outbox:
  dir: ${JSON.stringify(outbox)}
  flush_interval_ms: 50
access:
  owners: [${WATCHER.user}@${srv.host}, ${YOU.user}@${srv.host}]
  strangers: ask_owners
presence:
  min_interval_s: 5
pubsub:
  node_prefix: "${PREFIX}"
  access_model: presence             # the default: whoever follows the device's presence
  send_last_published_item: on_sub_and_presence
publish:
  deadband: 0
  min_interval_s: 0
  max_interval_s: 60
drivers:
  - id: sim
    kind: simulated
    poll_interval_s: 1
    options:
      seed: 1
      things:
        - id: room
          name: Simulated room
          fields:
            - { name: temperature, type: numeric, unit: "°C", precision: 2, waveform: sine, min: 18, max: 24, period_s: 60 }
            - { name: humidity, type: numeric, unit: "%", precision: 1, waveform: sine, min: 40, max: 60, period_s: 90 }
            - { name: relay, type: boolean, writable: true, initial: false }
  - id: host
    kind: linux                      # this machine's /proc and /sys (no CPU sensor is fine)
    poll_interval_s: 5
log:
  level: info
  format: text
`;
}

/** Runs the CLI, prefixing each output line; resolves with the exit code. */
function cli(args: string[], prefix: string, onSpawn?: (c: ChildProcess) => void): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    onSpawn?.(child);
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (l) => process.stdout.write(`${prefix} ${l}\n`));
    }
    child.on('error', (e) => { process.stdout.write(`${prefix} could not start: ${e.message}\n`); resolve(1); });
    child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : 1)));
  });
}

type Units = Map<string, string>;

/**
 * `thing/field` -> unit, as the config's drivers declare them. XEP-0323 carries a unit on
 * `<numeric>` only, so without this the watcher would show bytes and seconds (`<int>`) raw.
 */
async function declaredUnits(configFile: string): Promise<Units> {
  const units: Units = new Map();
  const r = loadConfig(configFile, { env: {}, checkFiles: false });
  if (!r.config) return units;
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const ctx: DriverContext = { emit() {}, fault() {}, thingsChanged() {}, log: quiet };
  for (const d of buildDrivers(r.config).drivers) {
    try {
      await d.start(ctx);
      for (const t of d.things()) for (const f of t.fields) if (f.unit) units.set(`${t.id}/${f.name}`, f.unit);
    } catch { /* the agent reports its own driver faults */ }
    await d.stop().catch(() => undefined);
  }
  return units;
}

/** One line per thing: `[watcher] room temperature=21.53 °C humidity=48.2 % relay=off`,
 *  `host memory_total=23.5 GiB uptime=3 d 4 h` (people read bytes and seconds badly). */
function readingLines(el: Element, units: Units): string[] {
  return parseFields(el).map((r) => {
    const show = (f: (typeof r.fields)[number]) => formatValue(f.value!, f.unit ?? units.get(`${r.thing}/${f.field}`));
    const parts = r.fields.map((f) => (f.error !== undefined ? `${f.field}=error(${f.error})` : f.value === undefined ? `${f.field}=?` : `${f.field}=${show(f)}`));
    return `${r.thing} ${parts.join(' ')}`;
  });
}

/** `--server NAME` (or `--server=NAME`): prosody (0.12, Debian 12), ejabberd (23.01), or a full label. */
export function demoServer(args: string[]): ServerLabel {
  const aliases: Record<string, ServerLabel> = { prosody: 'prosody-0.12', ejabberd: 'ejabberd-23.01', 'prosody-13': 'prosody-13', 'ejabberd-24': 'ejabberd-24.12' };
  let value: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--server') value = args[++i];
    else if (a.startsWith('--server=')) value = a.slice('--server='.length);
    else throw new Error(`demo: unexpected argument ${JSON.stringify(a)}; usage: npm run demo [-- --server prosody|ejabberd|${SERVER_KINDS.join('|')}]`);
  }
  if (value === undefined) return 'prosody-0.12';
  if (value && aliases[value]) return aliases[value]!;
  try {
    return parseServerLabel(value ?? '', 'demo --server');
  } catch {
    throw new Error(`demo --server: unknown server ${JSON.stringify(value ?? '')}; use prosody, ejabberd, or one of ${SERVER_KINDS.join(', ')}`);
  }
}

function serverName(label: ServerLabel): string {
  const [kind, version] = label.split('-') as [string, string];
  return `${kind === 'prosody' ? 'Prosody' : 'ejabberd'} ${version}`;
}

/** Debian's ejabberd: installed with apt-get when missing and we are root (its service kept from starting), else says how. */
function ensureEjabberdInstalled(): void {
  if (ejabberdctlPath('23.01')) return;
  if (process.getuid?.() !== 0) throw new Error('ejabberd is not installed. Install it with: sudo apt-get install ejabberd (then: sudo systemctl disable --now ejabberd)');
  say('ejabberd is missing: installing it with apt-get...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'ejabberd'], { stdio: 'inherit', env });
}

async function main(): Promise<number> {
  const seconds = process.env.DEMO_SECONDS ? Number(process.env.DEMO_SECONDS) : undefined;
  if (seconds !== undefined && !(seconds > 0)) {
    process.stderr.write(`DEMO_SECONDS must be a positive number of seconds, not "${process.env.DEMO_SECONDS}"\n`);
    return 2;
  }
  let label: ServerLabel;
  try {
    label = demoServer(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }
  const name = serverName(label);
  if (label === 'prosody-0.12') ensureProsodyInstalled({ log: say });
  else if (label === 'ejabberd-23.01') ensureEjabberdInstalled();
  say(`starting a throwaway ${name} on 127.0.0.1...`);
  const srv = await startServer(label, { users: [GATEWAY, WATCHER, YOU] });
  let agent: ChildProcess | undefined;
  let agentDone: Promise<number> | undefined;
  let watcher: XmppClient | undefined;
  let readings = 0;
  let stopping = false;
  const cleanup = async () => {
    stopping = true;
    if (agent && agent.exitCode === null && agent.signalCode === null) {
      say('stopping the agent (SIGTERM)...');
      agent.kill('SIGTERM');
      const timer = setTimeout(() => agent?.kill('SIGKILL'), 5000);
      await agentDone;
      clearTimeout(timer);
    }
    await watcher?.stop().catch(() => undefined);
    await srv.stop();
    rmSync(srv.dir, { recursive: true, force: true });
    say(`stopped; removed ${srv.dir}`);
  };
  try {
    say(`${name} ${srv.host} on 127.0.0.1:${srv.c2sPort}, accounts ${GATEWAY.user}@${srv.host} and ${WATCHER.user}@${srv.host}`);
    // Throwaway accounts on a throwaway server: printed so a newcomer can try a real client.
    say(`try it from a real client while this runs: log in as ${YOU.user}@${srv.host} password ${YOU.password}, server 127.0.0.1 port ${srv.c2sPort}, trusting ${srv.caFile}`);
    say(`  add ${GATEWAY.user}@${srv.host} to your contacts (you are an owner), then chat "help" to ${GATEWAY.user}@${srv.host}/demo`);
    say(`  e.g. profanity: /connect ${YOU.user}@${srv.host} server 127.0.0.1 port ${srv.c2sPort} tls trust`);
    const passwordFile = join(srv.dir, 'gateway.password');
    writeFileSync(passwordFile, GATEWAY.password + '\n', { mode: 0o600 });
    const configFile = join(srv.dir, 'xiota.yaml');
    writeFileSync(configFile, demoConfig(srv, passwordFile, join(srv.dir, 'outbox')), { mode: 0o600 });
    say(`config written to ${configFile}`);
    say(`  in another terminal while it runs (the local API): node dist/agent/cli/main.js status --config ${configFile}`);
    say(`  (also read --follow room, set room.relay on, with the same --config)`);
    const units = await declaredUnits(configFile);

    say('$ xiota check --config ' + configFile);
    const checked = await cli(['check', '--config', configFile], '[check]');
    if (checked !== 0) {
      say(`xiota check failed (exit ${checked}); see above`);
      return 1;
    }

    say('$ xiota run --config ' + configFile);
    agentDone = cli(['run', '--config', configFile], '[agent]', (c) => { agent = c; });
    void agentDone.then((code) => { if (!stopping) say(`the agent exited unexpectedly (exit ${code})`); });

    watcher = new XmppClient({
      jid: `${WATCHER.user}@${srv.host}/demo`,
      credentials: { username: WATCHER.user, password: WATCHER.password },
      server: { host: '127.0.0.1', port: srv.c2sPort },
      tls: { caFile: srv.caFile },
      iqTimeoutMs: 5000,
    });
    const w = watcher;
    w.on('stanza', (el: Element) => {
      const ev = parsePubSubEvent(el);
      if (!ev) return;
      for (const it of ev.items) {
        if (!it.payload) continue;
        for (const line of readingLines(it.payload, units)) {
          readings++;
          process.stdout.write(`[watcher] ${line}\n`);
        }
      }
    });
    const gateway = `${GATEWAY.user}@${srv.host}`;
    // Like a person's client: approve the device's request to follow us back (RFC 6121 3.1).
    w.router.on('presence', (p) => {
      if (p.attrs.type === 'subscribe' && p.attrs.from === gateway) w.send(x('presence', { to: gateway, type: 'subscribed' }));
      return p.attrs.type === 'subscribe' || undefined;
    });
    let answered: (body: string) => void = () => {};
    w.router.on('message', (m) => {
      const body = m.getChildText('body');
      if (body && m.attrs.from?.startsWith(gateway)) answered(body);
      return body ? true : undefined;
    });
    await w.connectOnce();
    // RFC 6121 8.5.2.1: PEP notifications to the bare JID reach only available resources.
    w.send(x('presence'));
    // Follow the gateway: with access_model presence that is what lets us see its nodes.
    w.send(x('presence', { to: gateway, type: 'subscribe' }));
    // One chat question, as any XMPP client could ask it.
    const ask = async (question: string) => {
      const answer = new Promise<string | undefined>((resolve) => {
        answered = resolve;
        setTimeout(() => resolve(undefined), 5000);
      });
      say(`watcher asks the gateway in chat: ${question}`);
      w.send(x('message', { to: `${gateway}/demo`, type: 'chat' }, x('body', null, question)));
      const body = await answer;
      answered = () => {};
      for (const line of (body ?? '(no answer within 5 s)').split('\n')) process.stdout.write(`[chat] ${line}\n`);
    };
    let asked = false;
    say(`watcher online as ${w.jid}; subscribing to ${THINGS.map((t) => PREFIX + t).join(', ')} on ${gateway}`);
    // A PEP node exists once the agent first publishes to it: retry until each one does.
    const pending = new Set(THINGS);
    const subscribe = async () => {
      for (const thing of [...pending]) {
        try {
          await w.iq(subscribeIq(gateway, PREFIX + thing, w.jid));
          pending.delete(thing);
          say(`watcher subscribed to ${PREFIX + thing}`);
        } catch { /* not created yet */ }
      }
    };
    const deadline = seconds !== undefined ? Date.now() + seconds * 1000 : Infinity;
    let interrupted = false;
    // Ctrl-C reaches the agent too (same process group): its exit is then expected
    const onSignal = () => { interrupted = true; stopping = true; };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    if (seconds === undefined) say('Ctrl-C to stop.');
    while (!interrupted && Date.now() < deadline) {
      if (pending.size && !stopping) await subscribe();
      if (!asked && pending.size === 0 && readings > 0 && !stopping) {
        asked = true;
        await ask('status');
      }
      await new Promise((r) => setTimeout(r, pending.size ? 500 : 200));
    }
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    say(`${readings} reading(s) received by the watcher`);
    if (seconds !== undefined && readings === 0) return 1;
    return 0;
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`[demo] failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
