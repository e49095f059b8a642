// Linux host health from /sys and /proc: CPU temperature (thermal zones), load, memory, disk,
// uptime and network counters. The root is configurable so tests read fixture trees laid out
// like a Raspberry Pi's. Each field is read on its own: one unreadable file marks only its
// field with an error.
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Driver, DriverContext, FieldSpec, FieldValue, Reading, ThingSpec } from './types';
import { XiotaError } from '../agent/errors';
import { errorText, roundTo } from './values';

export interface LinuxDiskOptions {
  /** Field name part: `disk_<name>_used_percent`. */
  name: string;
  /** Mount point given to statfs (not under `root`: statfs needs a real file system). */
  path: string;
}

export interface LinuxOptions {
  /** Where /sys and /proc live (default `/`). */
  root?: string;
  /** Thing id (default: the driver id). */
  thing?: string;
  pollIntervalMs?: number;
  /** Disks to report (default: `/` as `root`). */
  disks?: LinuxDiskOptions[];
  /** Network interfaces (default: every interface in /proc/net/dev except `lo`). */
  interfaces?: string[];
}

export interface LoadAvg { load1: number; load5: number; load15: number }

/** /proc/loadavg: `0.52 0.58 0.59 1/389 12345` — proc(5). */
export function parseLoadavg(text: string): LoadAvg {
  const p = text.trim().split(/\s+/).slice(0, 3).map(Number);
  if (p.length < 3 || p.some((n) => !Number.isFinite(n))) throw new Error(`unreadable /proc/loadavg: ${JSON.stringify(text.slice(0, 60))}`);
  return { load1: p[0], load5: p[1], load15: p[2] };
}

/** /proc/meminfo `Key:   1234 kB` lines → bytes per key. */
export function parseMeminfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([\w()]+):\s+(\d+)(?:\s+kB)?\s*$/.exec(line);
    if (m) out.set(m[1], Number(m[2]) * (line.trimEnd().endsWith('kB') ? 1024 : 1));
  }
  return out;
}

/** /proc/uptime: seconds since boot, first number. */
export function parseUptime(text: string): number {
  const n = Number(text.trim().split(/\s+/)[0]);
  if (!Number.isFinite(n) || n < 0) throw new Error(`unreadable /proc/uptime: ${JSON.stringify(text.slice(0, 60))}`);
  return n;
}

export interface NetCounters { rxBytes: number; rxPackets: number; rxErrors: number; txBytes: number; txPackets: number; txErrors: number }

/** /proc/net/dev: two header lines, then `iface: rx(8 columns) tx(8 columns)`. */
export function parseNetDev(text: string): Map<string, NetCounters> {
  const out = new Map<string, NetCounters>();
  for (const line of text.split('\n').slice(2)) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const name = line.slice(0, i).trim();
    const c = line.slice(i + 1).trim().split(/\s+/).map(Number);
    if (!name || c.length < 16 || c.some((n) => !Number.isFinite(n))) continue;
    out.set(name, { rxBytes: c[0], rxPackets: c[1], rxErrors: c[2], txBytes: c[8], txPackets: c[9], txErrors: c[10] });
  }
  return out;
}

/** Thermal zone `temp`: millidegrees Celsius (sysfs-class-thermal). */
export function parseMilliCelsius(text: string): number {
  const t = text.trim();
  if (!/^-?\d+$/.test(t)) throw new Error(`not a millidegree value: ${JSON.stringify(t.slice(0, 40))}`);
  return Number(t) / 1000;
}

type Reader = () => Promise<number>;
interface Probe { spec: FieldSpec; read: Reader }

export class LinuxDriver implements Driver {
  readonly kind = 'linux';
  readonly pollIntervalMs: number;
  private probes: Probe[] = [];
  private spec: ThingSpec;
  private readonly root: string;

  constructor(readonly id: string, private readonly opts: LinuxOptions, private readonly now: () => number = Date.now) {
    this.root = opts.root ?? '/';
    this.pollIntervalMs = opts.pollIntervalMs ?? 30_000;
    this.spec = { id: opts.thing ?? id, fields: [] };
  }

  things(): ThingSpec[] {
    return [this.spec];
  }

