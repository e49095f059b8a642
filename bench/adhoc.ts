// Ad-hoc `status` latency: a person runs the XEP-0050 `status` command and the completed
// result arrives at their client, while the device publishes 100 readings/s. xiota (the whole
// agent with its module list, in its own process, with the CLI's node flags) side by side with
// the anchor: a slixmpp bot doing the same job (publishing 100 items/s to its PEP node and
// answering `status` through slixmpp's xep_0050 responder). Both asked by the same two people,
// in alternating rounds: a slixmpp client (test/clients/adhoc_client.py, its xep_0050 plugin)
// and xiota's own XmppClient.
//   npx tsc -p . && node dist/bench/adhoc.js [asks-per-round] [rounds]
import { join } from 'node:path';
import { XmppClient } from '../agent/session/client';
import { x } from '../agent/xml/element';
import { NS_COMMANDS } from '../agent/xep/commands';
import { startProsody } from '../scripts/local-prosody';
import { AdhocClient, startBot } from '../test/xep/_adhoc';
import { shebangFlags } from './rss';
import { pct, spawnJsonChild, type Child } from './child';

const ASKS = Number(process.argv[2] ?? 100);
const ROUNDS = Number(process.argv[3] ?? 2);
const GAP_MS = 50;
const RATE = 100;

function spawnXiota(port: number, host: string, caFile: string, owner: string): Child {
  const flags = shebangFlags(join(__dirname, '..', 'agent', 'cli', 'main.js'));
  return spawnJsonChild('xiota', [...flags, join(__dirname, 'agent-child.js'), String(port), host, 'xiota', 'xiotapass', caFile, owner, 'room']);
}

/** xiota's own client as the person: the command iq out, its result in, timed here. */
async function nodeBench(c: XmppClient, to: string, n: number, gapMs: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await c.iq(x('iq', { type: 'set', to }, x('command', { xmlns: NS_COMMANDS, node: 'status', action: 'execute' })), 10_000);
    const status = res.getChild('command', NS_COMMANDS)?.attrs.status;
    if (status !== 'completed') throw new Error(`${to} answered status=${status}: ${res.toString().slice(0, 300)}`);
    out.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, gapMs));
  }
  return out;
}

async function main(): Promise<void> {
  // PEP items in memory, as bench/publish.ts: the file store rewrites a node's items on every
  // publish and falls behind 100/s, which would measure the disk instead of the commands.
  const srv = await startProsody({ extraConfig: 'storage = { pep_data = "memory" }' });
  for (const u of ['xiota', 'bot', 'person', 'nodeperson']) await srv.register(u, `${u}pass`);
  let child: Child | undefined;
  let bot: Awaited<ReturnType<typeof startBot>> | undefined;
  let py: AdhocClient | undefined;
  let node: XmppClient | undefined;
  try {
    // Both people are owners of xiota: `status` needs read, and so does the bot's (no access at all).
    child = spawnXiota(srv.c2sPort, srv.host, srv.caFile, `person@${srv.host}`);
    const ready = await child.next('ready');
    if (!(ready.modules as string[]).includes('commands')) throw new Error('the agent has no commands module');
    const XIOTA = String(ready.jid);
    bot = await startBot(srv, 'bot', 'botpass', RATE);
    const BOT = bot.jid;
    py = await AdhocClient.start(srv, 'person', 'personpass');
    node = new XmppClient({ jid: `person@${srv.host}`, resource: 'node', credentials: { username: 'person', password: 'personpass' }, server: { host: '127.0.0.1', port: srv.c2sPort }, tls: { caFile: srv.caFile } });
    await node.connectOnce();
    const askPy = async (to: string, n: number) => py!.bench(to, 'status', n, GAP_MS);
    const seconds = Math.ceil((ROUNDS * 4 * ASKS * (GAP_MS + 10)) / 1000) + 30;
    child.send(`run ${RATE} ${seconds}`);
    // Warm up both, with both people.
    await askPy(XIOTA, 10);
    await askPy(BOT, 10);
    await nodeBench(node, XIOTA, 10, GAP_MS);
    await nodeBench(node, BOT, 10, GAP_MS);
    const res: Record<string, number[]> = { 'slixmpp person → xiota': [], 'slixmpp person → slixmpp bot': [], 'xiota person → xiota': [], 'xiota person → slixmpp bot': [] };
    for (let r = 0; r < ROUNDS; r++) {
      res['slixmpp person → xiota']!.push(...await askPy(XIOTA, ASKS));
      res['slixmpp person → slixmpp bot']!.push(...await askPy(BOT, ASKS));
      res['xiota person → xiota']!.push(...await nodeBench(node, XIOTA, ASKS, GAP_MS));
      res['xiota person → slixmpp bot']!.push(...await nodeBench(node, BOT, ASKS, GAP_MS));
    }
    const done = await child.next('done', (seconds + 60) * 1000);
    console.log(`\nad-hoc \`status\` (XEP-0050 execute -> completed result form), ${ASKS * ROUNDS} runs per pair (${GAP_MS} ms apart), devices publishing ${RATE} readings/s; loopback Prosody ${srv.host}, storage = { pep_data = "memory" }`);
    console.log(`xiota published ${String(done.sent)} readings, ${String(done.acked)} acked by the server during the run\n`);
    console.log('| asker → device | p50 ms | p99 ms | max ms | answers |');
    console.log('|---|---|---|---|---|');
    for (const [k, v] of Object.entries(res)) console.log(`| ${k} | ${pct(v, 50).toFixed(1)} | ${pct(v, 99).toFixed(1)} | ${Math.max(...v).toFixed(1)} | ${v.length} |`);
  } finally {
    child?.send('quit');
    await py?.close();
    await bot?.close();
    await node?.stop().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
    child?.proc.kill();
    await srv.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
