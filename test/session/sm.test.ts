// XEP-0198 counters and queue as pure state: wrap at 2^32, acks that free exactly what they
// count, protocol violations raised with the detail the session turns into a stream error.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { XiotaError } from '../../agent/errors';
import { forward, isStanza, NS_SM, StreamManagement, wrap } from '../../agent/session/stream-management';
import { x } from '../../agent/xml/element';

const msg = (n: number) => x('message', { to: 'w@xiota.test', id: `m${n}` });
const ids = (els: { attrs: Record<string, string | undefined> }[]) => els.map((e) => e.attrs.id);
const MOD = 2 ** 32;

function expectStreamError(fn: () => unknown): XiotaError {
  try {
    fn();
  } catch (e) {
    assert.instance(e, XiotaError);
    assert.is((e as XiotaError).code, 'XIOTA_E_STREAM');
    return e as XiotaError;
  }
  assert.unreachable('expected XIOTA_E_STREAM');
  throw new Error('unreachable');
}

test('wrap and forward are 32-bit modular (XEP-0198 4)', () => {
  assert.is(wrap(MOD), 0);
  assert.is(wrap(MOD + 5), 5);
  assert.is(wrap(-1), MOD - 1);
  assert.is(forward(MOD - 3, 2), 5);
  assert.is(forward(7, 7), 0);
});

test('outbound counter wraps at 2^32; h=1 after the wrap acknowledges 4 of 5', () => {
  const sm = new StreamManagement(MOD - 3);
  assert.is(sm.outbound, MOD - 3);
  for (let i = 1; i <= 5; i++) sm.sent(msg(i));
  assert.is(sm.pending, 5);
  assert.is(sm.outbound, 2); // MOD-3 + 5 wraps to 2
  const acked = sm.ack(String(MOD - 1));
  assert.equal(ids(acked), ['m1', 'm2']);
  const acked2 = sm.ack('1'); // MOD-1 -> 0 -> 1: two more, across the wrap
  assert.equal(ids(acked2), ['m3', 'm4']);
  assert.is(sm.pending, 1);
  assert.equal(ids(sm.takeUnacked()), ['m5']);
  assert.is(sm.pending, 0);
});

test('inbound h wraps at 2^32 and is what <a/> and <resume/> report', () => {
  const sm = new StreamManagement();
  sm.inbound = MOD - 1;
  sm.received();
  assert.is(sm.inbound, 0);
  sm.received();
  const a = sm.ackElement();
  assert.is(a.name, 'a');
  assert.is(a.xmlns, NS_SM);
  assert.is(a.attrs.h, '1');
  sm.id = 'abc';
  const r = sm.resumeElement();
  assert.is(r.attrs.previd, 'abc');
  assert.is(r.attrs.h, '1');
});

test('an ack repeating the same h frees nothing; an ack of 0 on a fresh stream is fine', () => {
  const sm = new StreamManagement();
  assert.equal(sm.ack('0'), []);
  sm.sent(msg(1));
  sm.sent(msg(2));
  assert.equal(ids(sm.ack('1')), ['m1']);
  assert.equal(sm.ack('1'), []);
  assert.is(sm.pending, 1);
});

test('h beyond what was sent raises handled-count-too-high with h and send-count', () => {
  const sm = new StreamManagement();
  sm.sent(msg(1));
  sm.sent(msg(2));
  const err = expectStreamError(() => sm.ack('3'));
  assert.is(err.detail.smError, 'handled-count-too-high');
  assert.is(err.detail.condition, 'undefined-condition');
  assert.is(err.detail.h, 3);
  assert.is(err.detail.sendCount, 2);
  assert.match(err.message, /acknowledged 3 stanzas but only 2/);
  // The queue is untouched by a rejected ack.
  assert.is(sm.pending, 2);
  // Across the wrap, too: from MOD-1 with one sent, h=1 is two ahead.
  const w = new StreamManagement(MOD - 1);
  w.sent(msg(1));
  assert.is(expectStreamError(() => w.ack('1')).detail.smError, 'handled-count-too-high');
  assert.equal(ids(w.ack('0')), ['m1']);
});

