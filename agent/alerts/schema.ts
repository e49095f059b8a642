// The `alerts:` section of xiota.yaml, and the check that every rule names a field some driver
// declares. Harmless numbers clamp with a warning (a repeat of 10 s becomes 60 s); a rule that
// cannot mean anything (no condition, an unknown field, above below below) is an error that
// names the rule.
//
// alerts:
//   group_s: 30            # alerts to one person within this window go in one message
//   max_per_hour: 20       # messages per person per hour; past it, one "N more suppressed" note
//   rules:
//     - { field: greenhouse.temperature, above: 30, for_s: 60, hysteresis: 1 }
import type { DriverConfig } from '../config/drivers-schema';
import { s, error, warn, suggest, type CheckContext, type Path, type Schema } from '../config/schema';
import type { FieldType } from '../../drivers/types';
import { ruleKind, splitKey, type AlertRule } from './rules';

export interface AlertsConfig {
  rules: AlertRule[];
  /** Grouping window (Alertmanager's group_wait), seconds; 0 sends each alert at once. */
  groupS: number;
  /** Messages per recipient in any hour. */
  maxPerHour: number;
}

const KEY_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*\.[A-Za-z0-9][A-Za-z0-9._-]*$/;
const BARE_JID_RE = /^[^@/\s"&'<>:]+@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const MIN_REPEAT_S = 60;

const recipient = s.string().validate((v) => {
  const e = v.trim();
  if (e.startsWith('@')) return `"${e}" is a whole domain; alerts go to people: write name${e}`;
  const slash = e.indexOf('/');
  if (slash >= 0) return `"${e}" has a resource; alerts go to the bare JID (every client of the account): write ${e.slice(0, slash)}`;
  return BARE_JID_RE.test(e) ? undefined : `"${e}" is not a JID: write name@domain, for example alice@example.org`;
});

/** How a rule is named in messages: its name, else its field. */
export function ruleLabel(r: { name?: string; field: string }, i: number): string {
  return r.name ? `rule "${r.name}"` : `rule ${i + 1} (${r.field})`;
}

const rule: Schema<AlertRule> = s.object<AlertRule>({
  field: s.string().match(KEY_RE, 'thing.field, like greenhouse.temperature'),
  above: s.number().optional(),
  below: s.number().optional(),
  forS: s.seconds().min(0).max(7 * 86_400).clamp().optional(),
  changes: s.boolean().optional(),
  fault: s.boolean().optional(),
  hysteresis: s.number().min(0).clamp().optional(),
  repeatS: s.seconds().min(0).max(7 * 86_400).clamp().optional(),
  to: s.array(recipient).nonEmpty().optional(),
  name: s.string().optional(),
}).refine((r: AlertRule, path: Path, ctx: CheckContext) => {
  const label = r.name ? `rule "${r.name}"` : `this rule (${r.field})`;
  const threshold = r.above !== undefined || r.below !== undefined;
  const kinds = [threshold && 'above/below', r.changes && 'changes', r.fault && 'fault'].filter(Boolean);
  if (kinds.length === 0) error(ctx, path, `${label} has no condition: give above, below, changes: true or fault: true`);
  if (kinds.length > 1) error(ctx, path, `${label} mixes ${kinds.join(' and ')}: write one rule for each`);
  if (r.above !== undefined && r.below !== undefined && r.below >= r.above) {
    error(ctx, [...path, 'below'], `${label}: below ${r.below} is not under above ${r.above}, so it would always fire; for a range, below is the low end`);
  }
  if (r.hysteresis !== undefined && !threshold) warn(ctx, [...path, 'hysteresis'], `has no effect on ${label}: hysteresis applies to above/below`);
  if (r.hysteresis !== undefined && r.above !== undefined && r.below !== undefined && r.above - r.hysteresis < r.below + r.hysteresis) {
    warn(ctx, [...path, 'hysteresis'], `${r.hysteresis} is more than half the range ${r.below}..${r.above}: ${label} resolves only when both bounds are cleared by it`);
  }
  if (r.repeatS !== undefined && r.repeatS > 0 && r.repeatS < MIN_REPEAT_S) {
    warn(ctx, [...path, 'repeat_s'], `${r.repeatS} is out of range (allowed 0 for never, or ${MIN_REPEAT_S}..604800); using ${MIN_REPEAT_S}`);
    r.repeatS = MIN_REPEAT_S;
  }
  if (r.repeatS !== undefined && r.changes) warn(ctx, [...path, 'repeat_s'], `has no effect on ${label}: a change is reported once`);
});

export const alertsSchema: Schema<AlertsConfig> = s.object<AlertsConfig>({
  rules: s.array(rule).default(() => []),
  // Alertmanager's group_wait default (shared/any-client.md 4).
  groupS: s.seconds().min(0).max(3600).clamp().default(30),
  // ejabberd keeps 100 offline messages per user by default: 20 an hour leaves room.
  maxPerHour: s.integer().min(1).max(1000).clamp().default(20),
});

interface DeclaredField { name: string; type: FieldType }

/**
 * Things the config declares (thing id -> fields, or undefined when the driver finds the
 * fields at start), and the drivers that find whole things at start (w1, iio).
 */
export function declaredThings(drivers: readonly DriverConfig[]): { things: Map<string, DeclaredField[] | undefined>; discovering: string[] } {
  const things = new Map<string, DeclaredField[] | undefined>();
  const discovering: string[] = [];
  for (const d of drivers) {
    switch (d.kind) {
      case 'simulated':
      case 'mqtt':
        for (const t of d.options.things) things.set(t.id, t.fields.map((f) => ({ name: f.name, type: f.type })));
        break;
      case 'serial':
        things.set(d.options.thing ?? d.id, d.options.protocol === 'nmea' ? undefined : (d.options.fields ?? []).map((f) => ({ name: f.name, type: f.type })));
        break;
      case 'linux':
        // Thermal zones, disks and interfaces are found at start.
        things.set(d.options.thing ?? d.id, undefined);
        break;
      default:
        discovering.push(`${d.id} (${d.kind})`);
    }
  }
  return { things, discovering };
}

/** Every rule's thing.field against what the drivers declare; `path` is the `alerts` section's. */
export function checkAlertFields(alerts: AlertsConfig, drivers: readonly DriverConfig[], path: Path, ctx: CheckContext): void {
  const { things, discovering } = declaredThings(drivers);
  const ids = [...things.keys()];
  alerts.rules.forEach((r, i) => {
    const at = [...path, 'rules', i, 'field'];
    const label = ruleLabel(r, i);
    const parts = splitKey(r.field, ids);
    if (!parts) return; // the field schema already said so
    if (!things.has(parts.thing)) {
      if (discovering.length) {
        warn(ctx, at, `${label}: no driver in this file declares thing "${parts.thing}"; ${discovering.join(', ')} find their things at start, so it is checked then`);
        return;
      }
      const close = suggest(parts.thing, ids);
      error(ctx, at, `${label}: no driver declares thing "${parts.thing}"${close ? ` (did you mean "${close}"?)` : ''}; things: ${ids.join(', ') || 'none'}`);
      return;
    }
    const fields = things.get(parts.thing);
    if (!fields) return; // found at start; the alerts module checks then
    const f = fields.find((x) => x.name === parts.field);
    if (!f) {
      const close = suggest(parts.field, fields.map((x) => x.name));
      error(ctx, at, `${label}: thing "${parts.thing}" has no field "${parts.field}"${close ? ` (did you mean "${close}"?)` : ''}; its fields: ${fields.map((x) => x.name).join(', ')}`);
      return;
    }
    const numeric = f.type === 'numeric' || f.type === 'int';
    if (ruleKind(r) === 'threshold' && !numeric) {
      error(ctx, at, `${label}: above/below need a number, and ${r.field} is ${f.type}; use changes: true to hear about its changes`);
    }
    if (ruleKind(r) === 'changes' && numeric) {
      warn(ctx, at, `${label}: ${r.field} is a number, so every new reading may be a change (an alert each time, up to max_per_hour); above/below is usually meant`);
    }
  });
}
