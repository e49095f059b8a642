// Bytes on the wire per reading, TLS included: xiota's whole agent publishing to PEP on
// Prosody vs the path zigbee2mqtt and Tasmota users have (the same reading as JSON to
// Mosquitto over TLS, QoS 1, mqtt.js), each through a counting TCP proxy, same run.
//   npm run build && node dist/bench/wire.js [seconds-at-1/s]
// Counted from the first reading after login (the login is the login bench's business) to the
// acknowledgement of the last; both directions. Rows: 1, 10 and 100 readings/s sent at once,
// and xiota with `publish.batch_s` (readings wait up to that long and travel in one item).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startServer } from '../scripts/servers';
import { startMosquittoTls } from '../test/servers/mosquitto';
import { startProxy } from '../test/servers/proxy';
import { spawnJsonChild } from './child';
import { pace } from './publish-pace';
import { shebangFlags } from './rss';

/** The fault tests' proxy, counting bytes each way (client->server is `up`) from reset(). */
async function countingProxy(target: number): Promise<{ port: number; readonly up: number; readonly down: number; reset(): void; close(): Promise<void> }> {
  const p = await startProxy({ port: target });
  let up0 = 0;
  let down0 = 0;
  return {
    port: p.port,
    get up() { return p.stats.bytesUp - up0; },
    get down() { return p.stats.bytesDown - down0; },
    reset() { up0 = p.stats.bytesUp; down0 = p.stats.bytesDown; },
    close: () => p.close(),
  };
}

interface Row { path: string; rate: number; readings: number; up: number; down: number }

async function xiotaRow(srvPort: number, host: string, caFile: string, rate: number, n: number, batchS: number): Promise<Row> {
  const proxy = await countingProxy(srvPort);
  const flags = shebangFlags(join(__dirname, '..', 'agent', 'cli', 'main.js'));
  const env = { ...process.env, ...(batchS ? { BENCH_BATCH_S: String(batchS) } : {}) };
  const child = spawnJsonChild('xiota', [...flags, join(__dirname, 'publish-child.js'), String(proxy.port), host, 'xiota', 'benchpass', caFile, '200'], env);
  try {
    await child.next('ready');
    await new Promise((r) => setTimeout(r, 500)); // let the warm-up's acks settle
    proxy.reset();
    child.send(`run ${rate} ${n}`);
    await child.next('done', (n / rate) * 1000 + 60_000);
    const row = { path: batchS ? `xiota, batch_s ${batchS}` : 'xiota', rate, readings: n, up: proxy.up, down: proxy.down };
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
    return { path: 'MQTT QoS 1, JSON (mqtt.js → Mosquitto)', rate, readings: n, up: proxy.up, down: proxy.down };
  } finally {
    await client.endAsync();
    await proxy.close();
  }
}

async function main(): Promise<void> {
  const secondsAt1 = Number(process.argv[2] ?? 30);
  const srv = await startServer('prosody-0.12', { users: [{ user: 'xiota', password: 'benchpass' }] });
  const mosq = await startMosquittoTls();
  const ca = readFileSync(mosq.caFile, 'utf8');
  const rows: Row[] = [];
  try {
    const rates = (process.env.BENCH_RATES ?? '1,10,100').split(',').map(Number);
    const plan: [number, number][] = rates.map((r) => [r, r === 1 ? secondsAt1 : r * Math.min(secondsAt1, 10)]);
    for (const [rate, n] of plan) {
      rows.push(await xiotaRow(srv.c2sPort, srv.host, srv.caFile, rate, n, 0));
      rows.push(await mqttRow(mosq.tlsPort, ca, rate, n));
    }
    if (!process.env.BENCH_NO_BATCH) rows.push(await xiotaRow(srv.c2sPort, srv.host, srv.caFile, 1, secondsAt1, 10));
  } finally {
    await mosq.stop();
    await srv.cleanup();
  }
  console.log(`\nbytes on the wire per reading, TLS included (counting proxy), Prosody 0.12 vs Mosquitto, ${new Date().toISOString().slice(0, 10)}`);
  console.log(`| path | readings/s | readings | up B/reading | down B/reading | total B/reading | vs MQTT at that rate |`);
  console.log(`|---|---|---|---|---|---|---|`);
  for (const r of rows) {
    const total = (r.up + r.down) / r.readings;
    const m = rows.find((q) => q.path.startsWith('MQTT') && q.rate === r.rate);
    const ratio = m ? (total / ((m.up + m.down) / m.readings)).toFixed(2) + '×' : '';
    console.log(`| ${r.path} | ${r.rate} | ${r.readings} | ${(r.up / r.readings).toFixed(0)} | ${(r.down / r.readings).toFixed(0)} | ${total.toFixed(0)} | ${ratio} |`);
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(e);
  process.exit(1);
});
