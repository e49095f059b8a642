// Idle cost: 10 things at one reading a minute, as a quiet gateway runs. `xiota run` (as
// installed: its shebang's node flags) through a counting proxy to Prosody 0.12, beside a
// small mqtt.js publisher sending the same readings as JSON to Mosquitto over TLS (QoS 1,
// keepalive 60 s). Bytes both ways and CPU seconds of each process, scaled to one hour.
//   npm run build && node dist/bench/idle.js [minutes]     (default 5)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../scripts/servers';
import { startMosquittoTls } from '../test/servers/mosquitto';
import { startProxy } from '../test/servers/proxy';
import { processCpuUs } from './publish';
import { shebangFlags } from './rss';

const THINGS = 10;


const MQTT_CHILD = `
const mqtt = require(process.argv[1]);
const [port, caFile, minutes, things] = process.argv.slice(2);
const c = mqtt.connect('mqtts://127.0.0.1:' + port, { ca: require('fs').readFileSync(caFile), servername: 'localhost', keepalive: 60, reconnectPeriod: 1000 });
c.on('connect', () => {
  console.log('ready');
  let i = 0;
  const tick = () => {
    for (let k = 0; k < Number(things); k++) c.publish('xiota/thing' + k + '/state', JSON.stringify({ thing: 'thing' + k, timestamp: new Date().toISOString(), temperature: { value: 20 + ((i * 7 + k) % 100) / 10, unit: '°C' } }), { qos: 1 });
    i++;
  };
  setTimeout(() => { tick(); setInterval(tick, 60000); }, 1000);
  setTimeout(() => { c.end(false, () => process.exit(0)); }, Number(minutes) * 60000 + 5000);
});
`;

async function main(): Promise<void> {
  const minutes = Number(process.argv[2] ?? 5);
  const srv = await startServer('prosody-0.12', { users: [{ user: 'idle', password: 'idlepass' }] });
  const dir = mkdtempSync(join(tmpdir(), 'xiota-idle-'));
  const mosq = await startMosquittoTls();
  const xp = await startProxy({ port: srv.c2sPort });
  const mp = await startProxy({ port: mosq.tlsPort });
  const things = Array.from({ length: THINGS }, (_, k) => `        - { id: thing${k}, fields: [ { name: temperature, type: numeric, unit: "°C", precision: 1, waveform: random, min: 15, max: 25 } ] }`);
  const cfg = join(dir, 'xiota.yaml');
  writeFileSync(cfg, [
    `account: { jid: "idle@${srv.host}", password: idlepass }`,
    `server: { host: 127.0.0.1, port: ${xp.port} }`,
    `tls: { ca_file: "${srv.caFile}" }`,
    `outbox: { dir: "${join(dir, 'state', 'outbox')}" }`,
    'publish: { deadband: 0 }',
    'log: { level: warn }',
    'drivers:',
    '  - id: sim',
    '    kind: simulated',
    '    poll_interval_s: 60',
    '    options:',
    '      things:',
    ...things,
    '',
  ].join('\n'));
  const flags = shebangFlags(join(__dirname, '..', 'agent', 'cli', 'main.js'));
  const agent = spawn(process.execPath, [...flags, join(__dirname, '..', 'agent', 'cli', 'main.js'), 'run', '--config', cfg], { stdio: ['ignore', 'inherit', 'inherit'] });
  const mqttJs = require.resolve('mqtt');
  const mq = spawn(process.execPath, ['-e', MQTT_CHILD, mqttJs, String(mp.port), mosq.caFile, String(minutes), String(THINGS)], { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    // Login and node setup are the login bench's business: count from 20 s on.
    await new Promise((r) => setTimeout(r, 20_000));
    const x0 = { up: xp.stats.bytesUp, down: xp.stats.bytesDown, cpu: processCpuUs(agent.pid) ?? NaN };
    const m0 = { up: mp.stats.bytesUp, down: mp.stats.bytesDown, cpu: processCpuUs(mq.pid) ?? NaN };
    await new Promise((r) => setTimeout(r, minutes * 60_000 - 19_000));
    const x1 = { up: xp.stats.bytesUp, down: xp.stats.bytesDown, cpu: processCpuUs(agent.pid) ?? NaN };
    const m1 = { up: mp.stats.bytesUp, down: mp.stats.bytesDown, cpu: processCpuUs(mq.pid) ?? NaN };
    const perHour = 60 / (minutes - 20 / 60);
    const row = (name: string, up: number, down: number, cpuUs: number, cpuNote: string) =>
      console.log(`| ${name} | ${((up * perHour) / 1024).toFixed(1)} | ${((down * perHour) / 1024).toFixed(1)} | ${(((up + down) * perHour) / 1024).toFixed(1)} | ${((cpuUs / 1e6) * perHour).toFixed(2)} ${cpuNote} |`);
    console.log(`\nidle cost: ${THINGS} things, one reading a minute each, ${minutes} min measured (${new Date().toISOString().slice(0, 10)}), per hour`);
    console.log('| path | KiB up/h | KiB down/h | KiB total/h | CPU s/h |');
    console.log('|---|---|---|---|---|');
    row('xiota run (lite mode), Prosody 0.12 PEP', x1.up - x0.up, x1.down - x0.down, x1.cpu - x0.cpu, '');
    row('mqtt.js → Mosquitto, QoS 1, JSON over TLS', m1.up - m0.up, m1.down - m0.down, m1.cpu - m0.cpu, '');
  } finally {
    agent.kill('SIGTERM');
    mq.kill();
    await xp.close();
    await mp.close();
    await mosq.stop();
    await srv.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(e);
  process.exit(1);
});

