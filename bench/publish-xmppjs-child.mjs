// The alternative side of bench/publish.ts: @xmpp/client 0.14 publishes the same XEP-0323
// items (the payload xiota's readingToFields makes, parsed once and cloned per reading with
// the new sample time and value) to the same kind of PEP node, at the same rate, with no
// durability. Same stdin/stdout protocol as bench/publish-child.ts:
//   node publish-xmppjs-child.mjs PORT DOMAIN USER PASSWORD NODE FIRST_PUBSUB_XML PAYLOAD_XML PACE_JS WINDOW [CREATE_XML CONFIGURE_XML]
// FIRST_PUBSUB_XML is the warm-up <pubsub> with publish-options (node created open, max 100).
// PACE_JS is the compiled bench/publish-pace.js (the same pacing and stdout protocol as
// xiota's side); bursts keep at most WINDOW publishes in flight, xiota's pipeline window.
import { client, xml } from '@xmpp/client';
import { parse } from 'ltx';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';

const [port, domain, username, password, node, firstXml, payloadXml, paceJs, windowS, createXml, configureXml] = process.argv.slice(2);
const { pace, say, straceStart } = createRequire(import.meta.url)(paceJs);
const WINDOW = Number(windowS);
// BENCH_NODES > 1: that many nodes NODE0..NODE{n-1} (bench/many.ts), reading i to node i % n,
// each created and configured the same way as the single node.
const NODES = Number(process.env.BENCH_NODES ?? 1);
const nodeOf = (i) => (NODES > 1 ? node + (((i % NODES) + NODES) % NODES) : node);
/** A copy of a parsed template with every `node` attribute set to `name`. */
const withNode = (e, name) => {
  const c = parse(e.toString());
  const walk = (el) => {
    if (el.attrs.node !== undefined) el.attrs.node = name;
    for (const ch of el.children) if (typeof ch !== 'string') walk(ch);
  };
  walk(c);
  return c;
};

const xmpp = client({ service: `xmpp://127.0.0.1:${port}`, domain, username, password, resource: 'bench-' + process.pid });
xmpp.on('error', (e) => process.stderr.write(`xmppjs: ${e.message}\n`));
const online = new Promise((resolve) => xmpp.once('online', resolve));
await xmpp.start();
await online;
while (!xmpp.streamManagement?.enabled) await new Promise((r) => setImmediate(r));

const template = parse(payloadXml);
/** A fresh @xmpp/xml tree of the template (what an @xmpp/client user builds with xml()). */
const clone = (e) => xml(e.name, { ...e.attrs }, ...e.children.map((c) => (typeof c === 'string' ? c : clone(c))));
const prefix = Date.now().toString(36);
let seq = 0;
/** The pubsub element for one reading; the item id carries the sample time like xiota's. */
function publishOf(i) {
  const ts = Date.now();
  const fields = clone(template);
  const stamp = fields.getChild('node').getChild('timestamp');
  stamp.attrs.value = new Date(ts).toISOString();
  stamp.children[0].attrs.value = (20 + (i % 1000) / 100).toFixed(2);
  const id = `${prefix}-${ts.toString(36)}-${(seq++).toString(36)}`;
  return xml('pubsub', { xmlns: 'http://jabber.org/protocol/pubsub' }, xml('publish', { node: nodeOf(i) }, xml('item', { id }, fields)));
}

let acked = 0;
let failed = 0;
for (let k = 0; k < NODES; k++) {
  const name = nodeOf(k);
  try {
    await xmpp.iqCaller.set(withNode(parse(firstXml), name));
  } catch (e) {
    // A server that refuses the publish-options (ejabberd): create the node (it may exist),
    // configure it, publish the warm-up item plain.
    if (!createXml || !configureXml) throw e;
    await xmpp.iqCaller.set(withNode(parse(createXml), name)).catch(() => undefined);
    await xmpp.iqCaller.set(withNode(parse(configureXml), name));
    const plain = withNode(parse(firstXml), name);
    plain.children = plain.children.filter((c) => typeof c === 'string' || c.name !== 'publish-options');
    await xmpp.iqCaller.set(plain);
  }
}
say({ event: 'ready', jid: `${username}@${domain}`, node });

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const [cmd, rateS, nS] = line.trim().split(/\s+/);
  if (cmd === 'quit') break;
  if (cmd !== 'run') continue;
  const rate = Number(rateS);
  const total = Number(nS);
  const base = acked + failed;
  const acked0 = acked;
  const failed0 = failed;
  const stopTrace = await straceStart(`xmppjs.${rate}`);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let allDone;
  const done = new Promise((r) => (allDone = r));
  const settle = () => {
    if (acked + failed - base >= total) allDone();
  };
  const publish = (el) => xmpp.iqCaller.set(el).then(() => acked++, () => failed++).then(settle);
  if (rate > 0) {
    await pace(rate, total, (i) => void publish(publishOf(i)));
  } else {
    // Burst: all sampled at once, at most WINDOW publishes in flight.
    const queue = [];
    await pace(0, total, (i) => queue.push(publishOf(i)));
    const next = () => {
      const el = queue.shift();
      if (el) publish(el).then(next);
    };
    for (let k = 0; k < WINDOW; k++) next();
  }
  await done;
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await stopTrace();
  say({ event: 'done', sent: total, acked: acked - acked0, failed: failed - failed0, wallMs, cpuUs: cpu.user + cpu.system });
}
lines.close();
await xmpp.stop().catch(() => {});
process.exit(0);