test('invalid h values are stream errors, not crashes', () => {
  const sm = new StreamManagement();
  sm.sent(msg(1));
  for (const h of [undefined, '', '-1', '1.5', 'abc', ' 1', '0x1', String(MOD), '99999999999999999999']) {
    const err = expectStreamError(() => sm.ack(h));
    assert.match(err.message, /invalid h/, `h=${h}`);
    assert.is(err.detail.smError, undefined);
  }
  assert.is(sm.pending, 1);
});

test('takeUnacked returns the oldest first and empties the queue; new sends follow on', () => {
  const sm = new StreamManagement();
  for (let i = 1; i <= 4; i++) sm.sent(msg(i));
  sm.ack('1');
  assert.equal(ids(sm.takeUnacked()), ['m2', 'm3', 'm4']);
  assert.is(sm.pending, 0);
  // XEP-0198 5: after <resumed/> the resends are counted again from the acked h.
  sm.sent(msg(2));
  sm.sent(msg(3));
  assert.is(sm.outbound, 3);
  assert.equal(ids(sm.ack('3')), ['m2', 'm3']);
});

test('sinceRequest counts a burst and requestElement resets it', () => {
  const sm = new StreamManagement();
  for (let i = 0; i < 5; i++) sm.sent(msg(i));
  assert.is(sm.sinceRequest, 5);
  const r = sm.requestElement();
  assert.is(r.name, 'r');
  assert.is(r.xmlns, NS_SM);
  assert.is(sm.sinceRequest, 0);
});

test('onEnabled reads resume/id/max/location and restarts counting', () => {
  const sm = new StreamManagement();
  sm.inbound = 9;
  sm.onEnabled(x('enabled', { xmlns: NS_SM, resume: 'true', id: 'sid1', max: '300', location: '127.0.0.1:5222' }));
  assert.ok(sm.enabled);
  assert.is(sm.id, 'sid1');
  assert.is(sm.max, 300);
  assert.is(sm.location, '127.0.0.1:5222');
  assert.is(sm.inbound, 0);
  assert.is(sm.outbound, 0);
  const noResume = new StreamManagement();
  noResume.onEnabled(x('enabled', { xmlns: NS_SM, id: 'sid2', max: 'x' }));
  assert.is(noResume.id, undefined, 'no resume attribute: nothing to resume');
  assert.is(noResume.max, undefined);
});

test('resetForNewSession hands back the unacked in order and forgets the session', () => {
  const sm = new StreamManagement();
  sm.onEnabled(x('enabled', { xmlns: NS_SM, resume: '1', id: 'sid' }));
  for (let i = 1; i <= 3; i++) sm.sent(msg(i));
  sm.received();
  sm.ack('1');
  const left = sm.resetForNewSession();
  assert.equal(ids(left), ['m2', 'm3']);
  assert.not.ok(sm.enabled);
  assert.is(sm.id, undefined);
  assert.is(sm.pending, 0);
  assert.is(sm.inbound, 0);
  assert.is(sm.outbound, 0);
  assert.is(sm.sinceRequest, 0);
});

test('a given-up session keeps its orphans until taken, even across a second reset', () => {
  const sm = new StreamManagement();
  sm.sent(msg(1));
  sm.sent(msg(2));
  assert.equal(ids(sm.resetForNewSession()), ['m1', 'm2']);
  // The new session never came up; a later attempt gives the same session up again.
  assert.equal(ids(sm.resetForNewSession()), ['m1', 'm2']);
  assert.equal(ids(sm.takeOrphaned()), ['m1', 'm2']);
  assert.equal(sm.takeOrphaned(), []);
  assert.equal(sm.resetForNewSession(), []);
});

test('only message, presence and iq are counted as stanzas', () => {
  assert.ok(isStanza(x('message', {})));
  assert.ok(isStanza(x('presence', {})));
  assert.ok(isStanza(x('iq', {})));
  assert.not.ok(isStanza(x('r', { xmlns: NS_SM })));
  assert.not.ok(isStanza(x('a', { xmlns: NS_SM })));
});

test.run();
