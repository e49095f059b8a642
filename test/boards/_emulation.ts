// Running this repo's compiled dist/ on a board's Node under qemu user-mode emulation, the way
// .ci/setup-arm.sh installs it, and on this machine's Node for comparison. dist/ is plain JS
// and node_modules carries serialport's prebuilt ARM bindings, so the same tree runs on both.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const CLI = join(__dirname, '../../agent/cli/main.js');
/** Preloaded into every child: prints the architecture it really runs as (see _arch.ts). */
export const ARCH_PRELOAD = join(__dirname, '_arch.js');
export const ARM_DIR = process.env.XIOTA_ARM_DIR ?? '/opt/xiota-arm';

export interface Board {
  /** Debian's name, and the directory under ARM_DIR. */
  name: 'arm64' | 'armhf';
  /** What `process.arch` says on the board. */
  arch: 'arm64' | 'arm';
  qemu: string;
  sysroot: string;
  node: string;
  /** Raspberry Pi models it stands for. */
  boards: string;
}

export const BOARDS: Record<Board['name'], Board> = {
  arm64: { name: 'arm64', arch: 'arm64', qemu: 'qemu-aarch64', sysroot: '/usr/aarch64-linux-gnu', node: join(ARM_DIR, 'arm64/node'), boards: 'Pi 3/4/5, Zero 2 W (64-bit OS)' },
  armhf: { name: 'armhf', arch: 'arm', qemu: 'qemu-arm', sysroot: '/usr/arm-linux-gnueabihf', node: join(ARM_DIR, 'armhf/node'), boards: 'Pi 2/3/4 (32-bit OS)' },
};

/** Where a child runs: a board under emulation, or this machine's own Node. */
export type Target = Board | 'native';

const onPath = (name: string) => spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
const qemuFound = new Map<string, string | undefined>();
/** qemu-user's binary, or qemu-user-static's (`qemu-aarch64-static`) when only that is there. */
export function qemuBinary(b: Board): string | undefined {
  if (!qemuFound.has(b.qemu)) qemuFound.set(b.qemu, [b.qemu, `${b.qemu}-static`].find(onPath));
  return qemuFound.get(b.qemu);
}

/** What is missing to emulate `b`, with the command that installs it; undefined when complete. */
export function emulationMissing(b: Board): string | undefined {
  const gone: string[] = [];
  if (!qemuBinary(b)) gone.push(`${b.qemu} (Debian qemu-user)`);
  if (!existsSync(join(b.sysroot, 'lib'))) gone.push(`${b.sysroot} (Debian libc6-${b.name}-cross, libstdc++6-${b.name}-cross)`);
  if (!existsSync(b.node)) gone.push(`${b.node} (Node's ${b.name} build from npm)`);
  if (!gone.length) return undefined;
  return `${b.name} emulation is not installed: missing ${gone.join(', ')}. Install it with: bash .ci/setup-arm.sh ${b.name}` +
    (process.env.CI ? ' (CI: this is a failure, not a skip)' : '');
}

/** The node flags of the `xiota` shebang, so every child runs as the installed command does. */
export function shebangFlags(): string[] {
  const first = readFileSync(CLI, 'utf8').split('\n', 1)[0]!;
  const m = /^#!\/usr\/bin\/env -S node(.*)$/.exec(first);
  if (!m) throw new Error(`${CLI}: unexpected shebang ${JSON.stringify(first)}`);
  return m[1]!.trim().split(/\s+/).filter(Boolean);
}

/** argv for `node <nodeArgs...>` on the target. */
export function nodeCommand(target: Target, nodeArgs: string[]): [string, string[]] {
  if (target === 'native') return [process.execPath, nodeArgs];
  // -L: the board's dynamic loader and libraries come from the cross sysroot.
  return [qemuBinary(target) ?? target.qemu, ['-L', target.sysroot, target.node, ...nodeArgs]];
}

export interface Ran { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }
export interface Running {
  child: ChildProcess;
  t0: number;
  out(): { stdout: string; stderr: string };
  done: Promise<Ran>;
}

const live = new Set<ChildProcess>();
process.on('exit', killAll);

/** Starts `node [flags] -r _arch.js script args` on the target; killed after timeoutMs. */
export function startNode(target: Target, script: string, args: string[], opts: { flags?: string[]; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Running {
  const [cmd, argv] = nodeCommand(target, [...(opts.flags ?? []), '-r', ARCH_PRELOAD, script, ...args]);
  const t0 = Date.now();
  const env = { ...(opts.env ?? process.env) };
  delete env.NODE_OPTIONS; // the parent's (source maps, inspector) are not the board's
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  const done = new Promise<Ran>((resolve) => {
    child.on('error', (e) => { stderr += `spawn ${cmd}: ${e.message}\n`; });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
    });
  });
  return { child, t0, out: () => ({ stdout, stderr }), done };
}

/** The `xiota` command on the target, with its shebang's node flags. */
export function startCli(target: Target, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Running {
  return startNode(target, CLI, args, { ...opts, flags: shebangFlags() });
}

/** The `process.arch` and version the child reported through _arch.ts. */
export function reportedArch(stderr: string): { arch: string; version: string } | undefined {
  const m = /^xiota-test-arch: (\S+) (\S+)$/m.exec(stderr);
  return m ? { arch: m[1]!, version: m[2]! } : undefined;
}

export function killAll(): void {
  for (const c of live) if (c.pid !== undefined) { try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ } }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
