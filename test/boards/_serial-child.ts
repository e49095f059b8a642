// Run by the board tests on the emulated board: the serial driver (serialport and its prebuilt
// native binding) opens one end of a socat pty pair, reads a JSON line written on the other
// end and writes a set back. Prints one JSON line: the binding file that was loaded, the
// reading, the bytes the device end received.
//   node _serial-child.js <pty-a> <pty-b>
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { createSerialDriver } from '../../drivers/serial';
import type { Reading } from '../../drivers/types';

async function main(): Promise<void> {
  const [a, b] = process.argv.slice(2);
  if (!a || !b) throw new Error('usage: _serial-child.js <pty-a> <pty-b>');
  const readings: Reading[] = [];
  const faults: string[] = [];
  const d = createSerialDriver('mcu', {
    path: a, protocol: 'json',
    fields: [{ name: 'temperature', type: 'numeric', path: 't', unit: '°C' }, { name: 'relay', type: 'boolean', writable: true }],
  });
  const quiet = () => {};
  await d.start({ emit: (r) => readings.push(r), fault: (m) => faults.push(m), thingsChanged: () => undefined, log: { debug: quiet, info: quiet, warn: quiet, error: quiet } });
  const fd = openSync(b, 'r+');
  let received = '';
  try {
    writeSync(fd, '{"t":21.5,"relay":false}\n');
    for (let i = 0; i < 500 && readings.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await d.set!('mcu', 'relay', true);
    const buf = Buffer.alloc(64);
    for (let i = 0; i < 500 && !received.endsWith('\n'); i++) {
      await new Promise((r) => setTimeout(r, 10));
      try {
        const n = readSync(fd, buf, 0, buf.length, null);
        received += buf.subarray(0, n).toString();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      }
    }
  } finally {
    closeSync(fd);
    await d.stop();
  }
  // The native binding is loaded with require(), so the file node-gyp-build chose is cached.
  const binding = Object.keys(require.cache).filter((k) => k.endsWith('.node'));
  process.stdout.write(JSON.stringify({ arch: process.arch, binding, readings: readings.map((r) => r.values), received, faults }) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`serial child: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
