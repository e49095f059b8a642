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
