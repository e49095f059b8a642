// Test helpers for the firmware bridge: build the C library for Linux (make + cc), socat pty
// pairs, and the fake board process. Everything started here is killed when the test exits.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const procs: ChildProcess[] = [];
process.on('exit', () => procs.forEach((p) => kill(p)));
export const workDir = mkdtempSync(join(tmpdir(), 'xiota-bridge-'));

export function repoPath(...parts: string[]): string {
  for (const base of [resolve(__dirname, '../../..'), process.cwd()]) {
    if (existsSync(join(base, 'firmware-bridge/c/linux/Makefile'))) return join(base, ...parts);
  }
  throw new Error('firmware-bridge/c not found: run the tests from the repository root');
}

/** Builds fakeboard and test_vectors into a fresh directory; throws with the compiler output. */
export function buildFirmware(): { dir: string; output: string } {
  const dir = join(workDir, 'build');
  const r = spawnSync('make', ['-C', repoPath('firmware-bridge/c/linux'), `BUILD=${dir}`, 'all'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`make failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return { dir, output: r.stdout + r.stderr };
}

export function kill(p: ChildProcess, sig: NodeJS.Signals = 'SIGKILL'): void {
  if (p.pid !== undefined && p.exitCode === null && p.signalCode === null) {
    try { process.kill(p.pid, sig); } catch { /* already gone */ }
  }
}

export async function ptyPair(name: string): Promise<{ a: string; b: string; proc: ChildProcess }> {
  const a = join(workDir, `${name}-a`), b = join(workDir, `${name}-b`);
  const proc = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: 'ignore' });
  proc.unref(); // killed on exit; must not keep the test process alive
  procs.push(proc);
  for (let i = 0; i < 100 && !(existsSync(a) && existsSync(b)); i++) await sleep(20);
  if (!existsSync(a) || !existsSync(b)) throw new Error('socat did not create the pty pair');
  return { a, b, proc };
}

export interface FakeBoard { proc: ChildProcess; log: string[]; sets(): string[] }

/** Starts `fakeboard` (or `mqttboard`, the same board on MQTT) from the build directory. */
export function startBoard(build: string, args: string[], binary = 'fakeboard'): FakeBoard {
  const proc = spawn(join(build, binary), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  procs.push(proc);
  proc.unref();
  (proc.stderr as unknown as { unref(): void }).unref();
  const log: string[] = [];
  let rest = '';
  proc.stderr!.on('data', (d: Buffer) => {
    const lines = (rest + d.toString()).split('\n');
    rest = lines.pop()!;
    log.push(...lines);
  });
  return { proc, log, sets: () => log.filter((l) => l.startsWith('set ')) };
}

export async function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Starts a driver expected to refuse its board: the refusal arrives as start()'s error, or,
 *  when the schema is cached and start() resolves, as the driver's first fault. */
export async function refusal(d: { start(ctx: import('../../drivers/types').DriverContext): Promise<void>; stop(): Promise<void> }, rec: { ctx: import('../../drivers/types').DriverContext; faults: string[] }): Promise<string> {
  let err = '';
  try { await d.start(rec.ctx); } catch (e) { err = (e as Error).message; }
  if (!err) await until(() => rec.faults.length > 0, 5000, 'the refusal');
  await d.stop();
  return err || rec.faults.join('\n');
}
