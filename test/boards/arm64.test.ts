// xiota-test: exclusive (timing/CPU sensitive: test/run.ts runs it with nothing beside it)
// The agent on Raspberry-Pi-class boards: this repo's dist/ and node_modules run on Node's
// official arm64 build (and armv7l, for 32-bit Pi OS) under qemu user-mode emulation, as
// installed by .ci/setup-arm.sh. Per board: `xiota check` logs in to a real Prosody, `xiota
// read` samples the Raspberry Pi fixture tree (linux, w1, iio drivers), a short `xiota run`
// publishes items a second client reads back from the PEP nodes, and the serial driver opens
// a socat pty through serialport's prebuilt ARM binding. Every child prints the process.arch
// it really ran as. The same steps run on this machine's Node in the same run, and only the
// ratios are reported: emulated timings are no Pi timings. Missing emulation fails (with the
// command that installs it), never skips.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProsody, type ProsodyServer } from '../../scripts/local-prosody';
import { clientFor } from '../session/_helpers';
import { fixtures } from '../drivers/_fixtures';
import { itemsIq, parseItems } from '../../agent/xep/pubsub';
import { fieldsToReadings } from '../../agent/xep/sensordata-fields';
import type { XmppClient } from '../../agent/session/client';
import type { Value } from '../../drivers/types';
import {
  BOARDS, emulationMissing, killAll, qemuBinary, reportedArch, sleep, startCli, startNode, type Board, type Ran, type Running, type Target,
} from './_emulation';

const PASS = 'board-Pass-3317';
const RPI = fixtures('rpi');
/** Nodes `xiota run` must fill from the fixture tree, and one value each must carry. */
const EXPECTED: { thing: string; field: string; value: Value }[] = [
  { thing: 'gateway', field: 'cpu_temperature', value: 48.3 }, // linux: /sys/class/thermal
  { thing: 'outdoor', field: 'temperature', value: 23.125 }, // w1: DS18B20 28-0316a2795bff
  { thing: 'iio-bme280', field: 'pressure', value: 1013.25 }, // iio
];

