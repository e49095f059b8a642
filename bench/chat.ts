// Chat round trip: a person asks `status` in chat and the answer arrives at their client,
// while the device publishes 100 readings/s. xiota (the whole agent with its module list, in
// its own process, run with the CLI's node flags) side by side with the anchor: a slixmpp
// bot doing the same job (publishing 100 items/s to its PEP node, answering `status` with
// its latest value). Both asked by the same two people, one after the other, in alternating
// turns: a slixmpp client (test/clients/chat_client.py) and xiota's own XmppClient.
//   npx tsc -p . && node dist/bench/chat.js [asks-per-round] [rounds]
// Each person asks xiota, then the bot, then waits 250 ms: the chat module answers a person up
// to 5 commands a second. The machine's load average is printed: tails follow it.
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { XmppClient } from '../agent/session/client';
import { bareJid } from '../agent/session/stanza';
import { x, type Element } from '../agent/xml/element';
import { startProsody, type ProsodyServer } from '../scripts/local-prosody';
import { PyClient, spawnPy, type PyProcess } from '../test/chat/_slixmpp';
import { shebangFlags } from './rss';
import { pct, spawnJsonChild, type Child } from './child';

const ASKS = Number(process.argv[2] ?? 60);
const ROUNDS = Number(process.argv[3] ?? 2);
const GAP_MS = 250;
const RATE = 100;
const QUESTION = 'status';

function spawnXiota(srv: ProsodyServer, owner: string): Child {
  const flags = shebangFlags(join(__dirname, '..', 'agent', 'cli', 'main.js'));
  return spawnJsonChild('xiota', [...flags, join(__dirname, 'agent-child.js'), String(srv.c2sPort), srv.host, 'xiota', 'xiotapass', srv.caFile, owner, 'bench']);
}

/** A person on xiota's own client: send, wait for the next chat message from the same bare JID. */
class NodePerson {
  private waiting?: { from: string; resolve: (ms: number) => void; t0: number };
  constructor(readonly client: XmppClient) {
    client.on('stanza', (el: Element) => {
      const w = this.waiting;
      if (!w || el.name !== 'message' || !el.getChild('body') || bareJid(el.attrs.from ?? '') !== w.from) return;
      this.waiting = undefined;
      w.resolve(performance.now() - w.t0);
    });
  }
  ask(to: string, body: string, timeoutMs = 5000): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.waiting = undefined; reject(new Error(`no answer from ${to} within ${timeoutMs} ms`)); }, timeoutMs);
      this.waiting = { from: bareJid(to), t0: performance.now(), resolve: (ms) => { clearTimeout(timer); resolve(ms); } };
      this.client.send(x('message', { to, type: 'chat' }, x('body', null, body)));
    });
  }
  async bench(to: string, body: string, n: number, gapMs: number): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      out.push(await this.ask(to, body));
      await new Promise((r) => setTimeout(r, gapMs));
    }
    return out;
  }
}

