// Framing and mapping for line protocols (serial) and message payloads (MQTT): a byte-level
// line splitter with a length cap, key=value lines, and the field mapping that turns a parsed
// JSON object or a set of keys into field values. Pure, tested on byte and string inputs.
import { StringDecoder } from 'node:string_decoder';
import type { FieldSpec, FieldValue } from './types';
import { coerceValue, getPath } from './values';

/** A field read from a message: where it is (`path`) and how to scale it. */
export interface MappedField extends FieldSpec {
  /** Dotted JSON path (`StatusSNS.BME280.Temperature`) or key (`temp`); default: `name`. */
  path?: string;
  /** Applied to numbers as value * scale + offset (e.g. tenths of a degree → 0.1). */
  scale?: number;
  offset?: number;
}

export function fieldSpecOf(m: MappedField): FieldSpec {
  const s: FieldSpec = { name: m.name, type: m.type };
  if (m.unit !== undefined) s.unit = m.unit;
  if (m.precision !== undefined) s.precision = m.precision;
  if (m.writable) s.writable = true;
  if (m.values !== undefined) s.values = m.values;
  if (m.min !== undefined) s.min = m.min;
  if (m.max !== undefined) s.max = m.max;
  return s;
}

/**
 * Splits a byte stream into lines on LF (a CR before it is dropped). Splitting bytes before
 * decoding keeps a UTF-8 character split across reads intact. A line longer than `maxLength`
 * bytes is discarded up to its end and reported once, so binary noise cannot grow memory.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private overflow = false;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onOverflow: (bytes: number) => void = () => undefined,
    private readonly maxLength = 4096,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) {
        this.append(chunk.subarray(start));
        return;
      }
      this.append(chunk.subarray(start, nl));
      this.finish();
      start = nl + 1;
    }
  }

  private append(b: Buffer): void {
    if (b.length === 0) return;
    if (this.overflow) { this.size += b.length; return; }
    this.size += b.length;
    if (this.size > this.maxLength) {
      this.overflow = true;
      this.parts = [];
      return;
    }
    this.parts.push(b);
  }

  private finish(): void {
    if (this.overflow) {
      this.onOverflow(this.size);
    } else {
      let buf = Buffer.concat(this.parts);
      if (buf.length && buf[buf.length - 1] === 0x0d) buf = buf.subarray(0, buf.length - 1);
      const line = new StringDecoder('utf8').end(buf);
      if (line.trim() !== '') this.onLine(line);
    }
    this.parts = [];
    this.size = 0;
    this.overflow = false;
  }
}

/** `temp=21.5 hum=40`, `temp=21.5,hum=40;state=ON`, `name="living room"` → key/value map. */
export function parseKeyValueLine(line: string): Map<string, string> | undefined {
  const out = new Map<string, string>();
  const re = /\s*([A-Za-z_][\w.-]*)\s*[=:]\s*("(?:[^"\\]|\\.)*"|[^\s,;]*)\s*[,;]?/y;
  const s = line.trim();
  let i = 0;
  while (i < s.length) {
    re.lastIndex = i;
    const m = re.exec(s);
    if (!m || m[0].length === 0) return undefined;
    let v = m[2];
    if (v.startsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    out.set(m[1], v);
    i = re.lastIndex;
  }
  return out.size ? out : undefined;
}

/**
 * Maps a parsed message to field values. A field whose path is absent is left out (many
 * devices send partial updates); a present value of the wrong kind gets `error`.
 */
export function mapFields(lookup: (path: string) => unknown, fields: MappedField[]): FieldValue[] {
  const out: FieldValue[] = [];
  for (const f of fields) {
    const raw = lookup(f.path ?? f.name);
    if (raw === undefined) continue;
    const c = coerceValue(raw, fieldSpecOf(f));
    if (!c.ok) {
      out.push({ field: f.name, error: `${f.path ?? f.name}: ${c.error}` });
      continue;
    }
    let v = c.value;
    if (typeof v === 'number' && (f.scale !== undefined || f.offset !== undefined)) {
      v = v * (f.scale ?? 1) + (f.offset ?? 0);
      if (f.type === 'int') v = Math.round(v);
    }
    out.push({ field: f.name, value: v });
  }
  return out;
}

/** Field values from a JSON object by dotted path. */
export function mapJson(obj: unknown, fields: MappedField[]): FieldValue[] {
  return mapFields((p) => getPath(obj, p), fields);
}

/** Parses text as JSON, returning undefined instead of throwing. */
export function tryJson(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return { ok: false, error: `not JSON (${(e as Error).message})` };
  }
}
