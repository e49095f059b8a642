// Bytes on the wire per reading, TLS included: xiota's whole agent publishing to PEP on
// Prosody vs the path zigbee2mqtt and Tasmota users have (the same reading as JSON to
// Mosquitto over TLS, QoS 1, mqtt.js), each through a counting TCP proxy, same run.
//   npm run build && node dist/bench/wire.js [seconds-at-1/s]
// Counted from the first reading after login (the login is the login bench's business) to the
// acknowledgement of the last; both directions. Rows: 1, 10 and 100 readings/s sent at once,
// and xiota with `publish.batch_s` (readings wait up to that long and travel in one item).
// Where the bytes go: the proxy also counts TLS records each way (their 5-byte headers), so
// the table splits each direction into records and plaintext (TLS 1.3 AEAD: 22 bytes a record:
// header 5, content type 1, tag 16). BENCH_TRACE=1 logs every plaintext stanza of the xiota
// child on stderr. BENCH_SERVERS=prosody-0.12,ejabberd-24.12 (default prosody-0.12).
// BENCH_BASE_DIST=<another build's dist dir>: its xiota as 'before' rows in the same run;
// BENCH_REPEAT=n: every row n times.
import { readFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { parseServerLabel, startServer, type ServerLabel } from '../scripts/servers';
import { startMosquittoTls } from '../test/servers/mosquitto';
import { spawnJsonChild } from './child';
import { pace } from './publish-pace';
import { shebangFlags } from './rss';

/** TLS 1.3 AEAD cost of one record: header 5 + inner content type 1 + tag 16. */
const RECORD_OVERHEAD = 22;

/**
 * Bytes and TLS records one way from reset(). Records are found by their headers (type
 * 20-24, version 3.x, length), counted from reset() on: reset between records (an idle link).
 * `aligned` turns false if a header does not look like one (then records are not reported).
 */
class Tally {
  bytes = 0;
  records = 0;
  aligned = true;
  private skip = 0;
  private hdr: number[] = [];
  reset(): void { this.bytes = 0; this.records = 0; this.aligned = true; this.skip = 0; this.hdr = []; }
  add(b: Buffer): void {
    this.bytes += b.length;
    let i = 0;
    while (i < b.length && this.aligned) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, b.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      this.hdr.push(b[i++]!);
      if (this.hdr.length < 5) continue;
      const [type, major] = this.hdr;
      if (type! < 20 || type! > 24 || major !== 3) this.aligned = false;
      this.skip = (this.hdr[3]! << 8) | this.hdr[4]!;
      this.hdr = [];
      this.records++;
    }
  }
}

interface Counting { port: number; up: Tally; down: Tally; reset(): void; close(): Promise<void> }

/** A counting TCP proxy on 127.0.0.1 in front of `target` (client->server is `up`). */
function countingProxy(target: number): Promise<Counting> {
  const up = new Tally();
  const down = new Tally();
  let counting = false;
  const socks = new Set<Socket>();
  const srv = createServer((c) => {
    const u = createConnection({ port: target, host: '127.0.0.1' });
    for (const s of [c, u]) {
      socks.add(s);
      s.on('error', () => { c.destroy(); u.destroy(); });
      s.on('close', () => { socks.delete(s); c.destroy(); u.destroy(); });
    }
    c.on('data', (d: Buffer) => { if (counting) up.add(d); u.write(d); });
    u.on('data', (d: Buffer) => { if (counting) down.add(d); c.write(d); });
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({
    port: (srv.address() as { port: number }).port,
    up, down,
    reset() { up.reset(); down.reset(); counting = true; },
    close: () => new Promise<void>((r) => { for (const s of socks) s.destroy(); srv.close(() => r()); }),
  })));
}

interface Row { path: string; server: string; rate: number; readings: number; up: Tally; down: Tally }

async function xiotaRow(server: string, srvPort: number, host: string, caFile: string, rate: number, n: number, batchS: number, dist = join(__dirname, '..')): Promise<Row> {
  const proxy = await countingProxy(srvPort);
  const flags = shebangFlags(join(dist, 'agent', 'cli', 'main.js'));
  // With batch_s the agent's default is 64 readings per item (publish-child's own default is 1).
  const env = { ...process.env, ...(batchS ? { BENCH_BATCH_S: String(batchS), BENCH_MAX_READINGS: '64' } : {}) };
  const child = spawnJsonChild('xiota', [...flags, join(dist, 'bench', 'publish-child.js'), String(proxy.port), host, 'xiota', 'benchpass', caFile, '200'], env);
  try {
    await child.next('ready');
    await new Promise((r) => setTimeout(r, 500)); // let the warm-up's acks settle
    proxy.reset();
    child.send(`run ${rate} ${n}`);
    await child.next('done', (n / rate) * 1000 + 60_000);
    const who = dist === join(__dirname, '..') ? 'xiota' : 'before';
    const row = { path: batchS ? `${who}, batch_s ${batchS}` : who, server, rate, readings: n, up: proxy.up, down: proxy.down };
    child.send('quit');
    await new Promise((r) => child.proc.once('exit', r));
    return row;
  } finally {
    child.proc.kill();
    await proxy.close();
  }
}

