// Alerts as chat messages: the rules (agent/alerts/rules.ts) run over every reading and driver
// fault; what they produce is grouped and capped per person (agent/alerts/dispatch.ts) and
// sent as `chat` messages with a plain-text body to the owners, or to a rule's `to`.
//
// - type `chat`, to the bare JID: the server delivers it to the person's clients, or keeps it
//   in offline storage while none is online (XEP-0160 3; RFC 6121 8.5.2.2.1). A `headline`
//   would be dropped (shared/any-client.md 4).
// - XEP-0184 5.1 receipt request on each; receipts that come back are counted.
// - XEP-0334 4.4 <store/> hint: archives and offline stores keep it.
// - Each recipient is named in the rule's `to` or allowed 'alerts' by deps.access.decide
//   (owners by default), and has not said `alerts off` (agent/alerts/switch.ts).
import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { DriverFault } from '../../drivers/host';
import type { FieldSpec, Reading, ThingSpec } from '../../drivers/types';
import { bareOf } from '../access';
import type { Access } from '../access-store';
import { AlertDispatcher, type OutMessage } from '../alerts/dispatch';
import { alertText, suppressedText } from '../alerts/format';
import { AlertRules, splitKey, type AlertEvent, type AlertRule } from '../alerts/rules';
import type { AlertsConfig } from '../alerts/schema';
import { ruleLabel } from '../alerts/schema';
import { alertSwitchFor, MemoryAlertSwitch, type AlertSwitch } from '../alerts/switch';
import type { ModuleContext } from '../module';
import { listen, type AgentEvents } from '../modules';
import { x } from '../xml/element';
import { NS_RECEIPTS } from './chat';

export const NS_HINTS = 'urn:xmpp:hints';

/** Receipt requests remembered for counting their receipts (the oldest are forgotten). */
const MAX_AWAITED_RECEIPTS = 256;

export interface AlertsDeps {
  config: AlertsConfig;
  events: EventEmitter<AgentEvents>;
  access: Pick<Access, 'decide' | 'ownerJids'>;
  /** Who said alerts on/off; default: the agent's one switch in `stateDir` (shared with chat and commands). */
  alertSwitch?: AlertSwitch;
  stateDir?: string;
  things(): ThingSpec[];
  now(): number;
}

export interface AlertStats {
  /** Alerts the rules produced (firing, repeat, resolved, changed). */
  alerts: number;
  /** Messages sent. */
  messages: number;
  /** Receipts that came back (XEP-0184 4). */
  receipts: number;
  /** Alerts held back by the hourly cap and reported in a note. */
  suppressed: number;
}

/** What the module offers other modules and tests. */
export interface AlertService {
  readonly stats: AlertStats;
  /** Rules firing now, as `rule "name"` or `rule N (thing.field)`. */
  firing(): string[];
  alertsOn(jid: string): boolean;
  setAlerts(jid: string, on: boolean): Promise<void>;
}

export function alertMessage(to: string, body: string, id: string) {
  return x('message', { type: 'chat', to, id },
    x('body', null, body),
    x('request', { xmlns: NS_RECEIPTS }),
    x('store', { xmlns: NS_HINTS }));
}