async function main(): Promise<void> {
  // As bench/publish.ts: PEP items in Prosody's memory store (its file store rewrites a node's
  // items on every publish and cannot keep up with 100/s, which would delay every stanza).
  const srv = await startProsody({ extraConfig: 'storage = { pep_data = "memory" }' });
  for (const u of ['xiota', 'bot', 'person', 'nodeperson']) await srv.register(u, `${u}pass`);
  const XIOTA = `xiota@${srv.host}`;
  const BOT = `bot@${srv.host}`;
  let bot: PyProcess | undefined;
  let child: Child | undefined;
  let py: PyClient | undefined;
  let node: XmppClient | undefined;
  try {
    child = spawnXiota(srv, `person@${srv.host}`);
    const ready = await child.next('ready');
    if (!(ready.modules as string[]).includes('chat')) throw new Error('the agent has no chat module');
    bot = spawnPy(['bot', BOT, 'botpass', String(srv.c2sPort), srv.caFile, String(RATE)], 'slixmpp bot');
    await bot.next('online', 30_000);
    py = await PyClient.start(srv, 'person', 'personpass');
    node = new XmppClient({ jid: `nodeperson@${srv.host}`, resource: 'bench', credentials: { username: 'nodeperson', password: 'nodepersonpass' }, server: { host: '127.0.0.1', port: srv.c2sPort }, tls: { caFile: srv.caFile } });
    await node.connectOnce();
    node.send(x('presence'));
    const nodePerson = new NodePerson(node);
    if (process.env.BENCH_DEBUG) node.on('stanza', (el: Element) => console.log('NODE GOT', el.toString().slice(0, 200)));
    // nodeperson is no owner of xiota: it gets "not authorized" at first, then nothing for
    // 30 s. Make it one: the bench owner allows it as a reader.
    console.log(`allow: ${await py.text(XIOTA, `allow nodeperson@${srv.host}`)}`);
    const seconds = Math.ceil((ROUNDS * ASKS * (GAP_MS + 60)) / 1000) + 30;
    if (!process.env.BENCH_NO_PUBLISH) child.send(`run ${RATE} ${seconds}`);
    // Warm up both, with both people.
    const warm = await py.bench(XIOTA, QUESTION, 10, GAP_MS);
    if (process.env.BENCH_DEBUG) console.log("warm-up, slixmpp person to xiota (ms):", warm.map((v) => (v === null ? "none" : v.toFixed(1))).join(" "));
    await py.bench(BOT, QUESTION, 10, GAP_MS);
    await nodePerson.bench(XIOTA, QUESTION, 10, GAP_MS);
    await nodePerson.bench(BOT, QUESTION, 10, GAP_MS);
    const res: Record<string, number[]> = { 'slixmpp person → xiota': [], 'slixmpp person → slixmpp bot': [], 'xiota person → xiota': [], 'xiota person → slixmpp bot': [] };
    // One question to each device in turn, so both meet the same load on this shared machine.
    const load0 = loadavg()[0]!;
    for (let i = 0; i < ASKS * ROUNDS; i++) {
      res['slixmpp person → xiota']!.push((await py.ask(XIOTA, QUESTION)).ms ?? NaN);
      res['slixmpp person → slixmpp bot']!.push((await py.ask(BOT, QUESTION)).ms ?? NaN);
      res['xiota person → xiota']!.push(await nodePerson.ask(XIOTA, QUESTION).catch(() => NaN));
      res['xiota person → slixmpp bot']!.push(await nodePerson.ask(BOT, QUESTION).catch(() => NaN));
      await new Promise((r) => setTimeout(r, GAP_MS));
    }
    const load1 = loadavg()[0]!;
    const done = await child.next('done', (seconds + 60) * 1000);
    const answer = await py.text(XIOTA, QUESTION);
    console.log(`\nchat round trip, \`${QUESTION}\` asked ${ASKS * ROUNDS} times per pair (in turns, ${GAP_MS} ms pause per turn), devices publishing ${RATE} readings/s; loopback Prosody ${srv.host}`);
    console.log(`load average (1 min) ${load0.toFixed(2)} at the start, ${load1.toFixed(2)} at the end, on ${cpus().length} cores`);
    console.log(`xiota published ${String(done.sent)} readings, ${String(done.acked)} acked by the server during the run; its answer: ${JSON.stringify(answer)}\n`);
    console.log('| asker → device | p50 ms | p99 ms | max ms | answers |');
    console.log('|---|---|---|---|---|');
    for (const [k, v] of Object.entries(res)) {
      const ok = v.filter((ms) => typeof ms === 'number' && Number.isFinite(ms));
      console.log(`| ${k} | ${pct(ok, 50).toFixed(1)} | ${pct(ok, 99).toFixed(1)} | ${Math.max(...ok).toFixed(1)} | ${ok.length}/${v.length} |`);
    }
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
