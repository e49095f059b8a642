// NMEA 0183 sentences from GPS receivers: checksum, GGA (fix, position, altitude,
// satellites), RMC (position, speed, course, validity) and VTG (speed over ground).
// Pure functions over one line of text.

export interface NmeaFix {
  /** Sentence type without talker (`GGA`, `RMC`, `VTG`). */
  type: string;
  latitude?: number;
  longitude?: number;
  altitude?: number;
  /** km/h (NMEA gives knots in RMC: 1 kn = 1.852 km/h). */
  speed?: number;
  course?: number;
  fix?: NmeaFixQuality;
  satellites?: number;
  hdop?: number;
}

// GGA field 6, fix quality indicator (NMEA 0183 v4.10).
export const FIX_QUALITIES = ['none', 'gps', 'dgps', 'pps', 'rtk', 'float-rtk', 'estimated', 'manual', 'simulation'] as const;
export type NmeaFixQuality = (typeof FIX_QUALITIES)[number];

export type NmeaResult = { ok: true; fix: NmeaFix } | { ok: false; error: string };

/** XOR of every character between `$` and `*` (NMEA 0183 checksum). */
export function nmeaChecksum(body: string): number {
  let c = 0;
  for (let i = 0; i < body.length; i++) c ^= body.charCodeAt(i) & 0xff;
  return c;
}

/** `4807.038`,`N` → 48.1173 (ddmm.mmmm, dddmm.mmmm for longitude). */
export function nmeaCoordinate(value: string, hemi: string): number | undefined {
  if (!value) return undefined;
  const m = /^(\d{2,3})(\d{2}(?:\.\d+)?)$/.exec(value);
  if (!m) return undefined;
  const deg = Number(m[1]) + Number(m[2]) / 60;
  if (hemi === 'S' || hemi === 'W') return -deg;
  if (hemi === 'N' || hemi === 'E') return deg;
  return undefined;
}

function num(s: string | undefined): number | undefined {
  if (s === undefined || s === '') return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

/** Parses one sentence. A sentence without a checksum is refused: on a noisy serial line
 *  the checksum is the only thing telling a good position from a corrupted one. */
export function parseNmea(line: string): NmeaResult {
  const s = line.trim();
  const m = /^[$!]([^*$!]+)\*([0-9A-Fa-f]{2})$/.exec(s);
  if (!m) {
    if (/^[$!][^*]+$/.test(s)) return { ok: false, error: 'NMEA sentence without checksum' };
    return { ok: false, error: `not an NMEA sentence: ${JSON.stringify(s.slice(0, 40))}` };
  }
  const want = parseInt(m[2], 16);
  const got = nmeaChecksum(m[1]);
  if (want !== got) return { ok: false, error: `NMEA checksum mismatch: sentence says ${m[2].toUpperCase()}, computed ${got.toString(16).toUpperCase().padStart(2, '0')}` };
  const f = m[1].split(',');
  const id = f[0];
  // Talker ids: GP (GPS), GN (multi-GNSS), GL, GA, BD/GB, QZ...; the sentence type is the tail.
  const type = id.length === 5 ? id.slice(2) : id;
  switch (type) {
    case 'GGA': {
      const q = num(f[6]);
      const fix: NmeaFix = { type, fix: q !== undefined && q >= 0 && q < FIX_QUALITIES.length ? FIX_QUALITIES[q] : 'none' };
      if (fix.fix !== 'none') {
        set(fix, 'latitude', nmeaCoordinate(f[2], f[3]));
        set(fix, 'longitude', nmeaCoordinate(f[4], f[5]));
        set(fix, 'altitude', num(f[9]));
        set(fix, 'hdop', num(f[8]));
      }
      set(fix, 'satellites', num(f[7]));
      return { ok: true, fix };
    }
    case 'RMC': {
      // Field 2: A = valid, V = receiver warning (no fix); then the position is not to be used.
      if (f[2] !== 'A') return { ok: true, fix: { type, fix: 'none' } };
      const fix: NmeaFix = { type };
      set(fix, 'latitude', nmeaCoordinate(f[3], f[4]));
      set(fix, 'longitude', nmeaCoordinate(f[5], f[6]));
      const kn = num(f[7]);
      if (kn !== undefined) fix.speed = kn * 1.852;
      set(fix, 'course', num(f[8]));
      return { ok: true, fix };
    }
    case 'VTG': {
      const fix: NmeaFix = { type };
      set(fix, 'course', num(f[1]));
      set(fix, 'speed', num(f[7]));
      return { ok: true, fix };
    }
    default:
      return { ok: true, fix: { type } };
  }
}

function set<K extends keyof NmeaFix>(o: NmeaFix, k: K, v: NmeaFix[K] | undefined): void {
  if (v !== undefined) o[k] = v;
}
