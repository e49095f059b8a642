// A preload (`node -r dist/bench/hop-trace.js`) for bench/node-red.ts's BENCH_NR_HOPS mode:
// stamps, in the process it is loaded into (the daemon, Node-RED), when a bench reading passes
// its Unix or TCP sockets, so the latency of a reading splits into hops on one wall clock
// (performance.timeOrigin + now(), the clock the bench and the recorder nodes use). Nothing of
// the process is changed but two wrappers around net.Socket; it writes its stamps to
// $XIOTA_HOP_TRACE_DIR/<pid>.txt at exit, one `KIND VALUE MS` line each:
//   r  a 'data' chunk that carries `"value":N` was delivered to the process (a request at the
//      daemon, a notification at Node-RED)
//   h  a `reading` notification carrying `"value":N` is handed to socket.write (the daemon)
//   w  that write returned (the syscall, and whatever ran while the daemon was off the CPU)
// Readings are told apart by their integer value, as the bench sends them.
import { appendFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const dir = process.env.XIOTA_HOP_TRACE_DIR;
if (dir) {
  const now = () => performance.timeOrigin + performance.now();
  const lines: string[] = [];
  const VALUE = /"value":(-?\d+)/g;
  const text = (d: unknown): string => (typeof d === 'string' ? d : Buffer.isBuffer(d) ? d.toString('latin1') : '');
  const proto = Socket.prototype as unknown as {
    emit(ev: string | symbol, ...a: unknown[]): boolean;
    write(d: unknown, ...a: unknown[]): boolean;
  };
  const emit = proto.emit;
  proto.emit = function (this: Socket, ev: string | symbol, ...a: unknown[]) {
    if (ev === 'data') {
      const t = now();
      for (const m of text(a[0]).matchAll(VALUE)) lines.push(`r ${m[1]} ${t}`);
    }
    return emit.call(this, ev, ...a);
  };
  const write = proto.write;
  proto.write = function (this: Socket, d: unknown, ...a: unknown[]) {
    const s = text(d);
    const reading = s.includes('"method":"reading"');
    const t0 = reading ? now() : 0;
    const ok = write.call(this, d, ...a);
    if (reading) {
      const t = now();
      for (const m of s.matchAll(VALUE)) lines.push(`h ${m[1]} ${t0}`, `w ${m[1]} ${t}`);
    }
    return ok;
  };
  let saved = false;
  const save = () => {
    if (saved) return;
    saved = true;
    appendFileSync(join(dir, `${process.pid}.txt`), lines.join('\n') + '\n');
  };
  process.on('exit', save);
  // Both the daemon and Node-RED end on SIGTERM through handlers of their own.
  process.prependListener('SIGTERM', save);
}
