// xiota's side of bench/login.ts: logs in and reports on stdout, one JSON line per event.
//   node login-child.js MODE PORT DOMAIN USER PASSWORD CAFILE
import { performance } from 'node:perf_hooks';
import { XmppClient } from '../agent/session/client';

async function main(): Promise<void> {
  const [mode, port, domain, username, password, caFile] = process.argv.slice(2) as [string, string, string, string, string, string];
  const c = new XmppClient({
    jid: `${username}@${domain}`,
    resource: 'bench-' + process.pid,
    credentials: { username, password },
    server: { host: '127.0.0.1', port: Number(port) },
    tls: { caFile },
    reconnect: { initialDelayMs: 0, maxDelayMs: 0 },
    log: process.env.BENCH_DEBUG ? require('../agent/log').createLogger({ level: 'debug', json: false, write: (l: string) => process.stderr.write(l + '\n') }) : undefined,
  });
  let received = 0;
  c.router.on('message', () => {
    received++;
    return true;
  });
  const say = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');
  const onlineOnce = () => new Promise<void>((resolve) => c.once('online', () => resolve()));
  const first = onlineOnce();
  c.start();
  await first;
  say({ event: 'online', sinceStartMs: performance.now(), sm: c.info?.sm === 'enabled', jid: c.jid });
  if (mode === 'reconnect') {
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const back = onlineOnce();
      c.dropConnection();
      await back;
      say({ event: 'reconnected', ms: performance.now() - t0, resumed: c.info?.resumed });
    }
  } else if (mode === 'idle') {
    await new Promise((r) => setTimeout(r, 1000));
    say({ event: 'idle', rss: process.memoryUsage().rss, maxRss: process.resourceUsage().maxRSS * 1024 });
    const target = Number(process.env.BENCH_STANZAS ?? 10000);
    await new Promise<void>((r) => {
      const t = setInterval(() => {
        if (received >= target) {
          clearInterval(t);
          r();
        }
      }, 20);
    });
    await new Promise((r) => setTimeout(r, 1000));
    say({ event: 'after', received, rss: process.memoryUsage().rss, maxRss: process.resourceUsage().maxRSS * 1024 });
  }
  await c.stop();
  process.exit(0);
}

void main();
