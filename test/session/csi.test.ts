// XEP-0352 client state: the device needs no contact presence in real time, so it says
// <inactive/>, and the server holds presence back (Prosody 0.12 mod_csi_simple, ejabberd 24.12
// mod_client_state). Measured through a counting proxy: the bytes the server pushes to the
// device while 20 roster contacts change status 5 times each, with and without CSI; then
// <active/> and the device must know every contact's latest status: nothing lost, only held.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { XmppClient } from '../../agent/session/client';
import { x } from '../../agent/xml/element';
import { startServer, type ServerLabel, type XmppServer } from '../../scripts/servers';
import { startProxy, type TcpProxy } from '../servers/proxy';
import { waitFor } from './_helpers';

const CONTACTS = 20;
const ROUNDS = 5;
const t = suite('csi');
const servers: XmppServer[] = [];
const clients: XmppClient[] = [];
const proxies: TcpProxy[] = [];
const users = [{ user: 'dev', password: 'devpass' }, ...Array.from({ length: CONTACTS }, (_, i) => ({ user: `c${i + 1}`, password: 'cpass' }))];

t.after(async () => {
  for (const c of clients) await c.stop().catch(() => undefined);
  for (const p of proxies) await p.close();
  for (const s of servers) await s.cleanup();
});

function account(srv: XmppServer, user: string, password: string, port = srv.c2sPort, extra: Partial<ConstructorParameters<typeof XmppClient>[0]> = {}): XmppClient {
  const c = new XmppClient({ jid: `${user}@${srv.host}`, resource: 'r', credentials: { username: user, password }, server: { host: '127.0.0.1', port }, tls: { caFile: srv.caFile }, ...extra });
  clients.push(c);
  return c;
}

interface Measure { churnBytes: number; churnPresences: number; flushBytes: number; flushPresences: number }

async function measure(srv: XmppServer, proxy: TcpProxy, contacts: XmppClient[], csi: boolean): Promise<Measure> {
  const dev = account(srv, 'dev', 'devpass', proxy.port, { csiInactive: csi });
  const latest = new Map<string, string>();
  let presences = 0;
  let chat = 0;
  dev.on('stanza', (el) => {
    if (el.name === 'presence' && !el.attrs.type && !el.attrs.from!.startsWith(`${dev.bare}/`)) {
      presences++;
      latest.set(el.attrs.from!.split('/')[0]!, el.getChildText('status') ?? '');
    }
    if (el.name === 'message' && el.getChildText('body')) chat++;
  });
  await dev.connectOnce();
  dev.send(x('presence'));
  // Subscribed to every contact (first run): each approves at once; current presence follows.
  for (const c of contacts) dev.send(x('presence', { type: 'subscribe', to: c.bare }));
  // Without CSI every contact's current presence arrives now; with it the server holds them.
  if (!csi) await waitFor(`presence of every contact (have ${latest.size})`, () => latest.size === CONTACTS, 30_000);
  await new Promise((r) => setTimeout(r, 1500)); // the initial burst settles
  const b0 = proxy.stats.bytesDown;
  const p0 = presences;
  for (let round = 1; round <= ROUNDS; round++) {
    for (const c of contacts) c.send(x('presence', null, x('status', null, `reading ${round}`)));
    await new Promise((r) => setTimeout(r, 300));
  }
  await new Promise((r) => setTimeout(r, 2000));
  const churnBytes = proxy.stats.bytesDown - b0;
  const churnPresences = presences - p0;
  // XEP-0352 3: <active/> makes the server deliver what it held (a no-op without CSI).
  dev.send(x('active', { xmlns: 'urn:xmpp:csi:0' }));
  contacts[0]!.send(x('message', { to: dev.jid, type: 'chat' }, x('body', null, 'hello')));
  await waitFor('the chat message', () => chat > 0, 10_000);
  await new Promise((r) => setTimeout(r, 1000));
  const m = { churnBytes, churnPresences, flushBytes: proxy.stats.bytesDown - b0 - churnBytes, flushPresences: presences - p0 - churnPresences };
  // Delayed, never lost: the device ends up with every contact's latest status.
  for (const c of contacts) assert.is(latest.get(c.bare), `reading ${ROUNDS}`, `${srv.label} csi=${csi}: latest status of ${c.bare}`);
  await dev.stop();
  return m;
}

async function run(label: ServerLabel, opts: Parameters<typeof startServer>[1]): Promise<{ off: Measure; on: Measure }> {
  const srv = await startServer(label, { users, ...opts });
  servers.push(srv);
  const proxy = await startProxy({ port: srv.c2sPort });
  proxies.push(proxy);
  const contacts = users.slice(1).map((u) => account(srv, u.user, u.password));
  await Promise.all(contacts.map(async (c) => {
    c.on('stanza', (el) => {
      if (el.name === 'presence' && el.attrs.type === 'subscribe') c.send(x('presence', { type: 'subscribed', to: el.attrs.from!.split('/')[0] }));
    });
    await c.connectOnce();
    c.send(x('presence', null, x('status', null, 'reading 0')));
  }));
  const off = await measure(srv, proxy, contacts, false);
  const on = await measure(srv, proxy, contacts, true);
  console.log(`  ${label}: ${CONTACTS} contacts x ${ROUNDS} status changes: without CSI ${off.churnBytes} B pushed (${off.churnPresences} presences) during the churn;` +
    ` with CSI ${on.churnBytes} B (${on.churnPresences}), then ${on.flushBytes} B (${on.flushPresences} presences) delivered on <active/> (without CSI: ${off.flushBytes} B)`);
  return { off, on };
}

t('Prosody 0.12 with mod_csi_simple: inactive holds presence back until <active/>', async () => {
  const { off, on } = await run('prosody-0.12', { prosody: { modules: ['csi_simple'] } });
  assert.ok(off.churnPresences >= CONTACTS * ROUNDS, `without CSI every update arrives at once (${off.churnPresences})`);
  assert.ok(on.churnBytes < off.churnBytes / 4, `with CSI the server pushed ${on.churnBytes} B vs ${off.churnBytes} B`);
  assert.ok(on.flushPresences > 0, 'held presence came with the flush');
});

t('ejabberd 24.12 with mod_client_state (SASL2 + Bind 2 login): presence held and only the latest per contact sent', async () => {
  const { off, on } = await run('ejabberd-24.12', { throughput: true, ejabberd: { clientState: true } });
  assert.ok(off.churnPresences >= CONTACTS * ROUNDS, `without CSI every update arrives at once (${off.churnPresences})`);
  assert.ok(on.churnBytes < off.churnBytes / 4, `with CSI the server pushed ${on.churnBytes} B vs ${off.churnBytes} B`);
  assert.ok(on.churnPresences + on.flushPresences < off.churnPresences, `queued presence is deduplicated per contact (${on.churnPresences} + ${on.flushPresences})`);
});

t.run();
