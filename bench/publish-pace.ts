// Shared by the publish bench's children: the pacing of readings and the stdout protocol.
// bench/publish-xmppjs-child.mjs loads this compiled file too (its path is an argument).

export interface PhaseResult {
  event: 'done';
  sent: number;
  acked: number;
  /** From the first reading to the last acknowledgement. */
  wallMs: number;
  /** process.cpuUsage() user + system over the same span. */
  cpuUs: number;
}

export const say = (o: object): void => {
  process.stdout.write(JSON.stringify(o) + '\n');
};

/**
 * Calls emit(i) for i in 0..n-1, reading i due at i * 1000 / rate ms after the start; late
 * ticks catch up at once. One timer per due reading, not a busy loop, so idle time costs
 * nothing. rate 0: all n at once (a burst).
 */
export function pace(rate: number, n: number, emit: (i: number) => void): Promise<void> {
  return new Promise((resolve) => {
    if (rate <= 0) {
      for (let i = 0; i < n; i++) emit(i);
      return resolve();
    }
    const t0 = performance.now();
    let sent = 0;
    const tick = (): void => {
      const due = Math.min(n, Math.floor(((performance.now() - t0) * rate) / 1000) + 1);
      while (sent < due) emit(sent++);
      if (sent >= n) return resolve();
      setTimeout(tick, Math.max(0, t0 + (sent * 1000) / rate - performance.now()));
    };
    tick();
  });
}

/**
 * BENCH_STRACE=/tmp/sys: counts this process's system calls over one phase (all threads,
 * `strace -c`), written to /tmp/sys.LABEL. start() resolves once strace is attached; the
 * returned stop() ends it and resolves when the summary is written.
 */
export async function straceStart(label: string): Promise<() => Promise<void>> {
  const perf = process.env.BENCH_PERF;
  if (perf) return perfStart(`${perf}.${label}`);
  const prefix = process.env.BENCH_STRACE;
  if (!prefix) return async () => undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { spawn } = require('node:child_process') as typeof import('node:child_process');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { readdirSync } = require('node:fs') as typeof import('node:fs');
  const tids = readdirSync('/proc/self/task').flatMap((t) => ['-p', t]);
  const st = spawn('strace', ['-c', '-f', '-o', `${prefix}.${label}`, ...tids], { stdio: ['ignore', 'ignore', 'pipe'] });
  // strace prints "Process N attached" for each thread on stderr: wait for all of them.
  await new Promise<void>((resolve) => {
    let seen = 0;
    st.stderr!.on('data', (d: Buffer) => {
      seen += (d.toString().match(/attached/g) ?? []).length;
      if (seen >= tids.length / 2) resolve();
    });
    setTimeout(resolve, 2000);
  });
  return () => new Promise<void>((resolve) => {
    st.on('exit', () => resolve());
    st.kill('SIGINT');
  });
}

/** BENCH_PERF=/tmp/perf: `perf record -g` (CPU time, all threads, kernel too) over one phase, to FILE. */
async function perfStart(file: string): Promise<() => Promise<void>> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { spawn } = require('node:child_process') as typeof import('node:child_process');
  const st = spawn('perf', ['record', '-e', 'cpu-clock', '-F', '4000', '-g', '-p', String(process.pid), '-o', file], { stdio: ['ignore', 'ignore', 'ignore'] });
  await new Promise((r) => setTimeout(r, 500));
  return () => new Promise<void>((resolve) => {
    st.on('exit', () => resolve());
    st.kill('SIGINT');
  });
}
