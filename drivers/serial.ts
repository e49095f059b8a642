// Line protocols over a serial port (serialport): NMEA 0183 from GPS receivers, JSON lines
// and key=value lines from microcontrollers, mapped to fields by configuration. Push-driven:
// every good line becomes a reading; a bad line is a fault and the port stays open. A port
// that goes away (USB unplugged) is reopened with backoff.
// serialport (and its native binding) is loaded when a port is opened, not at start-up.
import type { SerialPort } from 'serialport';
type SerialPortModule = typeof import('serialport');
import type { Driver, DriverContext, FieldValue, Reading, ThingSpec, Value } from './types';
import { XiotaError } from '../agent/errors';
import { LineSplitter, fieldSpecOf, mapFields, mapJson, parseKeyValueLine, tryJson, type MappedField } from './lines';
import { FIX_QUALITIES, parseNmea } from './nmea';
import { errorText, roundTo } from './values';

export type SerialProtocol = 'nmea' | 'json' | 'kv';

export interface SerialOptions {
  /** Device path: `/dev/ttyUSB0`, `/dev/serial0`, a pty. */
  path: string;
  baudRate?: number;
  protocol: SerialProtocol;
  /** Thing id (default: the driver id). */
  thing?: string;
  /** Field mapping for json and kv (required there); nmea has fixed fields. */
  fields?: MappedField[];
  /** Longest accepted line in bytes (default 4096). */
  maxLineLength?: number;
  /** First reopen delay after the port goes away, doubling up to 30 s (default 1000 ms). */
  reopenMs?: number;
}

export const NMEA_FIELDS: MappedField[] = [
  { name: 'latitude', type: 'numeric', unit: '°', precision: 6 },
  { name: 'longitude', type: 'numeric', unit: '°', precision: 6 },
  { name: 'altitude', type: 'numeric', unit: 'm', precision: 1 },
  { name: 'speed', type: 'numeric', unit: 'km/h', precision: 1 },
  { name: 'course', type: 'numeric', unit: '°', precision: 1 },
  { name: 'fix', type: 'enum', values: [...FIX_QUALITIES] },
  { name: 'satellites', type: 'int' },
  { name: 'hdop', type: 'numeric', precision: 1 },
];

/** One line → field values, or an error saying why the line was refused. Pure. */
export function parseSerialLine(protocol: SerialProtocol, line: string, fields: MappedField[]): { ok: true; values: FieldValue[] } | { ok: false; error: string } {
  if (protocol === 'nmea') {
    const r = parseNmea(line);
    if (!r.ok) return r;
    const values: FieldValue[] = [];
    for (const f of NMEA_FIELDS) {
      const v = r.fix[f.name as keyof typeof r.fix];
      if (v !== undefined) values.push({ field: f.name, value: typeof v === 'number' ? roundTo(v, f.precision) : v });
    }
    return { ok: true, values };
  }
  if (protocol === 'json') {
    const j = tryJson(line);
    if (!j.ok) return { ok: false, error: `line is ${j.error}: ${JSON.stringify(line.slice(0, 40))}` };
    if (j.value === null || typeof j.value !== 'object' || Array.isArray(j.value)) return { ok: false, error: 'JSON line is not an object' };
    const values = mapJson(j.value, fields);
    return values.length ? { ok: true, values } : { ok: false, error: `JSON line has none of the mapped fields (${fields.map((f) => f.path ?? f.name).join(', ')})` };
  }
  const kv = parseKeyValueLine(line);
  if (!kv) return { ok: false, error: `not a key=value line: ${JSON.stringify(line.slice(0, 40))}` };
  const values = mapFields((p) => kv.get(p), fields);
  return values.length ? { ok: true, values } : { ok: false, error: `key=value line has none of the mapped keys (${fields.map((f) => f.path ?? f.name).join(', ')})` };
}

/** The line a set writes back: `{"relay":true}` or `relay=1`. */
export function formatSetLine(protocol: SerialProtocol, field: MappedField, value: Value): string {
  const key = field.path ?? field.name;
  if (protocol === 'json') {
    // A dotted path becomes nested objects: `relay.state` → {"relay":{"state":true}}.
    const obj: Record<string, unknown> = {};
    let cur = obj;
    const parts = key.split('.');
    parts.slice(0, -1).forEach((p) => { cur = (cur[p] = {}) as Record<string, unknown>; });
    cur[parts[parts.length - 1]] = value;
    return JSON.stringify(obj) + '\n';
  }
  const text = typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
  return `${key}=${/[\s,;"=]/.test(text) ? JSON.stringify(text) : text}\n`;
}

export class SerialDriver implements Driver {
  readonly kind = 'serial';
  private port?: SerialPort;
  private ctx?: DriverContext;
  private stopped = true;
  private reopenTimer?: NodeJS.Timeout;
  private reopenMs: number;
  private readonly fields: MappedField[];
  private readonly thing: string;
  private faultWindow = { start: 0, count: 0, suppressed: 0 };

