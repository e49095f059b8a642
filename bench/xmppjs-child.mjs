// The alternative, doing the same job as bench/login-child.ts: @xmpp/client 0.14 logs in
// (STARTTLS, SCRAM-SHA-1, bind, stream management) and reports on stdout.
//   node xmppjs-child.mjs MODE PORT DOMAIN USER PASSWORD   (CA via NODE_EXTRA_CA_CERTS)
import { client } from '@xmpp/client';
import { performance } from 'node:perf_hooks';

const [mode, port, domain, username, password] = process.argv.slice(2);
const xmpp = client({ service: `xmpp://127.0.0.1:${port}`, domain, username, password, resource: 'bench-' + process.pid });
xmpp.on('error', () => {});
let received = 0;
xmpp.on('stanza', (s) => {
  if (s.is('message')) received++;
});
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const onlineOnce = () => new Promise((resolve) => xmpp.once('online', resolve));
const first = onlineOnce();
await xmpp.start();
await first;
// 'online' fires after bind, before <enabled/> comes back: wait for it, as xiota does.
while (!xmpp.streamManagement?.enabled) await new Promise((r) => setImmediate(r));
say({ event: 'online', sinceStartMs: performance.now(), sm: !!xmpp.streamManagement?.enabled, jid: xmpp.jid?.toString() });
if (mode === 'reconnect') {
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const back = onlineOnce();
    xmpp.socket.socket.destroy();
    // @xmpp/client can hang on a dead socket (DESIGN.md): give up after 15 s and say so.
    const ok = await Promise.race([back.then(() => true), new Promise((r) => setTimeout(() => r(false), 15000))]);
    if (!ok) {
      say({ event: 'reconnect-hung', ms: performance.now() - t0 });
      process.exit(0);
    }
    say({ event: 'reconnected', ms: performance.now() - t0 });
  }
} else if (mode === 'idle') {
  await new Promise((r) => setTimeout(r, 1000));
  say({ event: 'idle', rss: process.memoryUsage().rss, maxRss: process.resourceUsage().maxRSS * 1024 });
  process.stdin.on('data', () => {});
  const target = Number(process.env.BENCH_STANZAS ?? 10000);
  await new Promise((r) => { const t = setInterval(() => { if (received >= target) { clearInterval(t); r(); } }, 20); });
  await new Promise((r) => setTimeout(r, 1000));
  say({ event: 'after', received, rss: process.memoryUsage().rss, maxRss: process.resourceUsage().maxRSS * 1024 });
}
await xmpp.stop().catch(() => {});
process.exit(0);
