// Linux Industrial I/O sensors through sysfs (/sys/bus/iio/devices/iio:deviceN): BME280,
// SHT3x, DHT22, ADS1115 and the like through their kernel drivers. A channel is read from
// in_<chan>_input (already processed) or from in_<chan>_raw with _offset and _scale, and
// converted from the IIO ABI unit to the unit people expect (Documentation/ABI/testing/
// sysfs-bus-iio).
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Driver, DriverContext, FieldSpec, FieldValue, Reading, ThingSpec } from './types';
import { errorText, roundTo } from './values';

export interface IioDeviceOptions {
  /** `iio:device0`, or the device's `name` file content (`bme280`, `ads1015`). */
  device: string;
  /** Thing id (default `<driver id>-<name>`). */
  thing?: string;
  /** Channels to read (`temp`, `voltage0`); default all found. */
  channels?: string[];
  /** Field name per channel (default: `temp` → `temperature`, `humidityrelative` → `humidity`). */
  fieldNames?: Record<string, string>;
}

export interface IioOptions {
  root?: string;
  pollIntervalMs?: number;
  /** Devices to read; default every device under /sys/bus/iio/devices. */
  devices?: IioDeviceOptions[];
}

/** Per channel type: factor from the IIO ABI unit to ours, our unit, decimals, field name. */
export const IIO_UNITS: Record<string, { factor: number; unit: string; precision: number; field: string }> = {
  temp: { factor: 1 / 1000, unit: '°C', precision: 2, field: 'temperature' }, // milli °C
  humidityrelative: { factor: 1 / 1000, unit: '%', precision: 1, field: 'humidity' }, // milli %
  pressure: { factor: 10, unit: 'hPa', precision: 2, field: 'pressure' }, // kPa
  voltage: { factor: 1, unit: 'mV', precision: 3, field: 'voltage' }, // mV
  current: { factor: 1, unit: 'mA', precision: 3, field: 'current' }, // mA
  power: { factor: 1 / 1000, unit: 'W', precision: 3, field: 'power' }, // mW
  illuminance: { factor: 1, unit: 'lx', precision: 1, field: 'illuminance' },
  resistance: { factor: 1, unit: 'Ω', precision: 1, field: 'resistance' },
  concentration: { factor: 1, unit: '%', precision: 3, field: 'concentration' },
  proximity: { factor: 1, unit: '', precision: 0, field: 'proximity' },
  intensity: { factor: 1, unit: '', precision: 0, field: 'intensity' },
};

export interface IioChannel {
  /** `temp`, `voltage0`, `temp_ambient`, `humidityrelative`. */
  channel: string;
  /** Channel type: the known prefix (`voltage` for `voltage0`). */
  type: string;
  kind: 'input' | 'raw';
}

/** Finds readable channels among a device directory's file names. */
export function findChannels(files: string[]): IioChannel[] {
  const out = new Map<string, IioChannel>();
  for (const f of files) {
    const m = /^in_(.+)_(input|raw)$/.exec(f);
    if (!m) continue;
    const type = channelType(m[1]);
    if (!type) continue;
    const prev = out.get(m[1]);
    // A processed _input wins over _raw: the kernel already applied scale and offset.
    if (!prev || m[2] === 'input') out.set(m[1], { channel: m[1], type, kind: m[2] as 'input' | 'raw' });
  }
  return [...out.values()].sort((a, b) => a.channel.localeCompare(b.channel));
}

export function channelType(channel: string): string | undefined {
  // `voltage0`, `temp1`, `temp_ambient` are the type followed by an index or a modifier.
  for (const t of Object.keys(IIO_UNITS)) if (channel === t || channel.startsWith(t)) return t;
  return undefined;
}

/** IIO ABI: processed = (raw + offset) * scale, in the channel type's base unit. */
export function iioValue(raw: string, scale?: string, offset?: string): number {
  const r = parseNum(raw, 'raw');
  const o = offset === undefined ? 0 : parseNum(offset, 'offset');
  const s = scale === undefined ? 1 : parseNum(scale, 'scale');
  return (r + o) * s;
}

function parseNum(text: string, what: string): number {
  const t = text.trim();
  const n = Number(t);
  if (t === '' || !Number.isFinite(n)) throw new Error(`${what} value ${JSON.stringify(t.slice(0, 30))} is not a number`);
  return n;
}

interface Bound { dir: string; thing: string; name: string; channels: Array<IioChannel & { field: FieldSpec }> }

export class IioDriver implements Driver {
  readonly kind = 'iio';
  readonly pollIntervalMs: number;
  private bound: Bound[] = [];

