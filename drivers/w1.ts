// DS18B20-family 1-Wire thermometers through the kernel's w1_therm driver:
// /sys/bus/w1/devices/28-*/w1_slave (two lines: scratchpad + `crc=xx YES|NO`, then `t=<m°C>`)
// and, on kernels since 5.x, a plain `temperature` file in millidegrees.
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Driver, DriverContext, Reading, ThingSpec } from './types';
import { errorText } from './values';

export interface W1Options {
  /** Where /sys lives (default `/`). */
  root?: string;
  pollIntervalMs?: number;
  /** Device ids to read (`28-0316a2795bff`); default: every thermometer found at start. */
  devices?: string[];
  /** Thing id per device id (default `<driver id>-<device id>`). */
  names?: Record<string, string>;
  /** Accept 85.000 °C, the DS18B20 power-on reset value (default false: it is reported as an
   *  error, because it almost always means the conversion did not run — a brown-out or a
   *  parasite-power wiring fault — and a real 85 °C is rare). */
  accept85?: boolean;
}

// Family codes of w1_therm thermometers: DS18S20, DS1822, DS18B20, DS1825/MAX31850, DS28EA00.
const FAMILIES = /^(10|22|28|3b|42)-[0-9a-f]{12}$/;
const POWER_ON_RESET_MILLI = 85000;

export type W1Result = { ok: true; celsius: number } | { ok: false; error: string };

/** Dallas/Maxim CRC-8 (polynomial x^8 + x^5 + x^4 + 1, reflected 0x8C) — DS18B20 datasheet. */
export function crc8(bytes: ArrayLike<number>): number {
  let crc = 0;
  for (let i = 0; i < bytes.length; i++) {
    let b = bytes[i];
    for (let j = 0; j < 8; j++) {
      const mix = (crc ^ b) & 1;
      crc >>= 1;
      if (mix) crc ^= 0x8c;
      b >>= 1;
    }
  }
  return crc;
}

/** Parses a w1_slave file. The kernel's YES/NO is authoritative; when the scratchpad bytes
 *  are present we check the CRC ourselves too, so a file mangled in transit is caught. */
export function parseW1Slave(text: string, accept85 = false): W1Result {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  if (lines.length < 2) return { ok: false, error: `w1_slave has ${lines.length} line(s), expected 2` };
  const crcLine = /^((?:[0-9a-f]{2} ){9}): crc=([0-9a-f]{2}) (YES|NO)$/i.exec(lines[0]);
  if (!crcLine) return { ok: false, error: `w1_slave first line is not a CRC line: ${JSON.stringify(lines[0].slice(0, 60))}` };
  if (crcLine[3].toUpperCase() !== 'YES') return { ok: false, error: 'CRC check failed (crc=… NO): bad wiring, a long cable or a missing pull-up resistor' };
  const bytes = crcLine[1].trim().split(' ').map((h) => parseInt(h, 16));
  if (crc8(bytes.slice(0, 8)) !== bytes[8]) return { ok: false, error: `scratchpad CRC mismatch: computed ${crc8(bytes.slice(0, 8)).toString(16).padStart(2, '0')}, device sent ${crcLine[2]}` };
  const t = /t=(-?\d+)\s*$/.exec(lines[1]);
  if (!t) return { ok: false, error: `w1_slave second line has no t=: ${JSON.stringify(lines[1].slice(0, 60))}` };
  return milli(Number(t[1]), accept85);
}

/** Parses the newer `temperature` file: millidegrees Celsius, one integer. */
export function parseW1Temperature(text: string, accept85 = false): W1Result {
  const t = text.trim();
  if (!/^-?\d+$/.test(t)) return { ok: false, error: `temperature file holds ${JSON.stringify(t.slice(0, 40))}, not millidegrees` };
  return milli(Number(t), accept85);
}

function milli(m: number, accept85: boolean): W1Result {
  if (m === POWER_ON_RESET_MILLI && !accept85) return { ok: false, error: '85 °C power-on reset value: the sensor did not convert (check power and wiring)' };
  // DS18B20 range is -55..+125 °C; anything outside is a read error (e.g. -127 when absent).
  if (m < -55000 || m > 125000) return { ok: false, error: `temperature ${m / 1000} °C is outside the sensor's range (-55..125 °C)` };
  return { ok: true, celsius: m / 1000 };
}

export class W1Driver implements Driver {
  readonly kind = 'w1';
  readonly pollIntervalMs: number;
  private devices: Array<{ dev: string; thing: string }> = [];

  constructor(readonly id: string, private readonly opts: W1Options, private readonly now: () => number = Date.now) {
    this.pollIntervalMs = opts.pollIntervalMs ?? 30_000;
  }

  private get dir(): string {
    return join(this.opts.root ?? '/', 'sys/bus/w1/devices');
  }

  things(): ThingSpec[] {
    return this.devices.map((d) => ({ id: d.thing, name: `1-Wire ${d.dev}`, fields: [{ name: 'temperature', type: 'numeric', unit: '°C', precision: 3 }] }));
  }

  async start(ctx: DriverContext): Promise<void> {
    let ids = this.opts.devices;
    if (!ids) {
      const names = await fsp.readdir(this.dir).catch((e: unknown) => {
        throw new Error(`cannot list ${this.dir}: ${errorText(e)} (is the w1-gpio overlay enabled?)`);
      });
      ids = names.filter((n) => FAMILIES.test(n)).sort();
      if (ids.length === 0) ctx.log.warn('no 1-Wire thermometers found', { dir: this.dir });
    }
    this.devices = ids.map((dev) => ({ dev, thing: this.opts.names?.[dev] ?? `${this.id}-${dev}` }));
  }

  async stop(): Promise<void> {}

  async sample(): Promise<Reading[]> {
    return Promise.all(this.devices.map(async (d): Promise<Reading> => {
      const r = await this.read(d.dev);
      const ts = this.now();
      return { thing: d.thing, timestamp: ts, values: [r.ok ? { field: 'temperature', value: r.celsius } : { field: 'temperature', error: r.error }] };
    }));
  }

  private async read(dev: string): Promise<W1Result> {
    const base = join(this.dir, dev);
    const accept = this.opts.accept85 ?? false;
    try {
      // The kernel checks the CRC before filling `temperature` (read fails with EIO on a bad one).
      return parseW1Temperature(await fsp.readFile(join(base, 'temperature'), 'utf8'), accept);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return { ok: false, error: `reading ${dev}/temperature: ${errorText(e)}` };
    }
    try {
      return parseW1Slave(await fsp.readFile(join(base, 'w1_slave'), 'utf8'), accept);
    } catch (e) {
      return { ok: false, error: `reading ${dev}/w1_slave: ${errorText(e)}` };
    }
  }
}

export function createW1Driver(id: string, options: W1Options, deps: { now?: () => number } = {}): Driver {
  return new W1Driver(id, options, deps.now);
}