  constructor(readonly id: string, private readonly opts: SerialOptions, private readonly now: () => number = Date.now) {
    this.thing = opts.thing ?? id;
    this.reopenMs = opts.reopenMs ?? 1000;
    if (opts.protocol === 'nmea') this.fields = NMEA_FIELDS;
    else if (!opts.fields || opts.fields.length === 0) {
      throw new XiotaError('XIOTA_E_CONFIG', `serial driver ${id}: protocol ${opts.protocol} needs a \`fields\` mapping (name, type, path)`, { driver: id });
    } else this.fields = opts.fields;
  }

  things(): ThingSpec[] {
    return [{ id: this.thing, fields: this.fields.map(fieldSpecOf) }];
  }

  async start(ctx: DriverContext): Promise<void> {
    this.ctx = ctx;
    this.stopped = false;
    await this.open();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    this.reopenTimer = undefined;
    const p = this.port;
    this.port = undefined;
    if (p?.isOpen) await new Promise<void>((resolve) => p.close(() => resolve()));
  }

  async set(thing: string, field: string, value: Value): Promise<void> {
    const f = this.fields.find((x) => x.name === field);
    if (thing !== this.thing || !f || !f.writable || this.opts.protocol === 'nmea') {
      throw new XiotaError('XIOTA_E_DRIVER', `serial driver ${this.id}: ${thing}/${field} is not writable`, { thing, field });
    }
    const port = this.port;
    if (!port?.isOpen) throw new XiotaError('XIOTA_E_DRIVER', `serial driver ${this.id}: ${this.opts.path} is not open; try again when it is back`, { path: this.opts.path });
    const line = formatSetLine(this.opts.protocol, f, value);
    await new Promise<void>((resolve, reject) => {
      port.write(line, (err) => (err ? reject(err) : port.drain((e) => (e ? reject(e) : resolve()))));
    });
  }

  private open(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const { SerialPort: Port } = require('serialport') as SerialPortModule;
      const port = new Port({ path: this.opts.path, baudRate: this.opts.baudRate ?? 9600, autoOpen: false });
      const splitter = new LineSplitter(
        (line) => this.onLine(line),
        (bytes) => this.fault(`serial ${this.opts.path}: dropped a ${bytes}-byte line longer than ${this.opts.maxLineLength ?? 4096} bytes (binary noise or wrong baud rate?)`),
        this.opts.maxLineLength ?? 4096,
      );
      port.on('data', (chunk: Buffer) => splitter.push(chunk));
      port.on('error', (err) => this.fault(`serial ${this.opts.path}: ${errorText(err)}`));
      port.on('close', () => {
        if (this.port !== port) return;
        this.port = undefined;
        if (this.stopped) return;
        this.fault(`serial ${this.opts.path} closed; reopening in ${this.reopenMs} ms`);
        this.scheduleReopen();
      });
      port.open((err) => {
        if (err) {
          reject(new XiotaError('XIOTA_E_DRIVER', `serial driver ${this.id}: cannot open ${this.opts.path}: ${err.message} (check the path, and that the user is in the dialout group)`, { path: this.opts.path }, { cause: err }));
          return;
        }
        if (this.stopped) { port.close(); resolve(); return; }
        this.port = port;
        this.reopenMs = this.opts.reopenMs ?? 1000;
        this.ctx?.log.info('serial port open', { path: this.opts.path });
        resolve();
      });
    });
  }

  private scheduleReopen(): void {
    const wait = this.reopenMs;
    this.reopenMs = Math.min(this.reopenMs * 2, 30_000);
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      if (this.stopped) return;
      this.open().catch((e: unknown) => {
        this.fault(`${errorText(e)}; retrying in ${this.reopenMs} ms`);
        if (!this.stopped) this.scheduleReopen();
      });
    }, wait);
  }

  private onLine(line: string): void {
    const r = parseSerialLine(this.opts.protocol, line, this.fields);
    if (!r.ok) {
      this.fault(`serial ${this.opts.path}: ${r.error}`);
      return;
    }
    if (r.values.length === 0) return; // a sentence we do not map (GSV, GSA...)
    const reading: Reading = { thing: this.thing, timestamp: this.now(), values: r.values };
    this.ctx?.emit(reading);
  }

  /** At most 20 faults per 10 s: a wrong baud rate makes every line garbage. */
  private fault(message: string): void {
    const t = this.now();
    const w = this.faultWindow;
    if (t - w.start > 10_000) {
      if (w.suppressed) this.ctx?.fault(`serial ${this.opts.path}: ${w.suppressed} more bad lines suppressed`);
      this.faultWindow = { start: t, count: 0, suppressed: 0 };
    }
    if (this.faultWindow.count++ < 20) this.ctx?.fault(message, { path: this.opts.path });
    else this.faultWindow.suppressed++;
  }
}

export function createSerialDriver(id: string, options: SerialOptions, deps: { now?: () => number } = {}): Driver {
  return new SerialDriver(id, options, deps.now);
}
