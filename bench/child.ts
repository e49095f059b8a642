// What the side-by-side benches share: a child process that talks JSON lines on stdout and
// takes commands on stdin, and the nearest-rank percentile every table prints.
import { spawn, type ChildProcess } from 'node:child_process';

export type Line = Record<string, unknown> & { event: string };
export interface Child { proc: ChildProcess; next(ev: string, timeoutMs?: number): Promise<Line>; send(cmd: string): void }

/** Nearest-rank percentile `p` (0-100) of `a`; NaN for no samples. */
export function pct(a: number[], p: number): number {
  if (!a.length) return NaN;
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

/**
 * Spawns `node nodeArgs...` as a bench child. `next(ev)` resolves with the first line whose
 * `event` is `ev` (taking it off the queue), and rejects on a timeout or when the child exits
 * before printing it.
 */
export function spawnJsonChild(label: string, nodeArgs: string[], env: NodeJS.ProcessEnv = process.env): Child {
  // BENCH_WRAP='strace -c -f -o /tmp/sys.%s': run each child under a tool (%s: the child's label).
  const wrap = process.env.BENCH_WRAP?.replace(/%s/g, label).split(' ').filter(Boolean) ?? [];
  const proc = wrap.length
    ? spawn(wrap[0]!, [...wrap.slice(1), process.execPath, ...nodeArgs], { env, stdio: ['pipe', 'pipe', 'inherit'] })
    : spawn(process.execPath, nodeArgs, { env, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: Line[] = [];
  let waiter: (() => void) | undefined;
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const text = buf.slice(0, i);
      buf = buf.slice(i + 1);
      // Lines that are not the protocol's (node's --trace-gc writes to stdout) go to stderr.
      if (text.startsWith('{')) lines.push(JSON.parse(text) as Line);
      else process.stderr.write(`[${label}] ${text}\n`);
    }
    waiter?.();
  });
  proc.on('exit', () => waiter?.());
  return {
    proc,
    send: (cmd) => proc.stdin!.write(cmd + '\n'),
    next: (ev, timeoutMs = 60_000) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${label}: no ${ev} within ${timeoutMs} ms`)), timeoutMs);
      const check = () => {
        const k = lines.findIndex((l) => l.event === ev);
        if (k >= 0) {
          clearTimeout(timer);
          waiter = undefined;
          resolve(lines.splice(k, 1)[0]!);
        } else if (proc.exitCode !== null) {
          clearTimeout(timer);
          reject(new Error(`${label} child exited ${proc.exitCode} before ${ev}`));
        }
      };
      waiter = check;
      check();
    }),
  };
}
