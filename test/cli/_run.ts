// Runs the compiled `xiota` CLI (or the demo) as a child process, as a user would. Every child
// is tracked by PID so a failed test still kills it (killAll in the suite's after()).
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const CLI = join(__dirname, '../../agent/cli/main.js');
export const DEMO = join(__dirname, '../../scripts/demo.js');

export interface Ran { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }

const live = new Set<ChildProcess>();

export interface Running {
  child: ChildProcess;
  /** Output so far. */
  out(): { stdout: string; stderr: string };
  done: Promise<Ran>;
}

export function startScript(script: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Running {
  const t0 = Date.now();
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
  const done = new Promise<Ran>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
    });
  });
  return { child, out: () => ({ stdout, stderr }), done };
}

export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<Ran> {
  return startScript(CLI, args, opts).done;
}

/** SIGKILL every child still running (by PID). */
export function killAll(): void {
  for (const c of live) if (c.pid !== undefined) { try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ } }
}

/** The environment without XIOTA_PASSWORD, plus `extra`. */
export function envWith(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (!('XIOTA_PASSWORD' in extra)) delete env.XIOTA_PASSWORD;
  return env;
}
