// Agent CPU per reading, side by side (issue 12's target: xiota as installed, durable outbox on,
// at most 0.7x @xmpp/client's at 100/s and at 1000/s), on one server, repeated in one run.
//   npm run build && node dist/bench/publish-cpu.js [prosody-0.12|ejabberd-24.12|...] [rounds]
// Each round runs every phase for every kind (bench/publish.ts runPublish: one publisher at a
// time, measured at a subscriber); the kinds' order flips every round so neither side always
// runs first on a machine shared with other work. BENCH_KINDS as in bench/publish.ts
// (default xiota16,xmppjs: xiota16 is the shipped default of 16 readings per item).
import { startServer, parseServerLabel } from '../scripts/servers';
import { pct } from './child';
import { BENCH_USERS, runPublish, type Kind, type Phase } from './publish';

export async function main(): Promise<void> {
  const label = parseServerLabel(process.argv[2] ?? 'prosody-0.12');
  const rounds = Number(process.argv[3] ?? 2);
  const kinds = (process.env.BENCH_KINDS ?? 'xiota16,xmppjs').split(',') as Kind[];
  // BENCH_PHASES=100/s: only that phase (e.g. to profile one rate).
  const phases: Phase[] = [
    { name: '100/s', rate: 100, n: Number(process.env.BENCH_N100 ?? 1000) },
    { name: '1000/s', rate: 1000, n: Number(process.env.BENCH_N1000 ?? 5000) },
  ].filter((p) => !process.env.BENCH_PHASES || process.env.BENCH_PHASES.split(',').includes(p.name));
  const srv = await startServer(label, {
    users: BENCH_USERS.map((user) => ({ user, password: 'benchpass' })),
    throughput: true, // ejabberd's stock shaper off (README: a gateway's account needs a fast shaper)
    prosody: { extraConfig: 'storage = { pep_data = "memory" }' },
  });
  const rows: string[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 ? [...kinds].reverse() : kinds;
      const { res } = await runPublish(srv, phases, order);
      for (const ph of phases) {
        const cells = kinds.map((k) => {
          const x = res[ph.name]![k];
          const acked = x.done.acked as number;
          const us = (x.done.cpuUs as number) / Math.max(1, acked);
          return `${k} ${us.toFixed(0)} us, p50/p99 ${pct(x.latencies, 50)}/${pct(x.latencies, 99)} ms, ${((acked * 1000) / (x.done.wallMs as number)).toFixed(0)}/s`;
        });
        const us = kinds.map((k) => (res[ph.name]![k].done.cpuUs as number) / Math.max(1, res[ph.name]![k].done.acked as number));
        const ratio = us.length > 1 ? (us[0]! / us[us.length - 1]!).toFixed(2) : '';
        rows.push(`| ${label} | round ${r + 1} (${order.join(',')}) | ${ph.name} | ${cells.join(' | ')} | ratio ${ratio} |`);
        console.log(rows[rows.length - 1]);
      }
    }
  } finally {
    await srv.cleanup();
  }
  console.log(`\n${new Date().toISOString()} load ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  for (const r of rows) console.log(r);
}

if (require.main === module) void main().catch((e) => { console.error(e); process.exit(1); });
