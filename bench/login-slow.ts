// Logging in over a slow link, in round trips and milliseconds (part of bench/login.ts):
// ejabberd 24.12 with mod_auth_fast behind test/servers/slow-link.ts (300 ms each way, 8 KB/s).
// Each xiota row is a new session to online (a new XmppClient, so no stream resumption) with
// what a device would hold at that point: nothing cached (full SCRAM, PBKDF2), the derived
// SCRAM keys cached (RFC 5802 3), or a XEP-0484 FAST token; the resource is the server's pick
// (XEP-0386 Bind 2, the agent's default) except in the "configured resource" row (RFC 6120 bind
// after SASL2). "Drop and resume" is the agent's
// real reconnect (XEP-0198 resumed inline, FAST). @xmpp/client 0.14 logs in through the same
// link for scale (fresh process; its time includes Node's start, ~50 ms).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ScramKeyCache } from '../agent/sasl';
import { XmppClient } from '../agent/session/client';
import { MemoryFastStore } from '../agent/session/fast-token';
import { startServer, type XmppServer } from '../scripts/servers';
import { startSlowLink, type SlowLink } from '../test/servers/slow-link';

const LINK = { latencyMs: 300, bytesPerSecond: 8 * 1024 };
interface Sample { rt: number; ms: number }

async function xiotaLogin(srv: XmppServer, link: SlowLink, direct: boolean, keyCache: ScramKeyCache, fast?: MemoryFastStore, resource?: string): Promise<Sample> {
  const c = new XmppClient({
    jid: `bench@${srv.host}`, credentials: { username: 'bench', password: 'benchpass' },
    server: { host: '127.0.0.1', port: link.port, directTls: direct }, tls: { caFile: srv.caFile }, keyCache, fast, resource,
  });
  let rt = 0;
  c.once('online', () => (rt = link.last().roundTrips));
  const t0 = performance.now();
  await c.connectOnce();
  const ms = performance.now() - t0;
  await c.stop();
  return { rt, ms };
}

async function xiotaResume(srv: XmppServer, link: SlowLink, runs: number): Promise<Sample[]> {
  const c = new XmppClient({
    jid: `bench@${srv.host}`, credentials: { username: 'bench', password: 'benchpass' },
    server: { host: '127.0.0.1', port: link.port, directTls: true }, tls: { caFile: srv.caFile },
    fast: new MemoryFastStore(), reconnect: { initialDelayMs: 0, maxDelayMs: 0 },
  });
  const online = () => new Promise<number>((resolve) => c.once('online', () => resolve(link.last().roundTrips)));
  const first = online();
  c.start();
  await first;
  const out: Sample[] = [];
  for (let i = 0; i < runs; i++) {
    const back = online();
    const t0 = performance.now();
    c.dropConnection();
    const rt = await back;
    out.push({ rt, ms: performance.now() - t0 });
    if (!c.info?.resumed || !c.info.fast.used) throw new Error('bench: the reconnect did not resume with FAST');
  }
  await c.stop();
  return out;
}

function xmppjsLogin(srv: XmppServer, link: SlowLink): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(__dirname, '../../bench/xmppjs-child.mjs'), 'login', String(link.port), srv.host, 'bench', 'benchpass'],
      { env: { ...process.env, NODE_EXTRA_CA_CERTS: srv.caFile }, stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    let got: Sample | undefined;
    child.stdout.on('data', (d) => {
      buf += d;
      const line = buf.split('\n').find((l) => l.includes('"online"'));
      if (line && !got) got = { rt: link.last().roundTrips, ms: (JSON.parse(line) as { sinceStartMs: number }).sinceStartMs };
    });
    child.on('exit', (code) => (got ? resolve(got) : reject(new Error(`@xmpp/client exited ${code} before online`))));
  });
}

const median = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)]!;

export async function slowLinkTable(runs: number): Promise<void> {
  const srv = await startServer('ejabberd-24.12', { users: [{ user: 'bench', password: 'benchpass' }], ejabberd: { fast: true } });
  const direct = await startSlowLink({ target: { port: srv.directTlsPort }, ...LINK });
  const starttls = await startSlowLink({ target: { port: srv.c2sPort }, ...LINK });
  try {
    const rows: [string, Sample[]][] = [];
    const measure = async (name: string, f: () => Promise<Sample>) => {
      const s: Sample[] = [];
      for (let i = 0; i < runs; i++) s.push(await f());
      rows.push([name, s]);
    };
    for (const [label, link, isDirect] of [['direct TLS', direct, true], ['STARTTLS', starttls, false]] as const) {
      await measure(`xiota ${label}: full login (SCRAM, PBKDF2)`, () => xiotaLogin(srv, link, isDirect, new ScramKeyCache()));
      const warm = new ScramKeyCache();
      await xiotaLogin(srv, link, isDirect, warm);
      await measure(`xiota ${label}: cached SCRAM keys`, () => xiotaLogin(srv, link, isDirect, warm));
      const store = new MemoryFastStore();
      await xiotaLogin(srv, link, isDirect, new ScramKeyCache(), store);
      await measure(`xiota ${label}: FAST token`, () => xiotaLogin(srv, link, isDirect, new ScramKeyCache(), store));
      await measure(`xiota ${label}: FAST token, configured resource`, () => xiotaLogin(srv, link, isDirect, new ScramKeyCache(), store, 'kitchen'));
    }
    rows.push(['xiota direct TLS: drop and resume (FAST + SM inline)', await xiotaResume(srv, direct, runs)]);
    await measure('@xmpp/client 0.14 STARTTLS: full login', () => xmppjsLogin(srv, starttls));
    console.log(`\nLogin to online over a slow link (300 ms each way, 8 KB/s) to ejabberd 24.12 (SASL2, Bind 2, FAST), median of ${runs}`);
    console.log(`| ${'path'.padEnd(54)} | round trips | ms to online |`);
    console.log(`|${'-'.repeat(56)}|-------------|--------------|`);
    for (const [name, s] of rows) console.log(`| ${name.padEnd(54)} | ${String(median(s.map((x) => x.rt))).padStart(11)} | ${median(s.map((x) => x.ms)).toFixed(0).padStart(12)} |`);
  } finally {
    await direct.close();
    await starttls.close();
    await srv.cleanup();
  }
}

if (require.main === module) void slowLinkTable(Number(process.argv[2] ?? 3)).catch((e) => { console.error(e); process.exit(1); });
