// HostSession on injected timers against a scripted board written with the same encoders
// (no port, no sleeping): describe only for a new schema hash, re-key at the counter limit,
// set timeouts, a silent board, a board that lost its session, replayed, forged and plaintext
// frames dropped one by one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cobsDecode, FrameSplitter, wireFrame } from '../../firmware-bridge/host/cobs';
import { deriveKeys, DIR_BOARD_TO_HOST, DIR_HOST_TO_BOARD, type SessionKeys } from '../../firmware-bridge/host/crypto';
import { openFrame, parseFrame, sealFrame } from '../../firmware-bridge/host/frame';
import { decodeBody, encodeBody, FrameType, schemaHash, type Entity, type Message } from '../../firmware-bridge/host/messages';
import { HostSession, type BoardInfo, type DropReason, type Timers } from '../../firmware-bridge/host/session';
import { VECTOR_BOARD } from '../../firmware-bridge/host/vectors';

class FakeTimers implements Timers {
  now = 1_000_000;
  private q: { at: number; fn: () => void; id: number }[] = [];
  private seq = 0;
  setTimeout(fn: () => void, ms: number): unknown { const id = ++this.seq; this.q.push({ at: this.now + ms, fn, id }); return id; }
  clearTimeout(h: unknown): void { this.q = this.q.filter((t) => t.id !== h); }
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      this.q.sort((x, y) => x.at - y.at);
      const t = this.q[0];
      if (!t || t.at > end) break;
      this.q.shift();
      this.now = t.at;
      t.fn();
    }
    this.now = end;
  }
}

/** A board speaking the protocol with the TypeScript encoders; `mute` types it ignores. */
class ScriptedBoard {
  keys?: SessionKeys;
  ctr = 0;
  rx = 0;
  seen: string[] = [];
  mute = new Set<string>();
  sent: Uint8Array[] = [];
  constructor(private readonly toHost: (b: Uint8Array) => void, readonly entities: Entity[] = VECTOR_BOARD.entities) {}
  private splitter = new FrameSplitter((enc) => this.onFrame(cobsDecode(enc)!), () => undefined);
  feed(b: Uint8Array): void { this.splitter.push(b); }
  send(m: Message, plain = false): void {
    const w = wireFrame(sealFrame(FrameType[m.type], plain ? 0 : ++this.ctr, encodeBody(m), DIR_BOARD_TO_HOST, plain ? undefined : this.keys!.boardToHost));
    this.sent.push(w);
    this.toHost(w);
  }
  private onFrame(raw: Uint8Array): void {
    const f = parseFrame(raw);
    if (typeof f === 'string') return;
    if (f.type === FrameType.HELLO_REQ) {
      const m = decodeBody(f.type, f.payload);
      if (m.type !== 'HELLO_REQ') return;
      const nonce = new Uint8Array(16).fill(this.seen.length & 0xff);
      this.keys = deriveKeys(VECTOR_BOARD.psk, m.body.hostNonce, nonce, 'greenhouse-1');
      this.ctr = 0; this.rx = 0;
      this.seen.push('HELLO_REQ');
      if (this.mute.has('HELLO_REQ')) return;
      this.send({ type: 'HELLO', body: { boardId: 'greenhouse-1', boardNonce: nonce, version: 1, auth: true } }, true);
      this.send({ type: 'INFO', body: { fwName: 'scripted', fwVersion: '1', schemaHash: schemaHash(this.entities), capabilities: 0, entityCount: this.entities.length } });
      return;
    }
    if (!this.keys || f.ctr <= this.rx) return;
    const body = openFrame(f, DIR_HOST_TO_BOARD, this.keys.hostToBoard);
    if (!body) return;
    this.rx = f.ctr;
    const m = decodeBody(f.type, body);
    this.seen.push(m.type);
    if (this.mute.has(m.type)) return;
    if (m.type === 'DESCRIBE_REQ') this.entities.forEach((entity, index) => this.send({ type: 'DESCRIBE', body: { entity, index, count: this.entities.length } }));
    if (m.type === 'STATE_REQ') this.send({ type: 'READINGS', body: { values: [{ key: 1, value: 215, ageMs: 40, error: 0 }], full: true } });
    if (m.type === 'SET') this.send({ type: 'ACK', body: { requestId: m.body.requestId, status: 0, value: m.body.value } });
    if (m.type === 'PING') this.send({ type: 'PONG', body: { seq: m.body.seq, uptimeMs: 1 } });
  }
}

function rig(opts: { rekeyAt?: number; cache?: Map<number, Entity[]> } = {}) {
  const timers = new FakeTimers();
  const ev = { up: [] as BoardInfo[], readings: [] as { key: number; at: number }[], down: [] as string[], drops: [] as DropReason[], logs: [] as string[] };
  // eslint-disable-next-line prefer-const
  let session: HostSession;
  const board = new ScriptedBoard((b) => session.feed(b));
  session = new HostSession({
    boardId: 'greenhouse-1', plaintext: false, keyFor: () => VECTOR_BOARD.psk, send: (b) => board.feed(b),
    knownSchema: (_id, hash) => opts.cache?.get(hash), timers, now: () => timers.now,
    pingEveryMs: 1000, deadAfterMs: 3000, setTimeoutMs: 500, rekeyAt: opts.rekeyAt,
  }, {
    up: (i) => { ev.up.push(i); opts.cache?.set(i.schemaHash, i.entities); },
    readings: (vs, at) => vs.forEach((v) => ev.readings.push({ key: v.key, at: at - v.ageMs })),
    down: (r) => ev.down.push(r),
    log: (_l, t) => ev.logs.push(t),
    dropped: (r) => ev.drops.push(r),
  });
  return { timers, ev, session, board };
}

