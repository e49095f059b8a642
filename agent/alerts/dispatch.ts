// Who gets which alert lines when: grouping and the hourly cap, per recipient. Pure, with the
// time passed in. Alertmanager's group_wait (30 s) is the model for grouping: the first alert
// to a JID opens a window, and everything for that JID within it goes in one message. The cap
// counts messages, because that is what fills an offline store (ejabberd keeps 100 by
// default, shared/any-client.md 3): past `maxPerHour` in the last hour, alerts are counted
// instead of sent, and once the window has room again one note says how many were held back.

export interface DispatchOptions {
  /** Grouping window in ms (0: every alert goes at once). */
  groupMs: number;
  /** Messages per JID in any sliding hour. */
  maxPerHour: number;
}

export interface OutMessage {
  to: string;
  body: string;
  /** Alert lines in the body (0 for a note alone). */
  alerts: number;
  /** Alerts this message reports as suppressed. */
  suppressed: number;
}

interface Recipient {
  lines: string[];
  openedAt: number;
  /** Send times of the messages in the last hour, oldest first. */
  sent: number[];
  suppressed: number;
}

const HOUR_MS = 3_600_000;

export class AlertDispatcher {
  private readonly byJid = new Map<string, Recipient>();

  constructor(private readonly o: DispatchOptions) {}

  /** Queues one alert line for `jid` (a bare JID). */
  add(jid: string, line: string, now: number): void {
    let r = this.byJid.get(jid);
    if (!r) { r = { lines: [], openedAt: now, sent: [], suppressed: 0 }; this.byJid.set(jid, r); }
    if (r.lines.length === 0) r.openedAt = now;
    r.lines.push(line);
  }

  /**
   * The messages due at `now`: groups whose window closed (or their count, past the cap) and
   * the one "N more suppressed" note once there is room. `note(n)` writes that note.
   */
  due(now: number, note: (suppressed: number) => string): OutMessage[] {
    const out: OutMessage[] = [];
    for (const [jid, r] of this.byJid) {
      while (r.sent.length && r.sent[0]! <= now - HOUR_MS) r.sent.shift();
      const groupDue = r.lines.length > 0 && now >= r.openedAt + this.o.groupMs;
      if (groupDue && r.sent.length >= this.o.maxPerHour) {
        r.suppressed += r.lines.length;
        r.lines = [];
      }
      const room = r.sent.length < this.o.maxPerHour;
      if (room && (groupDue || r.suppressed > 0)) {
        const lines = groupDue ? r.lines : [];
        const body = [...(r.suppressed > 0 ? [note(r.suppressed)] : []), ...lines].join('\n');
        out.push({ to: jid, body, alerts: lines.length, suppressed: r.suppressed });
        r.sent.push(now);
        r.suppressed = 0;
        r.lines = [];
      }
      if (r.lines.length === 0 && r.suppressed === 0 && r.sent.length === 0) this.byJid.delete(jid);
    }
    return out;
  }

  /** The earliest time due() has something to send; undefined when nothing waits. */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    const at = (t: number) => { if (next === undefined || t < next) next = t; };
    for (const r of this.byJid.values()) {
      if (r.lines.length) at(r.openedAt + this.o.groupMs);
      // Past the cap, the note's chance comes when the oldest message leaves the hour.
      if (r.suppressed > 0) at(r.sent.length >= this.o.maxPerHour ? r.sent[0]! + HOUR_MS : 0);
    }
    return next;
  }

  /** Alerts waiting in a group or counted as suppressed, per JID (for tests and status). */
  waiting(jid: string): { queued: number; suppressed: number; sentLastHour: number } {
    const r = this.byJid.get(jid);
    return { queued: r?.lines.length ?? 0, suppressed: r?.suppressed ?? 0, sentLastHour: r?.sent.length ?? 0 };
  }
}
