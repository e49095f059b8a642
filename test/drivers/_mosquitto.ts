// A throwaway Mosquitto for the mqtt driver tests until test/servers/mosquitto.ts lands:
// loopback only, anonymous, no persistence (DESIGN.md "Real servers here"). Ready = the port
// accepts a connection. restart() reuses the port, to test reconnects.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Mosquitto { port: number; pid: number; stop(): Promise<void>; restart(): Promise<void> }

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

export async function startMosquitto(): Promise<Mosquitto> {
  const dir = mkdtempSync(join(tmpdir(), 'xiota-mosquitto-'));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\n`);
  let proc: ChildProcess | undefined;
  let output = '';
  const launch = async () => {
    proc = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout?.on('data', (d) => (output += d));
    proc.stderr?.on('data', (d) => (output += d));
    for (let i = 0; i < 200; i++) {
      if (await accepts(port)) return;
      if (proc.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    kill();
    throw new Error(`mosquitto did not start on 127.0.0.1:${port}: ${output}`);
  };
  const kill = () => {
    const p = proc;
    if (p?.pid !== undefined && p.exitCode === null && p.signalCode === null) {
      try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
    }
  };
  const waitExit = async () => {
    const p = proc;
    if (p && p.exitCode === null && p.signalCode === null) await new Promise((r) => p.once('exit', r));
  };
  await launch();
  const cleanup = () => kill();
  process.once('exit', cleanup);
  return {
    port,
    get pid() { return proc?.pid ?? -1; },
    async stop() {
      kill();
      await waitExit();
      process.removeListener('exit', cleanup);
      rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      kill();
      await waitExit();
      await launch();
    },
  };
}
