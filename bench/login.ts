// Login, reconnect and memory: xiota vs @xmpp/client 0.14, same Prosody, same run; then
// logins over a slow link to ejabberd 24.12 in round trips (bench/login-slow.ts: FAST vs
// cached SCRAM keys vs a full login).
//   npm run build && node dist/bench/login.js [runs]      (--slow-only: just the slow-link table)
// Each login runs in a fresh process: "process start to online" includes Node's own start,
// the same for both. Prosody stores SCRAM-SHA-1 (what @xmpp/client speaks), so both do the
// same SASL work; stream management is on in both.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { x } from '../agent/xml/element';
import { XmppClient } from '../agent/session/client';
import { startProsody, type ProsodyServer } from '../scripts/local-prosody';
import { slowLinkTable } from './login-slow';

type Line = Record<string, unknown> & { event: string };
interface Child { lines: Line[]; wallMs: number; waitFor(ev: string): Promise<Line>; done: Promise<void> }

function run(kind: 'xiota' | 'xmppjs', mode: string, srv: ProsodyServer, user: string): Child {
  const t0 = process.hrtime.bigint();
  const args = kind === 'xiota'
    ? [join(__dirname, 'login-child.js'), mode, String(srv.c2sPort), srv.host, user, 'benchpass', srv.caFile]
    : [join(__dirname, '../../bench/xmppjs-child.mjs'), mode, String(srv.c2sPort), srv.host, user, 'benchpass'];
  const child = spawn(process.execPath, args, { env: { ...process.env, NODE_EXTRA_CA_CERTS: srv.caFile }, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: Line[] = [];
  const waiters: { ev: string; resolve: (l: Line) => void }[] = [];
  let buf = '';
  const c: Child = {
    lines,
    wallMs: 0,
    waitFor: (ev) => {
      const have = lines.find((l) => l.event === ev);
      return have ? Promise.resolve(have) : new Promise((resolve) => waiters.push({ ev, resolve }));
    },
    done: new Promise((resolve, reject) => {
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${kind} ${mode} exited ${code}`))));
    }),
  };
  child.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = JSON.parse(buf.slice(0, i)) as Line;
      buf = buf.slice(i + 1);
      if (l.event === 'online') c.wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
      lines.push(l);
      for (const w of waiters.filter((w) => w.ev === l.event)) w.resolve(l);
    }
  });
  return c;
}

const median = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)]!;
const mib = (b: number) => (b / 1048576).toFixed(1);

async function flood(srv: ProsodyServer, to: string, n: number): Promise<void> {
  const s = new XmppClient({ jid: `sender@${srv.host}`, credentials: { username: 'sender', password: 'benchpass' }, server: { host: '127.0.0.1', port: srv.c2sPort }, tls: { caFile: srv.caFile } });
  await s.connectOnce();
  for (let i = 0; i < n; i++) {
    s.send(x('message', { to, type: 'chat', id: `m${i}` }, x('body', null, `reading ${i}: 21.5 °C`)));
    if (i % 500 === 499) await s.ping();
  }
  await s.ping();
  await s.stop();
}

export async function main(): Promise<void> {
  const runs = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 5);
  if (process.argv.includes('--slow-only')) return slowLinkTable(Math.min(runs, 3));
  const srv = await startProsody({ passwordHash: 'SHA-1', users: [{ user: 'bench', password: 'benchpass' }, { user: 'sender', password: 'benchpass' }] });
  try {
    const res: Record<string, { login: number[]; inProc: number[]; reconnect: number[]; hung?: boolean; idle?: number; after?: number; peak?: number; received?: number }> = { xiota: { login: [], inProc: [], reconnect: [] }, xmppjs: { login: [], inProc: [], reconnect: [] } };
    for (let i = 0; i < runs; i++) {
      for (const kind of ['xiota', 'xmppjs'] as const) {
        const c = run(kind, 'login', srv, 'bench');
        const l = await c.waitFor('online');
        if (!l.sm) throw new Error(`${kind}: stream management not enabled`);
        await c.done;
        res[kind]!.login.push(c.wallMs);
        res[kind]!.inProc.push(l.sinceStartMs as number);
      }
    }
    for (const kind of ['xiota', 'xmppjs'] as const) {
      const c = run(kind, 'reconnect', srv, 'bench');
      await c.done;
      res[kind]!.reconnect = c.lines.filter((l) => l.event === 'reconnected').map((l) => l.ms as number);
      res[kind]!.hung = c.lines.some((l) => l.event === 'reconnect-hung');
    }
    const stanzas = Number(process.env.BENCH_STANZAS ?? 10000);
    for (const kind of ['xiota', 'xmppjs'] as const) {
      const c = run(kind, 'idle', srv, 'bench');
      const online = await c.waitFor('online');
      const idle = await c.waitFor('idle');
      // To the full JID: neither client sends presence, so a bare-JID message would go offline.
      await flood(srv, online.jid as string, stanzas);
      const after = await c.waitFor('after');
      await c.done;
      Object.assign(res[kind]!, { idle: idle.rss as number, after: after.rss as number, peak: after.maxRss as number, received: after.received as number });
    }
    const a = res.xiota!;
    const b = res.xmppjs!;
    const row = (name: string, va: string, vb: string, ratio: string) => console.log(`| ${name.padEnd(44)} | ${va.padStart(10)} | ${vb.padStart(14)} | ${ratio.padStart(8)} |`);
    console.log(`\nLogin to a local Prosody 0.12 (STARTTLS, SCRAM-SHA-1, bind, SM), median of ${runs} fresh processes`);
    row('measure', 'xiota', '@xmpp/client', 'ratio');
    console.log(`|${'-'.repeat(46)}|${'-'.repeat(12)}|${'-'.repeat(16)}|${'-'.repeat(10)}|`);
    row('process start to online, wall (ms)', median(a.login).toFixed(0), median(b.login).toFixed(0), (median(a.login) / median(b.login)).toFixed(3));
    row('process start to online, in process (ms)', median(a.inProc).toFixed(0), median(b.inProc).toFixed(0), (median(a.inProc) / median(b.inProc)).toFixed(3));
    const rc = (r: typeof a) => (r.reconnect.length ? median(r.reconnect).toFixed(1) : 'n/a') + (r.hung ? ' (hung)' : '');
    row('reconnect to online, cached keys (ms)', rc(a), rc(b), a.reconnect.length && b.reconnect.length ? (median(a.reconnect) / median(b.reconnect)).toFixed(3) : '');
    row('reconnects completed of 5', String(a.reconnect.length), String(b.reconnect.length), '');
    row('RSS online idle (MiB)', mib(a.idle!), mib(b.idle!), (a.idle! / b.idle!).toFixed(2));
    row(`RSS after ${stanzas} received stanzas (MiB)`, mib(a.after!), mib(b.after!), (a.after! / b.after!).toFixed(2));
    row('peak RSS (MiB)', mib(a.peak!), mib(b.peak!), (a.peak! / b.peak!).toFixed(2));
    row('stanzas received', String(a.received), String(b.received), '');
    console.log('\n(@xmpp/client waits a fixed 1 s before reconnecting; xiota here uses a 0 ms initial backoff, default 1 s with full jitter.)');
  } finally {
    await srv.stop();
  }
  await slowLinkTable(Math.min(runs, 3));
}

if (require.main === module) void main().catch((e) => { console.error(e); process.exit(1); });
