// Values for people: the presence status line, chat answers, the demo. Pure.
// Bytes in binary units (23.5 GiB), durations in days/hours/minutes, booleans as on/off,
// other numbers with their unit after a space (22.5 °C, 41 %), as SI writes them.
import type { Value } from '../drivers/types';

const BYTE_UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 512 B, 1.5 KiB, 23.5 GiB: three significant digits at most, IEC prefixes. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return `${n} B`;
  const sign = n < 0 ? '-' : '';
  let v = Math.abs(n);
  if (v < 1024) return `${sign}${Math.round(v)} B`;
  let i = -1;
  while (v >= 1024 && i < BYTE_UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  const digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${sign}${trimZeros(v.toFixed(digits))} ${BYTE_UNITS[i]}`;
}

/** 42 s, 5 min 3 s, 5 h 12 min, 3 d 4 h: the two largest units. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return `${seconds} s`;
  const s = Math.round(Math.abs(seconds));
  const sign = seconds < 0 ? '-' : '';
  const parts: [number, string][] = [[Math.floor(s / 86400), 'd'], [Math.floor((s % 86400) / 3600), 'h'], [Math.floor((s % 3600) / 60), 'min'], [s % 60, 's']];
  const first = parts.findIndex(([v]) => v > 0);
  if (first < 0) return '0 s';
  const shown = parts.slice(first, first + 2).filter(([v]) => v > 0);
  return sign + shown.map(([v, u]) => `${v} ${u}`).join(' ');
}

/** How long ago, in the largest unit that fits: "just now", "12 s ago", "3 min ago", "2 h ago", "4 d ago". */
export function formatAge(ms: number): string {
  // A timestamp slightly ahead of our clock (another device's clock) is "just now", not negative.
  if (!Number.isFinite(ms) || ms < 1000) return 'just now';
  const s = Math.floor(ms / 1000);
  if (s < 120) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m} min ago`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h} h ago` : `${Math.floor(h / 24)} d ago`;
}

/** A number rounded to `precision` decimals (when given), without trailing zeros beyond it. */
export function formatNumber(n: number, precision?: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (precision !== undefined && precision >= 0) return n.toFixed(Math.min(precision, 20));
  return String(Math.round(n * 1e6) / 1e6);
}

/** One value as a person reads it: `22.5 °C`, `23.5 GiB`, `3 d 4 h`, `on`, `idle`. */
export function formatValue(value: Value, unit?: string, precision?: number): string {
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (typeof value === 'string') return unit ? `${value} ${unit}` : value;
  if (unit === 'B') return formatBytes(value);
  if (unit === 's' && Math.abs(value) >= 60) return formatDuration(value);
  const num = formatNumber(value, precision);
  return unit ? `${num} ${unit}` : num;
}

function trimZeros(s: string): string {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}
