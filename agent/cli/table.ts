// `xiota read` output: one row per field, aligned, units attached.
import type { Reading, ThingSpec } from '../../drivers/types';

export function formatReadings(readings: Reading[], things: ThingSpec[]): string {
  const specs = new Map(things.map((t) => [t.id, t]));
  const rows: string[][] = [['THING', 'FIELD', 'VALUE', 'UNIT', 'TIME']];
  for (const r of readings) {
    const spec = specs.get(r.thing);
    for (const v of r.values) {
      const f = spec?.fields.find((x) => x.name === v.field);
      const value = v.error !== undefined ? `error: ${v.error}` : typeof v.value === 'number' && f?.precision !== undefined ? v.value.toFixed(f.precision) : String(v.value);
      rows.push([r.thing, v.field, value, f?.unit ?? '', new Date(r.timestamp).toISOString()]);
    }
  }
  if (rows.length === 1) return 'no readings (no drivers configured, or every driver failed)';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}