function boardSuite(b: Board): void {
  const t = suite(`${b.name} (${b.qemu}, ${b.boards})`);
  let srv: ProsodyServer;
  let dir: string;
  let watcher: XmppClient | undefined;
  const socats: ChildProcess[] = [];
  /** ms, emulated and native, measured in this run. */
  const timing: Record<string, { emu?: number; native?: number }> = {};
  const note = (what: string, target: Target, ms: number) => {
    (timing[what] ??= {})[target === 'native' ? 'native' : 'emu'] = ms;
  };

  t.before(async () => {
    srv = await startProsody({ users: [{ user: 'dev', password: PASS }, { user: 'native', password: PASS }, { user: 'watcher', password: PASS }] });
    dir = mkdtempSync(join(tmpdir(), `xiota-${b.name}-`));
  });
  t.after(async () => {
    killAll();
    for (const s of socats) if (s.pid !== undefined && s.exitCode === null) { try { process.kill(s.pid, 'SIGKILL'); } catch { /* gone */ } }
    await watcher?.stop().catch(() => undefined);
    await srv?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Fails the test (never skips) when the board's emulation is not installed. */
  const need = () => {
    const missing = emulationMissing(b);
    if (missing) assert.unreachable(missing);
  };
  /** The child really ran as the board (or as this machine for 'native'). */
  const seen = { native: '', emu: '' }; // "v20.20.2 arm64", for the timings line
  const ranAs = (r: Pick<Ran, 'stderr'>, target: Target) => {
    const a = reportedArch(r.stderr);
    assert.ok(a, `the child printed no architecture:\n${r.stderr}`);
    assert.is(a!.arch, target === 'native' ? process.arch : target.arch, `process.arch of the ${target === 'native' ? 'native' : b.name} child`);
    seen[target === 'native' ? 'native' : 'emu'] = `node ${a!.version} ${a!.arch}`;
  };
  const show = (r: Ran) => `exit ${r.code} ${r.signal ?? ''}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

  function configFile(name: string, user: string): string {
    const pw = join(dir, `${name}.password`);
    writeFileSync(pw, PASS + '\n', { mode: 0o600 });
    const path = join(dir, `${name}.yaml`);
    writeFileSync(path, `account:
  jid: ${user}@${srv.host}
  password_file: ${JSON.stringify(pw)}
server:
  host: 127.0.0.1
  port: ${srv.c2sPort}
tls:
  ca_file: ${JSON.stringify(srv.caFile)}
outbox:
  dir: ${JSON.stringify(join(dir, name, "outbox"))}
  flush_interval_ms: 20
pubsub:
  access_model: open
log:
  format: text
drivers: # the first sample comes one poll interval after the start
  - id: pi
    kind: linux
    poll_interval_s: 1
    options: { root: ${JSON.stringify(RPI)}, thing: gateway, disks: [{ name: root, path: ${JSON.stringify(RPI)} }] }
  - id: w1
    kind: w1
    poll_interval_s: 1
    options: { root: ${JSON.stringify(RPI)}, names: { 28-0316a2795bff: outdoor } }
  - id: iio
    kind: iio
    poll_interval_s: 1
    options: { root: ${JSON.stringify(RPI)} }
`, { mode: 0o600 });
    return path;
  }

  t('xiota check logs in to Prosody (TLS, SCRAM, SM, ping)', async () => {
    need();
    for (const target of ['native', b] as const) {
      const r = await startCli(target, ['check', '--jid', `dev@${srv.host}`, '--server', `127.0.0.1:${srv.c2sPort}`, '--ca', srv.caFile], {
        env: { ...process.env, XIOTA_PASSWORD: PASS },
      }).done;
      assert.is(r.code, 0, show(r));
      ranAs(r, target);
      assert.match(r.stdout, /^tls +TLSv1\.[23] .*verified by ca-file/m);
      assert.match(r.stdout, /^sasl +SCRAM-SHA-/m);
      assert.match(r.stdout, /^sm +enabled/m);
      assert.match(r.stdout, /^ping +[\d.]+ ms/m);
      note('check', target, r.ms);
      const login = /^login +(\d+) ms/m.exec(r.stdout);
      assert.ok(login, r.stdout);
      note('login (as check reports it)', target, Number(login![1]));
    }
  });

  t('xiota read samples the Raspberry Pi fixture tree (linux, w1, iio)', async () => {
    need();
    const path = configFile('read', 'dev');
    for (const target of ['native', b] as const) {
      const r = await startCli(target, ['read', '--config', path]).done;
      assert.is(r.code, 0, show(r));
      ranAs(r, target);
      const has = (re: RegExp) => assert.match(r.stdout, re, `${target === 'native' ? 'native' : b.name} read: no ${re}\n${r.stdout}${r.stderr}`);
      has(/^gateway +cpu_temperature +48\.3 +°C /m);
      has(/^gateway +memory_used_percent +14\.2 +% /m);
      has(/^gateway +net_eth0_rx_bytes +987654321 +B /m);
      has(/^outdoor +temperature +23\.125 +°C /m);
      has(/^w1-28-0616a1b2c3ff +temperature +error: 85 °C power-on reset/m);
      has(/^iio-bme280 +pressure +1013\.25 +hPa /m);
      has(/^iio-ads1115 +voltage0 +1650\.000 +mV /m);
      note('read', target, r.ms);
    }
  });

  /**
   * Polls the PEP nodes of `user` until each carries its EXPECTED value (a first sample may
   * fail and publish an error, a later one the value). Returns when the run logged
   * "session online" and when the last value arrived, both since the start.
   */
  async function itemsOnServer(user: string, p: Running, timeoutMs: number): Promise<{ onlineMs: number; itemsMs: number }> {
    if (!watcher) {
      watcher = clientFor(srv, 'watcher', PASS, { resource: 'w' });
      await watcher.connectOnce();
    }
    const last = new Map<string, string>(); // thing -> what its node holds, for the failure message
    const done = new Set<string>();
    let onlineMs = 0;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!onlineMs && /session online/.test(p.out().stderr)) onlineMs = Date.now() - p.t0;
      if (done.size === EXPECTED.length && onlineMs) return { onlineMs, itemsMs: Date.now() - p.t0 };
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms; on the nodes: ${EXPECTED.map((e) => `${e.thing}: ${last.get(e.thing) ?? 'no item'}`).join('; ')}\n${p.out().stderr}`);
      }
      if (p.child.exitCode !== null) throw new Error(`xiota run exited early (${p.child.exitCode})\n${p.out().stderr}`);
      for (const e of EXPECTED) {
        if (done.has(e.thing)) continue;
        // XEP-0060 6.5.2: an items request to the owner's bare JID (PEP); item-not-found until the first publish.
        const res = await watcher.iq(itemsIq(`${user}@${srv.host}`, `urn:xiota:${e.thing}`)).catch(() => undefined);
        for (const item of res ? parseItems(res) : []) {
          if (!item.payload) continue;
          const v = fieldsToReadings(item.payload).find((r) => r.thing === e.thing)?.values.find((x) => x.field === e.field);
          last.set(e.thing, JSON.stringify(v));
          if (v?.value === e.value) done.add(e.thing);
        }
      }
      await sleep(100);
    }
  }

  t('xiota run publishes the fixture readings; a second client reads them from the PEP nodes', async () => {
    need();
    for (const target of ['native', b] as const) {
      const user = target === 'native' ? 'native' : 'dev';
      const p = startCli(target, ['run', '--config', configFile(`run-${user}`, user)], { timeoutMs: 60_000 });
      const { onlineMs, itemsMs } = await itemsOnServer(user, p, 45_000);
      note('run start to session online', target, onlineMs);
      note('run start to the values on the server (1 s first poll included)', target, itemsMs);
      p.child.kill('SIGTERM');
      const r = await p.done;
      assert.is(r.code, 0, show(r));
      ranAs(r, target);
      assert.match(r.stderr, /stopped pending=0/, show(r));
    }
  });

  t('the serial driver opens a socat pty through serialport\'s prebuilt binding for the board', async () => {
    need();
    const a = join(dir, 'tty-a');
    const c = join(dir, 'tty-b');
    const socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${c}`], { stdio: 'ignore' });
    socats.push(socat);
    for (let i = 0; i < 100 && !(existsSync(a) && existsSync(c)); i++) await sleep(20);
    assert.ok(existsSync(a) && existsSync(c), 'socat did not create the pty pair (is socat installed?)');
    const r = await startNode(b, join(__dirname, '_serial-child.js'), [a, c], { timeoutMs: 40_000 }).done;
    assert.is(r.code, 0, show(r));
    ranAs(r, b);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { arch: string; binding: string[]; readings: unknown[]; received: string; faults: string[] };
    assert.is(out.arch, b.arch);
    // node-gyp-build picks the prebuild by platform, arch, ARM version and libc.
    const prebuild = b.arch === 'arm64' ? 'prebuilds/linux-arm64/@serialport+bindings-cpp.armv8.glibc.node' : 'prebuilds/linux-arm/@serialport+bindings-cpp.armv7.glibc.node';
    assert.equal(out.binding.map((f) => f.replace(/^.*\/@serialport\/bindings-cpp\//, '')), [prebuild]);
    assert.equal(out.readings, [[{ field: 'temperature', value: 21.5 }, { field: 'relay', value: false }]]);
    assert.is(out.received, '{"relay":true}\n', 'the set written back through the binding');
    assert.equal(out.faults, []);
  });

  // Emulated milliseconds say nothing about a Pi, so only the ratios are printed.
  t('timings: emulated vs native, same run (ratios only)', () => {
    const parts: string[] = [];
    for (const [what, m] of Object.entries(timing)) {
      assert.ok(m.emu !== undefined && m.native !== undefined, `no pair of timings for ${what}`);
      parts.push(`${what} ${(m.emu! / Math.max(m.native!, 1)).toFixed(1)}x`);
    }
    assert.is(parts.length, 5, 'check, login, read and run were all timed');
    console.log(`[fact] ${b.name}: ${seen.emu} under ${qemuBinary(b)} vs ${seen.native} on this machine, same run, wall time ratio: ${parts.join(', ')}`);
  });

  t.run();
}

boardSuite(BOARDS.arm64);
boardSuite(BOARDS.armhf);
