// Rollup maths, pure: the periods the store keeps and XEP-0323 names, the bucket a timestamp
// falls in (UTC), aggregates (count, errors, min/max/sum for numbers, the last value for the
// rest) and how two of them merge. Merging is exact (min of mins, sums of sums), so an hour is
// built from its minutes, a day from its hours, and a week or a month from days at query time.
import type { Value } from '../../drivers/types';
import type { Stored } from './codec';

/** Rollup levels kept on disk, finest first. */
export const ROLLUP_LEVELS = ['minute', 'hour', 'day'] as const;
export type RollupLevel = typeof ROLLUP_LEVELS[number];
export type Level = 'raw' | RollupLevel;

/** Periods a query may ask for (XEP-0323 'Field Types', historicalMinute ... historicalYear). */
export const PERIODS = ['minute', 'hour', 'day', 'week', 'month', 'quarter', 'year'] as const;
export type Period = typeof PERIODS[number];

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

export const LEVEL_MS: Record<RollupLevel, number> = { minute: MINUTE, hour: HOUR, day: DAY };

/** Start of the period `ts` falls in, UTC. XEP-0323: a week starts on Monday 00:00. */
export function periodStart(p: Period, ts: number): number {
  switch (p) {
    case 'minute': return Math.floor(ts / MINUTE) * MINUTE;
    case 'hour': return Math.floor(ts / HOUR) * HOUR;
    case 'day': return Math.floor(ts / DAY) * DAY;
    case 'week': {
      const d = Math.floor(ts / DAY) * DAY;
      // 1970-01-01 was a Thursday: getUTCDay() 4. Days since the last Monday:
      const back = (new Date(d).getUTCDay() + 6) % 7;
      return d - back * DAY;
    }
    default: {
      const t = new Date(ts);
      const y = t.getUTCFullYear();
      const m = p === 'month' ? t.getUTCMonth() : p === 'quarter' ? t.getUTCMonth() - (t.getUTCMonth() % 3) : 0;
      return Date.UTC(y, m, 1);
    }
  }
}

/** Start of the next period after the one `start` begins. */
export function periodEnd(p: Period, start: number): number {
  if (p === 'minute') return start + MINUTE;
  if (p === 'hour') return start + HOUR;
  if (p === 'day') return start + DAY;
  if (p === 'week') return start + 7 * DAY;
  const t = new Date(start);
  const months = p === 'month' ? 1 : p === 'quarter' ? 3 : 12;
  return Date.UTC(t.getUTCFullYear(), t.getUTCMonth() + months, 1);
}

const FLAG: Record<Period | 'second', string> = {
  second: 'historicalSecond', minute: 'historicalMinute', hour: 'historicalHour', day: 'historicalDay',
  week: 'historicalWeek', month: 'historicalMonth', quarter: 'historicalQuarter', year: 'historicalYear',
};

/**
 * XEP-0323 'Field Types': the historical* flags of a value stored at `ts` for `period`
 * (undefined: a raw reading). The period's own flag, and each coarser one whose shift `ts`
 * falls on, as in the spec's example (an hourly value at 00:00 is historicalHour and
 * historicalDay). A raw reading not on a whole second is historicalOther.
 */
export function historicalFlags(period: Period | undefined, ts: number): string[] {
  const order: (Period | 'second')[] = ['second', 'minute', 'hour', 'day', 'week', 'month', 'quarter', 'year'];
  if (period === undefined && ts % 1000 !== 0) return ['historicalOther'];
  const from = period === undefined ? 0 : order.indexOf(period);
  const out = [FLAG[order[from]!]];
  for (let i = from + 1; i < order.length; i++) {
    const p = order[i] as Period;
    if (periodStart(p, ts) === ts) out.push(FLAG[p]);
  }
  return out;
}

/** One bucket of one field. */
export interface Agg {
  /** Values seen (errors not counted). */
  count: number;
  /** Readings where the sensor failed. */
  errors: number;
  /** Numbers: present together. */
  min?: number;
  max?: number;
  sum?: number;
  /** Values that are not finite numbers (booleans, enums, strings): the last one. */
  last?: Value;
}

export function emptyAgg(): Agg {
  return { count: 0, errors: 0 };
}

/** Adds one stored value to a bucket, in place. */
export function addValue(a: Agg, v: Stored): Agg {
  if ('error' in v) { a.errors++; return a; }
  a.count++;
  const x = v.value;
  if (typeof x === 'number' && Number.isFinite(x)) {
    if (a.min === undefined) { a.min = x; a.max = x; a.sum = x; } else {
      if (x < a.min) a.min = x;
      if (x > a.max!) a.max = x;
      a.sum! += x;
    }
  } else a.last = x;
  return a;
}

/** Merges `b` into `a` (b is the later bucket when they differ), in place. */
export function mergeAgg(a: Agg, b: Agg): Agg {
  a.count += b.count;
  a.errors += b.errors;
  if (b.min !== undefined) {
    if (a.min === undefined) { a.min = b.min; a.max = b.max; a.sum = b.sum; } else {
      if (b.min < a.min) a.min = b.min;
      if (b.max! > a.max!) a.max = b.max;
      a.sum! += b.sum!;
    }
  }
  if (b.last !== undefined) a.last = b.last;
  return a;
}

/** The mean of the numbers in a bucket, or undefined when it holds none. */
export function mean(a: Agg): number | undefined {
  if (a.min === undefined || a.count === 0) return undefined;
  // Numbers and non-numbers never mix in one field in practice; count counts both.
  // Clamped: a long float sum may land a hair outside [min, max].
  return Math.min(a.max!, Math.max(a.min, a.sum! / a.count));
}
