// Our presence (RFC 6121 4) with entity capabilities (XEP-0115 4): sent when a new session
// starts; a resumed session keeps the presence it had (XEP-0198 5), so nothing is resent.
// With `show_readings` the status text carries the latest readings (presence-status.ts),
// updated at most every `min_interval_s` and only when it changes; while a sensor fails,
// <show>away</show> and the text names the fault. Every change wakes the followers' clients
// (and prints a line in Profanity), hence the interval: presence is a secondary display.
import type { EventEmitter } from 'node:events';
import type { Reading, ThingSpec } from '../../drivers/types';
import type { ModuleContext } from '../module';
import { listen, type AgentEvents } from '../modules';
import { x, type Element } from '../xml/element';
import type { Disco } from './disco';
import { FaultSet, faultsOf } from '../faults';
import { presenceState, readingsText, type PresenceState } from './presence-status';

export interface PresenceOptions {
  status?: string;
  priority?: number;
  showReadings?: boolean;
  /** `{thing.field}` references; absent: every field, trimmed (presence-status.ts). */
  statusTemplate?: string;
  /** At most one presence update per this many seconds (default 60). */
  minIntervalS?: number;
}

/** Where the readings come from (the agent; tests give their own). */
export interface PresenceSources {
  latest(): Reading[];
  things(): ThingSpec[];
  events: EventEmitter<AgentEvents>;
}

export function presenceStanza(disco: Disco, o: PresenceOptions, state?: PresenceState): Element {
  const status = state?.status ?? o.status;
  return x('presence', null,
    state?.show ? x('show', null, state.show) : null,
    status ? x('status', null, status) : null,
    x('priority', null, String(o.priority ?? 0)),
    disco.capsElement());
}

export function install(m: ModuleContext, deps: { disco: Disco; presence: PresenceOptions; sources?: PresenceSources; now?: () => number }): void {
  const o = deps.presence;
  const src = deps.sources;
  const now = deps.now ?? Date.now;
  const minMs = Math.max(0, (o.minIntervalS ?? 60) * 1000);
  // The agent's one fault record; made before the listeners below, so it is current when they run.
  const faults = src ? faultsOf(m, src.events) : new FaultSet();
  let online = false;
  let sent: PresenceState | undefined;
  let sentAt = -Infinity;
  let timer: (() => void) | undefined;

  const current = (): PresenceState => presenceState({
    staticStatus: o.status ?? '',
    readings: src && o.showReadings !== false ? readingsText(src.latest(), src.things(), o.statusTemplate) : '',
    faults: faults.text(),
    showReadings: o.showReadings !== false,
  });
  const same = (a?: PresenceState, b?: PresenceState) => !!a && !!b && a.show === b.show && a.status === b.status;

  const sendNow = (state: PresenceState) => {
    m.send(presenceStanza(deps.disco, o, state));
    sent = state;
    sentAt = now();
  };

  /**
   * Sends the current presence if it changed, once the interval allows; otherwise a timer
   * looks again when it does. The text is computed at most once a second (readings may come
   * a hundred a second), or on every reading with min_interval_s: 0.
   */
  const checkMs = Math.min(1000, minMs);
  let checkedAt = -Infinity;
  const update = () => {
    // Offline: the client would queue it behind the next session's initial presence (a
    // duplicate); the session handler sends what is current instead.
    if (!online || timer) return;
    const t = now();
    const wait = Math.max(sentAt + minMs - t, checkedAt + checkMs - t);
    if (wait > 0) {
      timer = m.after(wait, () => {
        timer = undefined;
        update();
      });
      return;
    }
    checkedAt = t;
    const state = current();
    if (!same(state, sent)) sendNow(state);
  };

  m.onSession((info) => {
    online = true;
    // RFC 6121 4.2: initial presence on a new session; after a resumption the server still
    // has ours, so only a change made while we were away is sent (within the interval).
    if (!info.resumed) {
      timer?.();
      timer = undefined;
      sendNow(current());
    } else {
      update();
    }
  });
  m.onOffline(() => {
    online = false;
    timer?.();
    timer = undefined;
  });

  if (src) {
    listen(m, src.events, 'reading', () => update());
    listen(m, src.events, 'fault', () => update());
  }
}
