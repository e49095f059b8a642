// The xiota-agent config node in account mode (a Node-RED on another machine): the xiota
// library runs inside Node-RED with its own account on a real Prosody, and the same nodes talk
// to its in-process API. Without the xiota package the node says how to install it; with it,
// xiota-read reads a gateway (a real `xiota run`) by XEP-0323 through the account's session,
// a flow-defined thing is published and read back, and closing stops the in-process session.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import Module from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventEmitter } from 'node:events';
import { startProsody, type ProsodyServer } from '../../scripts/local-prosody';
import { removeOnExit } from '../servers/process';
import { waitFor } from '../session/_helpers';
import { startXiotaDaemon, tcpStreamsTo, type XiotaDaemon } from '../servers/xiota-daemon';
import { paletteFile } from './_palette';

interface FlowNode { id: string; type: string; [k: string]: unknown }
interface RuntimeNode extends EventEmitter { receive(msg: Record<string, unknown>): void; link?: { state: string; sessionOnline: boolean; opens: number; request<T>(method: string, params?: unknown): Promise<T> } }
interface TestHelper {
  init(runtimePath: string): void;
  settings(s: Record<string, unknown>): void;
  load(nodes: unknown[], flow: FlowNode[], creds?: Record<string, unknown>): Promise<void>;
  unload(): Promise<void>;
  getNode(id: string): RuntimeNode | null;
}
interface Msg { payload?: unknown; xiota?: Record<string, unknown> }

// eslint-disable-next-line @typescript-eslint/no-require-imports
const helper = require('node-red-node-test-helper') as TestHelper;
helper.init(require.resolve('node-red'));
const NODES = ['xiota-agent', 'xiota-read', 'xiota-thing']
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  .map((n) => require(paletteFile(`${n}.js`)) as unknown);

const t = suite('palette account mode (xiota in Node-RED\'s process)');
let prosody: ProsodyServer;
let gw: XiotaDaemon;
const NR_PW = 'nr-Pass-9';
let userDir: string;

t.before(async () => {
  prosody = await startProsody({ users: [{ user: 'gw', password: 'gw-Pass-1' }, { user: 'nr', password: NR_PW }] });
  gw = await startXiotaDaemon({
    prosody, user: 'gw', password: 'gw-Pass-1', flushMs: 20, accessYaml: `  owners: [nr@${prosody.host}]`,
    thingsYaml: `        - id: greenhouse
          fields:
            - { name: temperature, type: numeric, unit: "°C", precision: 2, waveform: constant, initial: 21 }
            - { name: fan, type: boolean, writable: true, initial: false }`,
  });
  userDir = mkdtempSync(join(tmpdir(), 'xiota-nr-user-'));
  removeOnExit(userDir);
  helper.settings({ userDir });
});

t.after(async () => {
  await gw?.stop();
  await prosody?.stop();
});

t.after.each(async () => {
  await helper.unload();
});

const flow = (): FlowNode[] => [
  { id: 'cfg', type: 'xiota-agent', name: 'remote Node-RED', mode: 'account', socket: '', jid: `nr@${prosody.host}`, server: `127.0.0.1:${prosody.c2sPort}`, ca: prosody.caFile, owners: '' },
  { id: 'rd', type: 'xiota-read', agent: 'cfg', jid: '', thing: '', field: '', fresh: false, timeout: 10, wires: [['out']] },
  { id: 'thing', type: 'xiota-thing', agent: 'cfg', thing: 'porch', fields: [{ name: 'lux', type: 'numeric', unit: 'lx' }] },
  { id: 'out', type: 'helper' },
];
const creds = () => ({ cfg: { password: NR_PW } });

function calls(id: string, what: 'warn' | 'error'): string[] {
  const got: string[] = [];
  helper.getNode(id)!.on(`call:${what}`, (c: { args: unknown[] }) => got.push(String(c.args[0])));
  return got;
}

t('without the xiota package: the config node says what to install, and nothing connects', async () => {
  const streams = tcpStreamsTo(prosody.c2sPort);
  await helper.load(NODES, flow(), creds());
  const warns = calls('cfg', 'warn');
  await waitFor('the warning', () => warns.length > 0, 5000);
  assert.match(warns[0]!, /needs the xiota package in Node-RED: run `npm install \/path\/to\/xiota-0\.1\.0\.tgz` \(made by `npm pack` in the xiota repository; it is not on the npm registry\) in your Node-RED user directory/);
  assert.not.match(warns.join('\n'), new RegExp(NR_PW), 'the password is not logged');
  assert.is(tcpStreamsTo(prosody.c2sPort), streams);
});

