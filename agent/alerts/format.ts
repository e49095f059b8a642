// Alert text: plain lines readable on a phone's lock screen (shared/any-client.md 4: Profanity
// and poezio show XEP-0393 styling raw, so no markup), one line per alert.
//   ⚠ greenhouse.temperature is 31.2 °C (above 30 for 60 s)
//   ✓ resolved: greenhouse.temperature back to 28.9 °C (was above 30 for 12 min)
import type { FieldSpec, Value } from '../../drivers/types';
import { formatDuration as formatSeconds, formatValue as formatPlain } from '../format';
import { conditionText, ruleKind, type AlertEvent, type AlertRule } from './rules';

const MAX_FAULT_TEXT = 200;

/** 31.2 °C, 41 %, on/off (agent/format.ts, the chat's and presence's formatting). */
export function formatValue(v: Value | undefined, spec?: FieldSpec): string {
  return v === undefined ? 'no value' : formatPlain(v, spec?.unit, spec?.precision);
}

function formatDuration(ms: number): string {
  return formatSeconds(ms / 1000);
}

function clip(s: string, n: number): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? one.slice(0, n - 1) + '…' : one;
}

/** One alert as one line of text. */
export function alertText(e: AlertEvent, rule: AlertRule, spec?: FieldSpec): string {
  const who = rule.name ? `${rule.name}: ${e.key}` : e.key;
  const held = e.at - e.since;
  const value = formatValue(e.value, spec);
  const kind = ruleKind(rule);
  if (e.kind === 'changed') {
    return `⚠ ${who} changed to ${value}${e.previous !== undefined ? ` (was ${formatValue(e.previous, spec)})` : ''}`;
  }
  if (e.kind === 'resolved') {
    if (kind === 'fault') return `✓ resolved: ${who} reads again: ${value} (failed for ${formatDuration(held)})`;
    return `✓ resolved: ${who} back to ${value} (was ${conditionText(rule)} for ${formatDuration(held)})`;
  }
  const still = e.kind === 'repeat' ? 'still: ' : '';
  // The first alert says how long the rule waited; a repeat says how long it has lasted.
  const lasted = e.kind === 'repeat' ? held : (rule.forS ?? 0) * 1000;
  const forText = lasted > 0 ? ` for ${formatDuration(lasted)}` : '';
  if (kind === 'fault') return `⚠ ${still}${who}: sensor fault${forText}: ${clip(e.fault ?? 'no reading', MAX_FAULT_TEXT)}`;
  return `⚠ ${still}${who} is ${value} (${conditionText(rule)}${forText})`;
}

/** The one note sent after the hourly cap held alerts back, with what is firing now. */
export function suppressedText(count: number, maxPerHour: number, firing: readonly string[]): string {
  const head = `… ${count} more alert${count === 1 ? '' : 's'} suppressed (at most ${maxPerHour} messages an hour).`;
  return firing.length ? `${head} Firing now: ${firing.join(', ')}` : `${head} Nothing is firing now.`;
}
