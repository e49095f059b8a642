// `xiota claim`: what an owner needs to claim this device in its Thing Registry (XEP-0347
// 'Claiming Ownership of a Thing'): the iotdisco: URI as text and as a QR code for a phone,
// and the claim string of XEP-0347 0.5.1. The KEY is the one in the state directory
// (discovery.json, shared with the running agent; made here when the agent has not run yet).
// With --thing ID, the same for one thing behind the gateway (discovery.register_things: its own
// KEY and NAME, XEP-0347 'Registering Thing behind Concentrator'), as the running agent registered it.
// With --unregister, it logs in (resource xiota-claim, beside a running agent) and sends XEP-0347
// 'Unregistering Thing from Registry' for the device and each thing registered behind it.
//   xiota claim [--config FILE] [--no-qr] [--thing ID] [--unregister]
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { qrText } from '../../firmware-bridge/host/cli';
import { defaultConfigPaths, formatIssues, loadConfig, resolvePassword, type Config } from '../config';
import { claimString, iotDiscoUri, loadOrCreateState, metaTags, unregisterElement, writeDiscoveryState } from '../iot/discovery-meta';
import { thingTags, withNode, type DiscoveryStateExt } from '../iot/discovery-things';
import { createLogger } from '../log';
import { x } from '../xml/element';

export const CLAIM_USAGE = `Usage: xiota claim [--config FILE] [--no-qr] [--thing ID] [--unregister]

Prints the iotdisco: URI (and its QR code) an owner scans or pastes into a client to claim this
device in its Thing Registry (XEP-0347). Needs a discovery: section in the config.

Options:
  -c, --config FILE   config file (default ./xiota.yaml if present, else /etc/xiota/xiota.yaml)
      --no-qr         the URI and the claim string only
      --thing ID      a thing behind the gateway (discovery.register_things: true), registered on its own
      --unregister    log in and unregister the device and its things from the registry (uninstalling;
                      a running agent registers again at its next start unless discovery.enabled is false)
  -h, --help          show this text`;

interface Io { out: (s: string) => void; err: (s: string) => void; env: NodeJS.ProcessEnv }

export function claimMain(argv: string[], io: Io): number | Promise<number> {
  let v;
  try {
    v = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, 'no-qr': { type: 'boolean' }, thing: { type: 'string' }, unregister: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }).values;
  } catch (e) {
    io.err(`xiota claim: ${(e as Error).message}\n\n${CLAIM_USAGE}`);
    return 2;
  }
  if (v.help) { io.out(CLAIM_USAGE); return 0; }
  const path = v.config !== undefined ? resolve(v.config) : defaultConfigPaths().find((p) => existsSync(p));
  const r = loadConfig(path, { env: io.env });
  if (!r.config) {
    io.err(formatIssues(path ?? '(no config file)', r.errors, 'error'));
    return 2;
  }
  const d = r.config.discovery;
  if (!d) {
    io.err(`xiota claim: ${path ?? 'the config'} has no discovery: section; add one (registry: auto, tags: {MAN: ..., MODEL: ..., SN: ...}) and restart the agent`);
    return 2;
  }
  // The agent keeps its state beside the outbox (agent/agent.ts): the same directory here.
  const stateDir = dirname(r.config.outbox.dir);
  let st: DiscoveryStateExt;
  try {
    st = loadOrCreateState(stateDir);
  } catch (e) {
    io.err(`xiota claim: ${(e as Error).message}`);
    return 1;
  }
  if (v.unregister) return unregisterNow(r.config, st, d.registry !== 'auto' ? d.registry : st.registry, stateDir, io);
  if (!d.enabled) {
    io.out(`discovery.enabled is false in ${path ?? 'the config'}: ${r.config.account.jid} ${st.state === 'unregistered' ? 'is not registered' : 'unregisters at the next start of the agent'}, so it cannot be claimed.`);
    return 0;
  }
  if (v.thing !== undefined) return claimThing(v.thing, st, d.registry !== 'auto' ? d.registry : st.registry, d.tags, d.registerThings, !v['no-qr'], io);
  if (st.state === 'claimed') {
    io.out(`${r.config.account.jid} is claimed by ${st.owner ?? 'an owner'} (${st.public === false ? 'private' : 'public'}) in ${st.registry ?? 'its registry'}; the owner disowns it there to hand it on.`);
    return 0;
  }
  if (st.state === 'self-owned') {
    io.out(`${r.config.account.jid} is registered as self-owned (discovery.self_owned): nobody claims it.`);
    return 0;
  }
  const registry = d.registry !== 'auto' ? d.registry : st.registry;
  const tags = metaTags(d.tags, st.key);
  const uri = iotDiscoUri(tags, registry);
  io.out(`Claim ${r.config.account.jid} with this URI (scan the code or paste it into a client that claims things):\n`);
  io.out(uri);
  if (!v['no-qr']) io.out('\n' + qrText(uri) + '\n');
  io.out(`XEP-0347 claim string: ${claimString(tags)}`);
  if (!registry) io.out('The registry is found by disco when the agent runs; it is not known yet, so the URI has no R=.');
  if (st.state === 'removed') io.out('Note: the owner removed this device from the registry; it registers again only after a disown or a reset of discovery.json.');
  io.out('Keep it private: whoever holds the KEY can claim the device until its owner does.');
  return 0;
}

