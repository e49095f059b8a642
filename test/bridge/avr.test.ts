// The AVR build (ATmega328P, avr-gcc) of the firmware library: its flash and RAM against the
// issue's target, the session transcript vector byte for byte on the 328P in simavr, the cycle
// counts, and the example firmware image running in simavr with its USART on a pty, talking to
// the bridge driver inside a running agent: its readings reach PEP on Prosody, and a set from
// the agent switches its relay pin and is acknowledged. CI installs gcc-avr, avr-libc, simavr
// and libsimavr-dev (.ci/run).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Agent } from '../../agent/agent';
import { startProsody } from '../../scripts/local-prosody';
import { clientFor, waitFor } from '../session/_helpers';
import { bridgeAgent, pairedKey, pepReadings } from './_agent';
import { kill, repoPath, sleep, until, workDir } from './_board';

const build = join(workDir, 'avr');
const avrDir = repoPath('firmware-bridge/c/avr');
const make = (...targets: string[]) => {
  const r = spawnSync('make', ['-C', avrDir, `BUILD=${build}`, ...targets], { encoding: 'utf8' });
  assert.is(r.status, 0, `make ${targets.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout + r.stderr;
};
// simavr's console prints the AVR's USART lines with colour codes: "label: 123."
const figure = (out: string, label: string) => {
  const m = new RegExp(`${label}[^\\n]*?: (\\d+)\\.`).exec(out.replace(/\x1b\[[0-9;]*m/g, ''));
  assert.ok(m, `no "${label}" in:\n${out}`);
  return Number(m![1]);
};
let staticRam = 0;

test('ATmega328P example (two sensors, one relay): under 16 KiB of flash and 1 KiB of static RAM', () => {
  const out = make('size');
  const flash = Number(/Program:\s+(\d+) bytes/.exec(out)?.[1]);
  staticRam = Number(/Data:\s+(\d+) bytes/.exec(out)?.[1]);
  console.log(`  avr-size: flash ${flash} B, static RAM ${staticRam} B`);
  assert.ok(flash > 4000 && flash <= 16384, `flash ${flash} B`);
  assert.ok(staticRam > 200 && staticRam <= 1024, `static RAM ${staticRam} B`);
});

test('the session transcript vector on an ATmega328P in simavr: every byte, with RAM to spare', () => {
  const out = make('transcript');
  assert.is(figure(out, 'steps'), 28);
  assert.is(figure(out, 'failed steps'), 0, out);
  assert.is(figure(out, 'byte mismatches'), 0, out);
  assert.is(figure(out, 'bytes missing'), 0, out);
  const free = figure(out, 'free RAM never touched by the stack');
  console.log(`  transcript: 28 steps byte for byte, ${free} B of RAM never touched`);
  assert.ok(free >= 256, `only ${free} B of RAM left untouched`);
});

test('cycles on the 328P: handshake, sealed SET in + ACK out, sealed READINGS out', () => {
  const out = make('cycles');
  const hs = figure(out, 'handshake cycles'), set = figure(out, 'sealed SET in'), rd = figure(out, 'sealed READINGS');
  console.log(`  cycles: handshake ${hs} (${(hs / 16e3).toFixed(0)} ms at 16 MHz), SET+ACK ${set} (${(set / 16e3).toFixed(1)} ms), READINGS ${rd} (${(rd / 16e3).toFixed(1)} ms)`);
  assert.is(figure(out, 'frames dropped'), 0);
  assert.is(figure(out, 'session up'), 1);
  assert.ok(hs < 2_000_000 && set < 600_000 && rd < 400_000, out);
});

test('the firmware image in simavr on a pty: readings reach PEP through the agent, a set switches the relay and is acked', async () => {
  make('sim');
  const keysFile = join(workDir, 'avr-keys.json');
  const key = pairedKey(keysFile, 'greenhouse-1');
  const pty = join(workDir, 'avr-pty');
  const sim = spawn(join(build, 'simpty'), ['-m', 'atmega328p', '-l', pty, '-k', key, join(build, 'bridge-avr.elf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  const simLog: string[] = [];
  sim.stderr!.on('data', (d: Buffer) => simLog.push(...d.toString().split('\n').filter(Boolean)));
  const srv = await startProsody({ users: [{ user: 'dev', password: 'devpass' }, { user: 'watcher', password: 'watchpass' }] });
  const watcher = clientFor(srv, 'watcher', 'watchpass', { resource: 'w' });
  let agent: Agent | undefined;
  try {
    await until(() => simLog.includes(`pty ${pty}`), 5000, 'simavr to open the pty');
    agent = bridgeAgent(srv, { path: pty, keysFile, outbox: 'avr-outbox' });
    await agent.start();
    await waitFor('agent online', () => agent!.client.state === 'online');
    assert.equal(agent.drivers.things().map((t) => t.id), ['greenhouse-1.1', 'greenhouse-1.2', 'greenhouse-1.10']);
    const t0 = Date.now();
    await agent.drivers.set('greenhouse-1.10', 'value', true);
    const setMs = Date.now() - t0;
    await until(() => simLog.includes('relay 1'), 2000, 'the relay pin PD7 to go high');
    await sleep(3000); // three readings a sensor: the board reports once a second
    await waitFor('outbox drained', () => agent!.pipeline!.idle, 10_000);
    await watcher.connectOnce();
    const items = (node: string) => pepReadings(watcher, srv.host, node);
    const temps = await items('urn:xiota:greenhouse-1.1');
    assert.ok(temps.length >= 3, `temperature items: ${temps.length}`);
    // simpty puts 750-790 mV on the TMP36 pin: 24.7-28.6 °C after the ADC's 10 bits.
    for (const t of temps) assert.ok((t.values[0].value as number) >= 24 && (t.values[0].value as number) <= 29, `temperature ${JSON.stringify(t.values)}`);
    const light = await items('urn:xiota:greenhouse-1.2');
    assert.ok(light.length >= 1 && light.every((l) => l.values[0].value === 39), `light, unchanged so published once (2.0 V of 5 V → 39 %): ${JSON.stringify(light.map((l) => l.values))}`);
    const relay = await items('urn:xiota:greenhouse-1.10');
    assert.ok(relay.some((t) => t.values[0].value === true), `the acknowledged relay value is published: ${JSON.stringify(relay.map((t) => t.values))}`);
    console.log(`  simavr 328P: ${temps.length} temperature items in PEP, set acked in ${setMs} ms (the AVR runs at 16 MHz paced to the wall clock)`);
  } finally {
    await watcher.stop().catch(() => undefined);
    await agent?.stop();
    await srv.stop();
    kill(sim, 'SIGTERM');
    await until(() => simLog.some((l) => l.startsWith('cycles ')), 3000, 'simpty to print its figures').catch(() => undefined);
  }
  const m = /cycles (\d+) awake (\d+) stack (\d+)/.exec(simLog.find((l) => l.startsWith('cycles ')) ?? '');
  assert.ok(m, simLog.join('\n'));
  const [cycles, awake, stack] = [Number(m![1]), Number(m![2]), Number(m![3])];
  console.log(`  simavr 328P: awake ${(100 * awake / cycles).toFixed(1)} % of ${cycles} cycles; deepest stack ${stack} B + ${staticRam} B static of 2048 B`);
  assert.ok(stack + staticRam < 2048 - 128, `stack ${stack} B + static ${staticRam} B leaves under 128 B of the 328P's 2 KiB`);
});

test.run();