test('handshake: describe only for a schema hash not seen before; the state dump dated by age_ms', () => {
  const cache = new Map<number, Entity[]>();
  const r = rig({ cache });
  r.session.start();
  assert.is(r.session.state, 'up');
  assert.equal(r.board.seen, ['HELLO_REQ', 'DESCRIBE_REQ', 'TIME', 'STATE_REQ']);
  assert.equal(r.ev.up[0].entities, VECTOR_BOARD.entities);
  assert.ok(r.ev.up[0].described);
  assert.equal(r.ev.readings, [{ key: 1, at: r.timers.now - 40 }]);
  const again = rig({ cache });
  again.session.start();
  assert.equal(again.board.seen, ['HELLO_REQ', 'TIME', 'STATE_REQ'], 'cached schema: no DESCRIBE_REQ');
  assert.is(again.ev.up[0].described, false);
});

test('re-key before the counter limit, between sets; readings and sets go on under the new keys', async () => {
  const r = rig({ rekeyAt: 64 });
  r.session.start();
  const ack = r.session.set(10, 1);
  assert.equal(await ack, { requestId: 1, status: 0, value: 1 });
  r.timers.advance(70_000); // pings push the counters to the limit
  assert.ok(r.ev.logs.some((l) => /re-keying the session/.test(l)), r.ev.logs.join('\n'));
  assert.ok(r.board.seen.filter((s) => s === 'HELLO_REQ').length >= 2, r.board.seen.join(' '));
  assert.is(r.session.state, 'up');
  assert.ok(r.session.counters.tx < 64, `counters restarted: ${JSON.stringify(r.session.counters)}`);
  assert.equal(r.ev.down, [], 'a re-key is not an outage');
  assert.is((await r.session.set(11, 20)).value, 20);
});

test('a set without an ack fails after set_timeout; a silent board is down after dead_after', async () => {
  const r = rig();
  r.session.start();
  r.board.mute.add('SET');
  const p = r.session.set(10, 1).then(() => 'acked', (e: Error) => e.message);
  r.timers.advance(600);
  assert.match(await p, /did not acknowledge set 1 within 500 ms; it may or may not have applied it/);
  r.board.mute.add('PING');
  r.timers.advance(4500);
  assert.equal(r.ev.down, ['board "greenhouse-1" went silent (nothing for 3000 ms)']);
  assert.is(r.session.state, 'idle');
});

test('a board that lost its session (plaintext NO_SESSION) ends the session; pending sets fail, not hang', async () => {
  const r = rig();
  r.session.start();
  r.board.mute.add('SET');
  const p = r.session.set(10, 1).then(() => 'acked', (e: Error) => e.message);
  r.board.send({ type: 'ERROR', body: { code: 1, text: 'no session: send HELLO_REQ' } }, true);
  assert.match(await p, /ended before it acknowledged \(board "greenhouse-1" lost its session \(reset\?\)\)/);
  assert.equal(r.ev.down, ['board "greenhouse-1" lost its session (reset?)']);
});

test('replayed, forged and plaintext frames are dropped one by one; the session stays up', () => {
  const r = rig();
  r.session.start();
  const before = r.ev.readings.length;
  r.session.feed(r.board.sent[r.board.sent.length - 1]); // replay of the state dump
  const forged = wireFrame(sealFrame(FrameType.READINGS, 99, encodeBody({ type: 'READINGS', body: { values: [{ key: 1, value: 999, ageMs: 0, error: 0 }], full: false } }), DIR_BOARD_TO_HOST, new Uint8Array(32)));
  r.session.feed(forged);
  r.session.feed(wireFrame(sealFrame(FrameType.READINGS, 100, encodeBody({ type: 'READINGS', body: { values: [{ key: 1, value: 999, ageMs: 0, error: 0 }], full: false } }), DIR_BOARD_TO_HOST, undefined)));
  r.session.feed(Uint8Array.of(1, 2, 3, 0, 0xff, 0xfe, 0));
  assert.equal(r.ev.drops.slice(0, 3), ['replay', 'mac', 'plaintext']);
  assert.is(r.ev.readings.length, before, 'nothing accepted');
  r.board.send({ type: 'READINGS', body: { values: [{ key: 2, value: 41, ageMs: 0, error: 0 }], full: false } });
  assert.is(r.ev.readings[r.ev.readings.length - 1].key, 2, 'the counter was not pushed by the forgery: the next genuine frame is accepted');
  assert.is(r.session.state, 'up');
});

test.run();
