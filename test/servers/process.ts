// Process plumbing shared by the real-server fixtures (Prosody, Mosquitto): free loopback
// ports, waiting for a port to accept, and spawning a server so that it dies with us.
//
// Why a watchdog: a test file can be SIGKILLed by the runner on timeout, and no 'exit'
// handler runs then. Each server gets a tiny `sh` watchdog whose stdin is a pipe from this
// process; when this process dies the pipe hits EOF and the watchdog SIGKILLs the server
// by PID. On a normal exit an 'exit' handler kills them directly.
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { createConnection, createServer, Socket } from 'node:net';

/** A free TCP port on 127.0.0.1: bind port 0, read it, close. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('freePort: no port assigned'))));
    });
  });
}

/** Several distinct free ports (kept bound until all are chosen, so they differ). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const srv = createServer();
      srv.on('error', reject);
      srv.listen(0, '127.0.0.1', () => resolve(srv));
    })),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    return typeof a === 'object' && a ? a.port : 0;
  });
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s: Socket = createConnection({ port, host });
    const done = (ok: boolean) => { clearTimeout(t); s.destroy(); resolve(ok); };
    const t = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** Last `lines` lines of a text file, or a note that it is missing. */
export function tail(file: string, lines = 30): string {
  if (!existsSync(file)) return `(no ${file})`;
  const all = readFileSync(file, 'utf8').split('\n');
  return all.slice(-lines).join('\n');
}

/** True when `name` is an executable on PATH. */
export function hasBinary(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of live) if (c.exitCode === null && c.signalCode === null) {
      try { process.kill(c.pid as number, 'SIGKILL'); } catch { /* already gone */ }
    }
    for (const d of tempDirs) {
      try { rmSync(d, { recursive: true, force: true }); } catch { /* best effort */ }
    }
  });
}

/** Remove `dir` (a throwaway dir we made) when this process exits, whatever the tests did. */
export function removeOnExit(dir: string): void {
  installExitHook();
  tempDirs.add(dir);
}

export interface GuardedChild {
  child: ChildProcess;
  pid: number;
  /** Resolves when the process has exited (already resolved if it has). */
  exited: Promise<void>;
  isRunning(): boolean;
  /** Send `signal`, wait for exit; SIGKILL after `graceMs` if it is still there. */
  terminate(signal: NodeJS.Signals, graceMs?: number): Promise<void>;
}

/**
 * Spawn a long-running server with stdout+stderr appended to `outFile`. The child does not
 * keep our event loop alive (a test that forgets stop() still ends), and it is killed by PID
 * when we exit or die.
 */
export function spawnGuarded(cmd: string, args: string[], outFile: string, cwd?: string): GuardedChild {
  installExitHook();
  const fd = openSync(outFile, 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], cwd });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not spawn ${cmd}: is it installed?`);
  const pid = child.pid;
  live.add(child);
  child.unref();
  // Watchdog: `read` returns at EOF (our death or our kill of it), then kill the server.
  // A throwaway working dir goes too: nobody else will remove it after a SIGKILL.
  const rm = cwd && tempDirs.has(cwd) ? '; rm -rf "$1"' : '';
  const dog = spawn('sh', ['-c', `read _ignored; kill -9 ${pid} 2>/dev/null${rm}`, 'xiota-watchdog', cwd ?? ''], { stdio: ['pipe', 'ignore', 'ignore'] });
  dog.unref();
  (dog.stdin as unknown as Socket).unref?.();
  dog.on('error', () => { /* watchdog is best effort */ });
  const exited = new Promise<void>((resolve) => {
    const onExit = () => {
      live.delete(child);
      // The server is gone: stop the watchdog before its PID target can be reused.
      if (dog.exitCode === null) { try { dog.kill('SIGKILL'); } catch { /* gone */ } }
      resolve();
    };
    child.once('exit', onExit);
    child.once('error', onExit);
  });
  const isRunning = () => child.exitCode === null && child.signalCode === null && live.has(child);
  const terminate = async (signal: NodeJS.Signals, graceMs = 5000): Promise<void> => {
    if (!isRunning()) return exited;
    try { process.kill(pid, signal); } catch { /* already gone */ }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((r) => { timer = setTimeout(() => r(true), graceMs); });
    const late = await Promise.race([exited.then(() => false), timedOut]);
    clearTimeout(timer);
    if (late) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      await exited;
    }
  };
  return { child, pid, exited, isRunning, terminate };
}

/**
 * Poll until `port` accepts a TCP connection. Fails early if `guard` exits, and after
 * `timeoutMs`; the error carries `describe()` (typically the tail of the server's log).
 */
export async function waitForPort(port: number, guard: GuardedChild, what: string, describe: () => string, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // A ref'd timer per poll keeps the loop alive while we wait for an unref'd child.
  for (;;) {
    if (!guard.isRunning()) {
      throw new Error(`${what} exited before port ${port} was ready (exit code ${guard.child.exitCode}, signal ${guard.child.signalCode}).\n--- log tail ---\n${describe()}`);
    }
    if (await canConnect(port)) return;
    if (Date.now() > deadline) {
      throw new Error(`${what} did not accept connections on 127.0.0.1:${port} within ${timeoutMs} ms.\n--- log tail ---\n${describe()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
