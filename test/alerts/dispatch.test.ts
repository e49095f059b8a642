// Grouping (one message per JID per window) and the hourly cap with its one "suppressed" note,
// on an injected clock; and the alert text people read on their phones.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AlertDispatcher, type OutMessage } from '../../agent/alerts/dispatch';
import { alertText, suppressedText } from '../../agent/alerts/format';
import type { AlertEvent, AlertRule } from '../../agent/alerts/rules';

const t = suite('alert dispatch');
const note = (n: number) => `suppressed ${n}`;

t('alerts to one JID within the window go in one message; other JIDs get their own', () => {
  const d = new AlertDispatcher({ groupMs: 30_000, maxPerHour: 20 });
  d.add('alice@x', 'a1', 0);
  d.add('bob@x', 'b1', 5_000);
  d.add('alice@x', 'a2', 10_000);
  assert.equal(d.due(29_999, note), []);
  assert.is(d.nextDeadline(), 30_000);
  const at30 = d.due(30_000, note);
  assert.equal(at30, [{ to: 'alice@x', body: 'a1\na2', alerts: 2, suppressed: 0 }]);
  assert.equal(d.due(35_000, note).map((m) => [m.to, m.body]), [['bob@x', 'b1']]);
  // A new alert after the window opens a new one.
  d.add('alice@x', 'a3', 40_000);
  assert.equal(d.due(69_999, note), []);
  assert.equal(d.due(70_000, note).map((m) => m.body), ['a3']);
});

t('group_s 0 sends each alert at once', () => {
  const d = new AlertDispatcher({ groupMs: 0, maxPerHour: 20 });
  d.add('alice@x', 'a1', 7);
  assert.equal(d.due(7, note).map((m) => m.body), ['a1']);
});

t('a flood: at most max_per_hour messages an hour, then one note with the count once there is room', () => {
  const d = new AlertDispatcher({ groupMs: 0, maxPerHour: 20 });
  const sent: OutMessage[] = [];
  // One alert a minute for two hours (a flapping sensor without hysteresis).
  for (let m = 0; m < 120; m++) {
    const now = m * 60_000;
    d.add('alice@x', `alert ${m}`, now);
    sent.push(...d.due(now, note));
    const next = d.nextDeadline();
    if (next !== undefined && next < now + 60_000) sent.push(...d.due(next, note));
  }
  const inFirstHour = sent.filter((_, i) => i < 20);
  assert.equal(inFirstHour.map((m) => m.body), Array.from({ length: 20 }, (_, i) => `alert ${i}`));
  // Minutes 20..59 were held back; at minute 60 the oldest message leaves the hour: one note, together with that minute's alert.
  const at60 = sent[20]!;
  assert.is(at60.body, 'suppressed 40\nalert 60');
  assert.is(at60.suppressed, 40);
  // From minute 61 the window frees one slot a minute (minutes 1..19 age out): minutes 61..79
  // go, 80..119 are held back for the next note. 40 messages in two hours, one of them a note.
  assert.is(sent.length, 40);
  assert.equal(sent.filter((m) => m.suppressed > 0).map((m) => m.suppressed), [40]);
  assert.is(sent[39]!.body, 'alert 79');
  assert.equal(d.waiting('alice@x'), { queued: 0, suppressed: 40, sentLastHour: 20 });
});

t('the cap counts per JID over a sliding hour (checked message by message)', () => {
  const d = new AlertDispatcher({ groupMs: 0, maxPerHour: 3 });
  const log: { at: number; m: OutMessage }[] = [];
  for (let s = 0; s < 7200; s += 30) {
    const now = s * 1000;
    d.add('alice@x', `a${s}`, now);
    d.add('bob@x', `b${s}`, now);
    for (const m of d.due(now, note)) log.push({ at: now, m });
  }
  for (const jid of ['alice@x', 'bob@x']) {
    const mine = log.filter((l) => l.m.to === jid);
    for (const l of mine) {
      const inHour = mine.filter((o) => o.at > l.at - 3_600_000 && o.at <= l.at).length;
      assert.ok(inHour <= 3, `${jid}: ${inHour} messages in the hour before ${l.at}`);
    }
    // 3 in the first hour, then the note at 3600 s with that alert, then 2 more, and so on.
    assert.is(mine[3]!.at, 3_600_000);
    assert.match(mine[3]!.m.body, /^suppressed 117\n/);
  }
});

