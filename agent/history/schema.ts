// The `history:` section of xiota.yaml: the device's own history store (agent/history/store.ts),
// kept in the state directory beside the outbox.
//
// history:
//   enabled: true
//   retention: { raw: 2d, minute: 30d, hour: 365d, day: 3650d }   # or one duration for every level
//   rollups: [minute, hour, day]                                  # the levels kept on disk
//   max_bytes: 134217728                                          # all history files together
//
// A level that feeds another (raw feeds minutes, minutes feed hours ...) must be kept at least
// two periods of the level it feeds, or a restart could not rebuild the bucket still open:
// a shorter retention is raised to that, with a warning naming the key.
import { s, error, warn, INVALID, describe, type CheckContext, type Invalid, type Path, type Schema } from '../config/schema';
import { DEFAULT_HISTORY_MAX_BYTES, DEFAULT_RETENTION_MS } from './defaults';
import { LEVEL_MS, ROLLUP_LEVELS, type Level, type RollupLevel } from './rollup';

export interface HistoryConfig {
  enabled: boolean;
  /** Seconds each level is kept (YAML durations: 2d, 6h). */
  retention: Record<Level, number>;
  rollups: RollupLevel[];
  maxBytes: number;
}

const LEVELS: readonly Level[] = ['raw', ...ROLLUP_LEVELS];
const DEFAULT_RETENTION_S = Object.fromEntries(LEVELS.map((l) => [l, DEFAULT_RETENTION_MS[l] / 1000])) as Record<Level, number>;
// Longer than ten years is a mistake in units more often than a wish.
const MAX_RETENTION_S = 20 * 365 * 86_400;

const duration = () => s.seconds().min(60).max(MAX_RETENTION_S);

const retentionMap = s.object<Partial<Record<Level, number>>>({
  raw: duration().optional(),
  minute: duration().optional(),
  hour: duration().optional(),
  day: duration().optional(),
});

const retention = s.custom<Record<Level, number>>('a duration (30d) or a mapping of raw, minute, hour, day to durations', (v, path, ctx): Record<Level, number> | Invalid => {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const m = retentionMap.check(v, path, ctx);
    return m === INVALID ? INVALID : { ...DEFAULT_RETENTION_S, ...m };
  }
  if (typeof v === 'number' || typeof v === 'string') {
    const n = duration().check(v, path, ctx);
    return n === INVALID ? INVALID : (Object.fromEntries(LEVELS.map((l) => [l, n])) as Record<Level, number>);
  }
  error(ctx, path, `expected a duration like 30d, or a mapping like { raw: 2d, minute: 30d }, got ${describe(v)}`);
  return INVALID;
});

export const historySchema: Schema<HistoryConfig> = s.object<HistoryConfig>({
  enabled: s.boolean().default(true),
  retention: retention.default(() => ({ ...DEFAULT_RETENTION_S })),
  rollups: s.array(s.enum(ROLLUP_LEVELS)).default(() => [...ROLLUP_LEVELS]),
  // At least 1 MiB: a few segments of each level.
  maxBytes: s.integer().min(1024 * 1024).clamp().default(DEFAULT_HISTORY_MAX_BYTES),
}).refine((h: HistoryConfig, path: Path, ctx: CheckContext) => {
  const seen = new Set<string>();
  h.rollups.forEach((l, i) => {
    if (seen.has(l)) error(ctx, [...path, 'rollups', i], `"${l}" is listed twice`);
    seen.add(l);
  });
  h.rollups = ROLLUP_LEVELS.filter((l) => seen.has(l));
  // Each kept level is fed by the next finer one kept (or raw readings).
  let source: Level = 'raw';
  for (const l of h.rollups) {
    const need = (2 * LEVEL_MS[l]) / 1000;
    if (h.retention[source] < need) {
      warn(ctx, [...path, 'retention'],
        `${source} is kept ${h.retention[source]} s, less than two ${l}s (the ${l} rollups are built from it); using ${need} s`);
      h.retention[source] = need;
    }
    source = l;
  }
});