/** `--thing ID`: the claim URI of one thing behind the gateway, from what the agent registered. */
function claimThing(id: string, st: DiscoveryStateExt, registry: string | undefined, tags: Record<string, string | number>, on: boolean, qr: boolean, io: Io): number {
  const e = st.things?.[id];
  if (!e) {
    const known = Object.keys(st.things ?? {});
    io.err(on
      ? `xiota claim: no thing "${id}" has been registered behind this gateway${known.length ? ` (registered: ${known.join(', ')})` : ' yet: start the agent once'}`
      : 'xiota claim: --thing needs discovery.register_things: true in the config (then start the agent once)');
    return 2;
  }
  if (e.state === 'claimed') { io.out(`${id} is claimed by ${e.owner ?? 'an owner'}; the owner disowns it in the registry to hand it on.`); return 0; }
  if (e.state === 'removed') { io.out(`${id} was removed from the registry by its owner.`); return 0; }
  const t = thingTags(tags, { id, ...(e.name ? { name: e.name } : {}) }, e.key);
  const uri = iotDiscoUri(t, registry);
  io.out(`Claim ${id} (nodeId ${id}, sourceId ${e.sourceId}) with this URI:\n`);
  io.out(uri);
  if (qr) io.out('\n' + qrText(uri) + '\n');
  io.out(`XEP-0347 claim string: ${claimString(t)}`);
  io.out('Keep it private: whoever holds the KEY can claim the thing until its owner does.');
  return 0;
}

/** `--unregister`: one session of its own, XEP-0347 'Unregistering Thing from Registry' for the
 *  device and every thing registered behind it; discovery.json says unregistered afterwards. */
async function unregisterNow(config: Config, st: DiscoveryStateExt, registry: string | undefined, stateDir: string, io: Io): Promise<number> {
  const live = (s: string | undefined) => s === 'registered' || s === 'self-owned' || s === 'claimed';
  const things = Object.entries(st.things ?? {}).filter(([, e]) => live(e.state));
  if (!live(st.state) && !things.length) { io.out(`${config.account.jid} is not registered; nothing to unregister.`); return 0; }
  if (!registry) { io.err('xiota claim: the registry this device registered with is unknown (discovery.json has none); set discovery.registry'); return 2; }
  const { XmppClient } = require('../session/client') as typeof import('../session/client');
  const { clientOptionsFromConfig } = require('../agent') as typeof import('../agent');
  const log = createLogger({ level: 'warn', write: (l) => io.err(l) });
  const client = new XmppClient({ ...clientOptionsFromConfig(config, resolvePassword(config, io.env), log), resource: 'xiota-claim' });
  try {
    await client.connectOnce();
    let to = registry;
    if (registry.includes('@')) {
      // An account registry is asked at its full JID (agent/iot/service-peer.ts): our presence probes it.
      to = await new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve(registry), 10_000);
        client.router.on('presence', (p) => {
          const from = p.attrs.from ?? '';
          if (!p.attrs.type && from.toLowerCase().startsWith(registry.toLowerCase() + '/')) { clearTimeout(timer); resolve(from); }
          return true;
        });
        client.send(x('presence', null, x('priority', null, '-1')));
      });
    }
    for (const [nodeId, e] of things) await client.iq(x('iq', { type: 'set', to }, withNode(unregisterElement(), { nodeId, sourceId: e.sourceId })), 10_000);
    if (live(st.state)) await client.iq(x('iq', { type: 'set', to }, unregisterElement()), 10_000);
    writeDiscoveryState(stateDir, { ...st, state: 'unregistered', owner: undefined, public: undefined, keyCleared: undefined, tagsHash: undefined, things: {} } as DiscoveryStateExt);
    io.out(`Unregistered ${config.account.jid}${things.length ? ` and ${things.length} thing(s) behind it` : ''} from ${registry}.${config.discovery?.enabled ? ' The agent registers again at its next start unless discovery.enabled is false.' : ''}`);
    return 0;
  } catch (e) {
    io.err(`xiota claim --unregister: ${(e as Error).message}`);
    return 1;
  } finally {
    await client.stop();
  }
}