  async start(_ctx: DriverContext): Promise<void> {
    const p = (...parts: string[]) => join(this.root, ...parts);
    const probes: Probe[] = [];
    const cached = memo(() => fsp.readFile(p('proc/meminfo'), 'utf8').then(parseMeminfo));
    const load = memo(() => fsp.readFile(p('proc/loadavg'), 'utf8').then(parseLoadavg));
    const net = memo(() => fsp.readFile(p('proc/net/dev'), 'utf8').then(parseNetDev));
    this.resetters = [cached.reset, load.reset, net.reset];

    // Thermal zones: zone 0 is the SoC on a Pi (type `cpu-thermal`); others get their own field.
    const zones = (await fsp.readdir(p('sys/class/thermal')).catch(() => [] as string[]))
      .filter((n) => /^thermal_zone\d+$/.test(n)).sort((a, b) => Number(a.slice(12)) - Number(b.slice(12)));
    for (const z of zones) {
      const type = (await fsp.readFile(p('sys/class/thermal', z, 'type'), 'utf8').catch(() => '')).trim();
      const name = z === zones[0] || type === 'cpu-thermal' ? (probes.some((x) => x.spec.name === 'cpu_temperature') ? `${z}_temperature` : 'cpu_temperature') : `${z}_temperature`;
      probes.push({ spec: { name, type: 'numeric', unit: '°C', precision: 1 }, read: async () => parseMilliCelsius(await fsp.readFile(p('sys/class/thermal', z, 'temp'), 'utf8')) });
    }
    for (const k of ['load1', 'load5', 'load15'] as const) {
      probes.push({ spec: { name: k, type: 'numeric', precision: 2 }, read: async () => (await load.get())[k] });
    }
    const mem = async (key: string) => {
      const v = (await cached.get()).get(key);
      if (v === undefined) throw new Error(`/proc/meminfo has no ${key}`);
      return v;
    };
    probes.push({ spec: { name: 'memory_total', type: 'int', unit: 'B' }, read: () => mem('MemTotal') });
    probes.push({ spec: { name: 'memory_available', type: 'int', unit: 'B' }, read: () => mem('MemAvailable') });
    probes.push({ spec: { name: 'memory_used_percent', type: 'numeric', unit: '%', precision: 1 }, read: async () => {
      const total = await mem('MemTotal');
      return total > 0 ? (100 * (total - (await mem('MemAvailable')))) / total : 0;
    } });
    probes.push({ spec: { name: 'uptime', type: 'int', unit: 's' }, read: async () => Math.floor(parseUptime(await fsp.readFile(p('proc/uptime'), 'utf8'))) });
    for (const d of this.opts.disks ?? [{ name: 'root', path: '/' }]) {
      if (!/^[\w-]+$/.test(d.name)) throw new XiotaError('XIOTA_E_CONFIG', `linux driver ${this.id}: disk name "${d.name}" must be letters, digits, - or _`, { disk: d.name });
      const st = async () => fsp.statfs(d.path);
      probes.push({ spec: { name: `disk_${d.name}_free`, type: 'int', unit: 'B' }, read: async () => { const s = await st(); return s.bavail * s.bsize; } });
      probes.push({ spec: { name: `disk_${d.name}_used_percent`, type: 'numeric', unit: '%', precision: 1 }, read: async () => {
        // df(1)'s Use%: used / (used + available to non-root), so reserved blocks count as neither.
        const s = await st();
        const used = s.blocks - s.bfree;
        return used + s.bavail > 0 ? (100 * used) / (used + s.bavail) : 0;
      } });
    }
    const ifaces = this.opts.interfaces ?? [...(await net.get().catch(() => new Map<string, NetCounters>())).keys()].filter((n) => n !== 'lo');
    for (const i of ifaces) {
      const safe = i.replace(/[^\w-]/g, '_');
      const counter = (k: keyof NetCounters) => async () => {
        const c = (await net.get()).get(i);
        if (!c) throw new Error(`interface ${i} is not in /proc/net/dev`);
        return c[k];
      };
      probes.push({ spec: { name: `net_${safe}_rx_bytes`, type: 'int', unit: 'B' }, read: counter('rxBytes') });
      probes.push({ spec: { name: `net_${safe}_tx_bytes`, type: 'int', unit: 'B' }, read: counter('txBytes') });
      probes.push({ spec: { name: `net_${safe}_rx_errors`, type: 'int' }, read: counter('rxErrors') });
      probes.push({ spec: { name: `net_${safe}_tx_errors`, type: 'int' }, read: counter('txErrors') });
    }
    for (const r of this.resetters) r();
    this.probes = probes;
    this.spec = { id: this.opts.thing ?? this.id, name: 'host', fields: probes.map((x) => x.spec) };
  }

  private resetters: Array<() => void> = [];

  async stop(): Promise<void> {}

  async sample(): Promise<Reading[]> {
    for (const r of this.resetters) r(); // each file is read once per sample
    const ts = this.now();
    const values: FieldValue[] = await Promise.all(this.probes.map(async (pr): Promise<FieldValue> => {
      try {
        const v = await pr.read();
        return { field: pr.spec.name, value: pr.spec.type === 'int' ? Math.round(v) : roundTo(v, pr.spec.precision) };
      } catch (e) {
        return { field: pr.spec.name, error: errorText(e) };
      }
    }));
    return [{ thing: this.spec.id, timestamp: ts, values }];
  }
}

function memo<T>(f: () => Promise<T>): { get: () => Promise<T>; reset: () => void } {
  let p: Promise<T> | undefined;
  return { get: () => (p ??= f()), reset: () => { p = undefined; } };
}

export function createLinuxDriver(id: string, options: LinuxOptions, deps: { now?: () => number } = {}): Driver {
  return new LinuxDriver(id, options, deps.now);
}
