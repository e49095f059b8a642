// The history store's defaults, apart from the store: the config schema (history/schema.ts)
// needs them when it reads the config, and the store's code loads only when history is on.
import type { Level } from './rollup';

export const DEFAULT_RETENTION_MS: Record<Level, number> = { raw: 2 * 86_400_000, minute: 30 * 86_400_000, hour: 365 * 86_400_000, day: 3650 * 86_400_000 };
export const DEFAULT_HISTORY_MAX_BYTES = 128 * 1024 * 1024;