  constructor(readonly id: string, private readonly opts: IioOptions, private readonly now: () => number = Date.now) {
    this.pollIntervalMs = opts.pollIntervalMs ?? 30_000;
  }

  private get base(): string {
    return join(this.opts.root ?? '/', 'sys/bus/iio/devices');
  }

  things(): ThingSpec[] {
    return this.bound.map((b) => ({ id: b.thing, name: b.name, fields: b.channels.map((c) => c.field) }));
  }

  async start(ctx: DriverContext): Promise<void> {
    const entries = (await fsp.readdir(this.base).catch((e: unknown) => {
      throw new Error(`cannot list ${this.base}: ${errorText(e)} (is the sensor's device-tree overlay loaded?)`);
    })).filter((n) => /^iio:device\d+$/.test(n)).sort((a, b) => Number(a.slice(10)) - Number(b.slice(10)));
    const devs: Array<{ entry: string; name: string }> = [];
    for (const e of entries) devs.push({ entry: e, name: (await fsp.readFile(join(this.base, e, 'name'), 'utf8').catch(() => e)).trim() });
    const wanted: IioDeviceOptions[] = this.opts.devices ?? devs.map((d) => ({ device: d.entry }));
    const bound: Bound[] = [];
    const used = new Set<string>();
    for (const w of wanted) {
      const d = devs.find((x) => x.entry === w.device) ?? devs.find((x) => x.name === w.device);
      if (!d) throw new Error(`no IIO device "${w.device}" under ${this.base}; found ${devs.map((x) => `${x.entry} (${x.name})`).join(', ') || 'none'}`);
      const dir = join(this.base, d.entry);
      let chans = findChannels(await fsp.readdir(dir));
      if (w.channels) {
        const missing = w.channels.filter((c) => !chans.some((x) => x.channel === c));
        if (missing.length) throw new Error(`IIO device ${d.entry} (${d.name}) has no channel ${missing.join(', ')}`);
        chans = chans.filter((c) => w.channels!.includes(c.channel));
      }
      if (chans.length === 0) ctx.log.warn('IIO device has no channels we know', { device: d.entry, name: d.name });
      let thing = w.thing ?? `${this.id}-${d.name.replace(/[^\w-]/g, '_')}`;
      if (!w.thing && used.has(thing)) thing = `${thing}-${d.entry.slice(10)}`;
      used.add(thing);
      bound.push({
        dir, thing, name: d.name,
        channels: chans.map((c) => {
          const u = IIO_UNITS[c.type];
          const name = w.fieldNames?.[c.channel] ?? u.field + c.channel.slice(c.type.length);
          const field: FieldSpec = { name, type: 'numeric', precision: u.precision };
          if (u.unit) field.unit = u.unit;
          return { ...c, field };
        }),
      });
    }
    this.bound = bound;
  }

  async stop(): Promise<void> {}

  async sample(): Promise<Reading[]> {
    return Promise.all(this.bound.map(async (b): Promise<Reading> => {
      const values = await Promise.all(b.channels.map(async (c): Promise<FieldValue> => {
        try {
          return { field: c.field.name, value: roundTo(await this.readChannel(b.dir, c), c.field.precision) };
        } catch (e) {
          // DHT22 reads often fail with EIO or ETIMEDOUT: only this field is marked.
          return { field: c.field.name, error: `${b.name} ${c.channel}: ${errorText(e)}` };
        }
      }));
      return { thing: b.thing, timestamp: this.now(), values };
    }));
  }

  private async readChannel(dir: string, c: IioChannel): Promise<number> {
    const u = IIO_UNITS[c.type];
    const read = (f: string) => fsp.readFile(join(dir, f), 'utf8');
    const optional = async (...names: string[]) => {
      for (const n of names) {
        try { return await read(n); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; }
      }
      return undefined;
    };
    if (c.kind === 'input') return parseNum(await read(`in_${c.channel}_input`), 'input') * u.factor;
    // Scale and offset may be per channel (in_voltage0_scale) or shared by type (in_voltage_scale).
    const raw = await read(`in_${c.channel}_raw`);
    const scale = await optional(`in_${c.channel}_scale`, `in_${c.type}_scale`);
    const offset = await optional(`in_${c.channel}_offset`, `in_${c.type}_offset`);
    return iioValue(raw, scale, offset) * u.factor;
  }
}

export function createIioDriver(id: string, options: IioOptions, deps: { now?: () => number } = {}): Driver {
  return new IioDriver(id, options, deps.now);
}