async function mqttRow(tlsPort: number, caPem: string, rate: number, n: number): Promise<Row> {
  const proxy = await countingProxy(tlsPort);
  const client = mqtt.connect(`mqtts://127.0.0.1:${proxy.port}`, { ca: caPem, servername: 'localhost', clientId: 'bench-wire', clean: true, keepalive: 60, reconnectPeriod: 0 });
  try {
    await new Promise<void>((resolve, reject) => { client.once('connect', () => resolve()); client.once('error', reject); });
    await new Promise((r) => setTimeout(r, 500));
    proxy.reset();
    const acks: Promise<unknown>[] = [];
    await pace(rate, n, (i) => {
      // The same reading as the agent's: thing, field, value, unit, sample time.
      const msg = JSON.stringify({ thing: 'bench', timestamp: new Date().toISOString(), temperature: { value: Number((20 + (i % 1000) / 100).toFixed(2)), unit: '°C' } });
      acks.push(client.publishAsync('xiota/bench/state', msg, { qos: 1 }));
    });
    await Promise.all(acks);
    return { path: 'MQTT QoS 1, JSON (mqtt.js → Mosquitto)', server: 'mosquitto', rate, readings: n, up: proxy.up, down: proxy.down };
  } finally {
    await client.endAsync();
    await proxy.close();
  }
}

const BASE = process.env.BENCH_BASE_DIST;
const REPEAT = Math.max(1, Number(process.env.BENCH_REPEAT ?? 1));

async function main(): Promise<void> {
  const secondsAt1 = Number(process.argv[2] ?? 30);
  const servers: ServerLabel[] = (process.env.BENCH_SERVERS ?? 'prosody-0.12').split(',').map((s) => parseServerLabel(s, 'BENCH_SERVERS'));
  const mosq = await startMosquittoTls();
  const ca = readFileSync(mosq.caFile, 'utf8');
  const rows: Row[] = [];
  const rates = (process.env.BENCH_RATES ?? '1,10,100').split(',').map(Number);
  const plan: [number, number][] = rates.map((r) => [r, r === 1 ? secondsAt1 : r * Math.min(secondsAt1, 10)]);
  try {
    for (const label of servers) {
      // ejabberd's stock c2s shaper (3000 B/s) would pace the 100/s row: off, as in the fault tests.
      const srv = await startServer(label, { users: [{ user: 'xiota', password: 'benchpass' }], throughput: true });
      try {
        for (const [rate, n] of plan) {
          for (let k = 0; k < REPEAT; k++) {
            rows.push(await xiotaRow(label, srv.c2sPort, srv.host, srv.caFile, rate, n, 0));
            if (BASE) rows.push(await xiotaRow(label, srv.c2sPort, srv.host, srv.caFile, rate, n, 0, BASE));
            if (label === servers[0]) rows.push(await mqttRow(mosq.tlsPort, ca, rate, n));
          }
        }
        if (!process.env.BENCH_NO_BATCH) rows.push(await xiotaRow(label, srv.c2sPort, srv.host, srv.caFile, 1, secondsAt1, 10));
      } finally {
        await srv.cleanup();
      }
    }
  } finally {
    await mosq.stop();
  }
  console.log(`\nbytes on the wire per reading, TLS included (counting proxy), ${servers.join(', ')} vs Mosquitto, ${new Date().toISOString().slice(0, 10)}`);
  console.log(`records: TLS records per reading; plain: bytes per reading less ${RECORD_OVERHEAD} per record (TLS 1.3 AEAD)`);
  console.log(`| path | server | readings/s | readings | up B | up records | up plain B | down B | down records | down plain B | total B/reading | vs MQTT at that rate |`);
  console.log(`|---|---|---|---|---|---|---|---|---|---|---|---|`);
  const per = (v: number, r: Row) => (v / r.readings).toFixed(v / r.readings < 10 ? 2 : 0);
  for (const r of rows) {
    const total = (r.up.bytes + r.down.bytes) / r.readings;
    // Against the mean of the MQTT rows at that rate (repeats differ by a few bytes).
    const ms = rows.filter((q) => q.path.startsWith('MQTT') && q.rate === r.rate);
    const mqtt = ms.reduce((a, q) => a + (q.up.bytes + q.down.bytes) / q.readings, 0) / Math.max(1, ms.length);
    const ratio = ms.length ? (total / mqtt).toFixed(2) + '×' : '';
    const side = (t: Tally) => (t.aligned ? [per(t.bytes, r), per(t.records, r), per(t.bytes - RECORD_OVERHEAD * t.records, r)] : [per(t.bytes, r), 'n/a', 'n/a']);
    console.log(`| ${r.path} | ${r.server} | ${r.rate} | ${r.readings} | ${[...side(r.up), ...side(r.down)].join(' | ')} | ${total.toFixed(0)} | ${ratio} |`);
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(e);
  process.exit(1);
});
