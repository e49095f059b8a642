// `xiota claim`: what an owner needs to claim this device in its Thing Registry (XEP-0347
// 'Claiming Ownership of a Thing'): the iotdisco: URI as text and as a QR code for a phone,
// and the claim string of XEP-0347 0.5.1. The KEY is the one in the state directory
// (discovery.json, shared with the running agent; made here when the agent has not run yet).
//   xiota claim [--config FILE] [--no-qr]
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { qrText } from '../../firmware-bridge/host/cli';
import { defaultConfigPaths, formatIssues, loadConfig } from '../config';
import { claimString, iotDiscoUri, loadOrCreateState, metaTags } from '../iot/discovery-meta';

export const CLAIM_USAGE = `Usage: xiota claim [--config FILE] [--no-qr]

Prints the iotdisco: URI (and its QR code) an owner scans or pastes into a client to claim this
device in its Thing Registry (XEP-0347). Needs a discovery: section in the config.

Options:
  -c, --config FILE   config file (default ./xiota.yaml if present, else /etc/xiota/xiota.yaml)
      --no-qr         the URI and the claim string only
  -h, --help          show this text`;

interface Io { out: (s: string) => void; err: (s: string) => void; env: NodeJS.ProcessEnv }

export function claimMain(argv: string[], io: Io): number {
  let v;
  try {
    v = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, 'no-qr': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }).values;
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
  let st;
  try {
    st = loadOrCreateState(stateDir);
  } catch (e) {
    io.err(`xiota claim: ${(e as Error).message}`);
    return 1;
  }
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