t('with it: one in-process session; a remote readout, a flow-defined thing published and read back; close stops the session', async () => {
  // As `npm install xiota` in the user directory would: the repo's package, found by name.
  const nodePath = join(userDir, 'node_modules');
  mkdirSync(nodePath, { recursive: true });
  symlinkSync(join(__dirname, '../../..'), join(nodePath, 'xiota'));
  process.env.NODE_PATH = nodePath;
  (Module as unknown as { _initPaths(): void })._initPaths();

  const streams = tcpStreamsTo(prosody.c2sPort);
  await helper.load(NODES, flow(), creds());
  const out: Msg[] = [];
  helper.getNode('out')!.on('input', (m: Msg) => out.push(m));
  const errors = calls('rd', 'error');
  await waitFor('the account online', () => helper.getNode('cfg')!.link!.state === 'connected' && helper.getNode('cfg')!.link!.sessionOnline, 15_000);
  assert.is(tcpStreamsTo(prosody.c2sPort), streams + 1, 'one XMPP session for the config node');

  helper.getNode('rd')!.receive({ xiota: { jid: gw.fullJid, thing: 'greenhouse' } });
  await waitFor('the readout', () => out.length > 0 || errors.length > 0, 15_000);
  assert.equal(errors, []);
  assert.equal(out[0]!.payload, { temperature: 21, fan: false });

  helper.getNode('thing')!.receive({ payload: 412 });
  await waitFor('porch readable', async () => {
    out.length = 0;
    helper.getNode('rd')!.receive({ xiota: { thing: 'porch' } });
    await waitFor('an answer', () => out.length > 0 || errors.length > 0, 5000);
    return (out[0]?.payload as { lux?: number } | undefined)?.lux === 412 ? true : undefined;
  }, 10_000, 200);

  const t0 = Date.now();
  await helper.unload();
  const ms = Date.now() - t0;
  assert.ok(ms < 3000, `close took ${ms} ms`);
  await waitFor('the session ended', () => tcpStreamsTo(prosody.c2sPort) === streams, 5000);
  console.log(`  [account mode close ${ms} ms]`);
  await helper.load(NODES, [{ id: 'h', type: 'helper' }]);
});

t('two config nodes on one account: each binds its own resource (default from its node id, or its setting), both stay online', async () => {
  const streams = tcpStreamsTo(prosody.c2sPort);
  const account = { type: 'xiota-agent', mode: 'account', socket: '', jid: `nr@${prosody.host}`, server: `127.0.0.1:${prosody.c2sPort}`, ca: prosody.caFile, owners: '' };
  await helper.load(NODES, [
    { id: 'cfgA', name: 'A', resource: '', ...account },
    { id: 'cfgB', name: 'B', resource: 'kitchen', ...account },
    { id: 'rdA', type: 'xiota-read', agent: 'cfgA', jid: '', thing: '', field: '', fresh: false, timeout: 10, wires: [[]] },
    { id: 'rdB', type: 'xiota-read', agent: 'cfgB', jid: '', thing: '', field: '', fresh: false, timeout: 10, wires: [[]] },
  ], { cfgA: { password: NR_PW }, cfgB: { password: NR_PW } });
  const a = helper.getNode('cfgA')!.link!;
  const b = helper.getNode('cfgB')!.link!;
  await waitFor('both accounts online', () => a.state === 'connected' && a.sessionOnline && b.state === 'connected' && b.sessionOnline, 15_000);
  const [sa, sb] = await Promise.all([a.request<{ jid: string; resource: string }>('agent.status'), b.request<{ jid: string; resource: string }>('agent.status')]);
  assert.is(sa.resource, 'node-red-cfgA');
  assert.is(sb.resource, 'kitchen');
  // With one resource the server would end the older session (RFC 6120 7.7.2.2) and each
  // reconnect would end the other's: give it time to show.
  await new Promise((r) => setTimeout(r, 2000));
  assert.ok(a.sessionOnline && b.sessionOnline, 'both still online');
  assert.is(a.opens, 1, 'A never reconnected');
  assert.is(b.opens, 1, 'B never reconnected');
  assert.is(tcpStreamsTo(prosody.c2sPort), streams + 2, 'two XMPP sessions, one per config node');
  await helper.unload();
  await waitFor('both sessions ended', () => tcpStreamsTo(prosody.c2sPort) === streams, 5000);
  await helper.load(NODES, [{ id: 'h', type: 'helper' }]);
});

t.run();