t('a note goes alone when the room comes back with nothing new queued', () => {
  const d = new AlertDispatcher({ groupMs: 0, maxPerHour: 1 });
  d.add('alice@x', 'a', 0);
  assert.equal(d.due(0, note).map((m) => m.body), ['a']);
  d.add('alice@x', 'b', 1000);
  d.add('alice@x', 'c', 2000);
  assert.equal(d.due(2000, note), []);
  assert.equal(d.waiting('alice@x'), { queued: 0, suppressed: 2, sentLastHour: 1 });
  assert.is(d.nextDeadline(), 3_600_000);
  assert.equal(d.due(3_600_000, note), [{ to: 'alice@x', body: 'suppressed 2', alerts: 0, suppressed: 2 }]);
  assert.is(d.nextDeadline(), undefined);
});

const rule: AlertRule = { field: 'greenhouse.temperature', above: 30, forS: 60 };
const spec = { name: 'temperature', type: 'numeric' as const, unit: '°C', precision: 1 };
const ev = (e: Partial<AlertEvent>): AlertEvent => ({ rule: 0, kind: 'firing', key: 'greenhouse.temperature', thing: 'greenhouse', field: 'temperature', since: 0, at: 60_000, ...e });

t('alert text: firing, repeat, resolved, changes, fault, names, the note', () => {
  assert.is(alertText(ev({ value: 31.2 }), rule, spec), '⚠ greenhouse.temperature is 31.2 °C (above 30 for 1 min)');
  assert.is(alertText(ev({ value: 31.2 }), { ...rule, forS: 45 }, spec), '⚠ greenhouse.temperature is 31.2 °C (above 30 for 45 s)');
  assert.is(alertText(ev({ value: 31.25 }), { field: rule.field, above: 30 }, spec), '⚠ greenhouse.temperature is 31.3 °C (above 30)');
  assert.is(alertText(ev({ kind: 'repeat', value: 32, at: 4 * 3600_000 }), rule, spec), '⚠ still: greenhouse.temperature is 32.0 °C (above 30 for 4 h)');
  assert.is(alertText(ev({ kind: 'resolved', value: 28.9, at: 12 * 60_000 }), rule, spec), '✓ resolved: greenhouse.temperature back to 28.9 °C (was above 30 for 12 min)');
  assert.is(alertText(ev({ value: 4 }), { field: rule.field, below: 5, above: 30, name: 'Greenhouse' }, spec), '⚠ Greenhouse: greenhouse.temperature is 4.0 °C (outside 5..30)');
  const door = { name: 'open', type: 'boolean' as const };
  assert.is(alertText(ev({ kind: 'changed', key: 'door.open', value: true, previous: false }), { field: 'door.open', changes: true }, door), '⚠ door.open changed to on (was off)');
  const f = { field: rule.field, fault: true };
  assert.is(alertText(ev({ fault: 'driver sim did not return\nfrom sample()' }), f, spec), '⚠ greenhouse.temperature: sensor fault: driver sim did not return from sample()');
  assert.is(alertText(ev({ kind: 'resolved', value: 21.5, at: 180_000 }), f, spec), '✓ resolved: greenhouse.temperature reads again: 21.5 °C (failed for 3 min)');
  assert.ok(alertText(ev({ fault: 'x'.repeat(1000) }), f, spec).length < 260, 'a long driver message is cut');
  assert.is(suppressedText(12, 20, ['greenhouse.temperature']), '… 12 more alerts suppressed (at most 20 messages an hour). Firing now: greenhouse.temperature');
  assert.is(suppressedText(1, 20, []), '… 1 more alert suppressed (at most 20 messages an hour). Nothing is firing now.');
});

t.run();