export function install(m: ModuleContext, deps: AlertsDeps): AlertService {
  const cfg = deps.config;
  const alertSwitch = deps.alertSwitch ?? (deps.stateDir !== undefined ? alertSwitchFor(deps.stateDir, (msg) => m.log.warn(msg)) : new MemoryAlertSwitch());
  const rules = new AlertRules(cfg.rules);
  const dispatcher = new AlertDispatcher({ groupMs: cfg.groupS * 1000, maxPerHour: cfg.maxPerHour });
  const stats: AlertStats = { alerts: 0, messages: 0, receipts: 0, suppressed: 0 };
  const awaited = new Map<string, string>();
  const idPrefix = `alert-${randomBytes(4).toString('hex')}-`;
  let nextId = 1;
  let timer: NodeJS.Timeout | undefined;
  let timerAt: number | undefined;
  /** Rules whose thing the drivers declared, checked once. */
  const checked = new Set<number>();

  const spec = (thing: string, field: string): FieldSpec | undefined =>
    deps.things().find((t) => t.id === thing)?.fields.find((f) => f.name === field);

  const isDefault = (jid: string, rule: AlertRule): boolean => {
    const bare = bareOf(jid);
    return rule.to ? rule.to.some((t) => bareOf(t) === bare) : deps.access.ownerJids().includes(bare);
  };

  /** Who gets this rule's alerts now. */
  const recipients = (rule: AlertRule): string[] => {
    const out = new Set<string>();
    const named = (rule.to ?? []).map(bareOf);
    // Without `to`: the owners, and anyone allowed alerts who asked for them (`alerts on`,
    // e.g. an owner through an @domain entry, which names no one).
    const candidates = rule.to ? named : [...deps.access.ownerJids(), ...alertSwitch.optedIn()];
    for (const jid of candidates) {
      const bare = bareOf(jid);
      if (out.has(bare)) continue;
      if (!named.includes(bare) && !deps.access.decide(bare, 'alerts').allowed) continue;
      if (!alertSwitch.alertsOn(bare, isDefault(bare, rule))) continue;
      out.add(bare);
    }
    return [...out];
  };

  const firing = (): string[] => rules.firing().map((f) => ruleLabel(cfg.rules[f.rule]!, f.rule));

  const send = (msg: OutMessage): void => {
    const id = idPrefix + (nextId++).toString(36);
    awaited.set(id, msg.to);
    if (awaited.size > MAX_AWAITED_RECEIPTS) awaited.delete(awaited.keys().next().value as string);
    m.send(alertMessage(msg.to, msg.body, id));
    stats.messages++;
    stats.suppressed += msg.suppressed;
    m.log.info('alert message sent', { to: msg.to, alerts: msg.alerts, ...(msg.suppressed ? { suppressed: msg.suppressed } : {}) });
  };

  const flush = (): void => {
    for (const msg of dispatcher.due(deps.now(), (n) => suppressedText(n, cfg.maxPerHour, firing()))) send(msg);
    schedule();
  };

  /** One timer, at the earliest deadline of the rules (for_s, repeat_s) or the dispatcher (group_s, cap). */
  const schedule = (): void => {
    const r = rules.nextDeadline();
    const d = dispatcher.nextDeadline();
    const next = r === undefined ? d : d === undefined ? r : Math.min(r, d);
    if (next === timerAt) return;
    if (timer) clearTimeout(timer);
    timer = undefined;
    timerAt = next;
    if (next === undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      timerAt = undefined;
      handle(rules.tick(deps.now()), true);
    }, Math.max(0, next - deps.now()));
    timer.unref?.();
  };

  const handle = (events: AlertEvent[], deadline = false): void => {
    // Nothing new: whatever waits has its timer.
    if (events.length === 0 && !deadline) return;
    const now = deps.now();
    for (const e of events) {
      const rule = cfg.rules[e.rule]!;
      const text = alertText(e, rule, spec(e.thing, e.field));
      const to = recipients(rule);
      stats.alerts++;
      m.log.info(`alert ${e.kind}`, { rule: ruleLabel(rule, e.rule), key: e.key, recipients: to.length });
      if (to.length === 0) m.log.warn('alert has no recipient: configure access.owners or the rule\'s to', { rule: ruleLabel(rule, e.rule) });
      for (const jid of to) dispatcher.add(jid, text, now);
    }
    flush();
  };

  /** Once the drivers declared a rule's thing, a field it lacks is named in the log (the config could not know it). */
  const checkFields = (thing: string): void => {
    if (checked.size === cfg.rules.length) return;
    const things = deps.things();
    const t = things.find((s) => s.id === thing);
    if (!t) return;
    cfg.rules.forEach((rule, i) => {
      if (checked.has(i)) return;
      const parts = splitKey(rule.field, things.map((s) => s.id));
      if (!parts || parts.thing !== thing) return;
      checked.add(i);
      if (t.fields.some((f) => f.name === parts.field)) return;
      m.log.warn(`${ruleLabel(rule, i)}: thing "${thing}" has no field "${parts.field}"; it never fires. Fields: ${t.fields.map((f) => f.name).join(', ')}`);
    });
  };

  listen(m, deps.events, 'reading', (r: Reading, driverId: string) => {
    checkFields(r.thing);
    handle(rules.reading(r, deps.now(), driverId));
  });
  listen(m, deps.events, 'fault', (f: DriverFault) => handle(rules.fault(f, deps.now())));

  // XEP-0184 4: a receipt names the id of the message it acknowledges.
  m.hook(`message/${NS_RECEIPTS}`, (msg) => {
    const id = msg.getChild('received', NS_RECEIPTS)?.attrs.id;
    if (id === undefined || !awaited.has(id)) return undefined;
    awaited.delete(id);
    stats.receipts++;
    m.log.debug('alert received', { from: bareOf(msg.attrs.from ?? ''), id });
    return true;
  });

  m.onUnload(() => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  });

  return {
    stats,
    firing,
    alertsOn: (jid) => alertSwitch.alertsOn(jid, cfg.rules.some((r) => isDefault(jid, r))),
    setAlerts: (jid, on) => alertSwitch.setAlerts(jid, on),
  };
}
