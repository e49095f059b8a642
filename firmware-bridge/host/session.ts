// Host side of one board session over a byte link (firmware-bridge/proto/bridge.proto). The
// host starts it: HELLO_REQ (repeated, since opening a port may reset the board and the first
// bytes can be lost), HELLO with the board's id and nonce, then INFO as the first frame under
// the session keys, DESCRIBE only when the schema hash is new, TIME, and a full state dump.
// Frames that fail the CRC, the MAC, the counter or the mode are dropped one by one and
// counted; the session survives them. A board that stops answering pings is down.
import { cobsDecode, FrameSplitter, wireFrame } from './cobs';
import { deriveKeys, DIR_BOARD_TO_HOST, DIR_HOST_TO_BOARD, randomBytes, SESSION_NONCE_BYTES, type SessionKeys } from './crypto';
import { FLAG_AUTH, openFrame, parseFrame, PROTOCOL_VERSION, sealFrame, type FrameError } from './frame';
import { ReplayWindow } from './replay';
import nacl from 'tweetnacl';
import { ACK_STATUS_TEXT, AckStatus, decodeBody, encodeBody, ErrorCode, FrameType, type Ack, type BoardValue, type Entity, type Info, type Message } from './messages';

export interface Timers { setTimeout(fn: () => void, ms: number): unknown; clearTimeout(h: unknown): void }
const realTimers: Timers = { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };

export interface SessionOptions {
  /** The board id the config expects; a board answering with another id is refused. */
  boardId: string;
  /** Development only: no keys, frames carry the CRC alone. */
  plaintext: boolean;
  /** The board's 32-byte pre-shared key, looked up at every handshake (pairing may change it). */
  keyFor: (boardId: string) => Uint8Array | undefined;
  send: (bytes: Uint8Array) => void;
  /** Frames travel whole (MQTT payloads): no COBS, feed them with feedFrame(). */
  datagram?: boolean;
  /** Accept counters up to this far below the highest seen, once each (0 = strictly
   *  increasing, for serial lines; MQTT reorders and duplicates: 64). */
  replayWindow?: number;
  /** Entities known for a schema hash (a cache), so DESCRIBE is skipped when nothing changed. */
  knownSchema?: (boardId: string, hash: number) => Entity[] | undefined;
  helloEveryMs?: number;
  handshakeTimeoutMs?: number;
  pingEveryMs?: number;
  /** No authenticated frame for this long: the board is gone. */
  deadAfterMs?: number;
  setTimeoutMs?: number;
  /** Re-key when either counter reaches this (default 2^32 - 2^16; tests lower it). */
  rekeyAt?: number;
  timers?: Timers;
  now?: () => number;
  /** Ask for an ephemeral X25519 exchange and refuse a board that does not answer with one
   *  (ESP32/RP2040 builds with XB_X25519; an AVR cannot afford it). */
  forwardSecrecy?: boolean;
  /** Trust on first use (host/tofu.ts): what to do when the board says it has no key. */
  tofu?: { unpaired(): { deliver: Uint8Array } | { refuse: string }; up(): void };
}

export interface BoardInfo extends Info { boardId: string; entities: Entity[]; described: boolean }

/** Why a frame was dropped: counted and reported by the driver, never fatal. */
export type DropReason = FrameError | 'cobs' | 'mac' | 'replay' | 'plaintext' | 'decode' | 'unexpected';

export interface SessionEvents {
  up(info: BoardInfo): void;
  /** `ctr`: the frame's counter; over MQTT a lower one may arrive after a higher one. */
  readings(values: BoardValue[], receivedAt: number, full: boolean, ctr: number): void;
  /** The session ended (board gone, refused, reset); `refused` = a configuration problem. */
  down(reason: string, refused: boolean): void;
  log(level: number, text: string, verified: boolean): void;
  dropped(reason: DropReason, detail: string): void;
}

type Phase = 'idle' | 'hello' | 'info' | 'describe' | 'up';

export const MIN_REKEY_AT = 64;

export class SetFailed extends Error {
  constructor(message: string, readonly status?: number) { super(message); this.name = 'SetFailed'; }
}

export class HostSession {
  private phase: Phase = 'idle';
  private keys?: SessionKeys;
  private hostNonce: Uint8Array = new Uint8Array(0);
  private boardNonce?: Uint8Array;
  private lateHellos = 0;
  private pairSent = false;
  private eph?: nacl.BoxKeyPair;
  /** Datagram links: sealed frames that arrived before the HELLO they follow. */
  private early: Uint8Array[] = [];
  private txCtr = 0;
  private readonly rx: ReplayWindow;
  private info?: Info;
  private entities: Entity[] = [];
  private timers: Timers;
  private now: () => number;
  private helloTimer?: unknown;
  private deadlineTimer?: unknown;
  private pingTimer?: unknown;
  private lastHeard = 0;
  private pingSeq = 0;
  private nextRequest = 1;
  private readonly pending = new Map<number, { resolve: (a: Ack) => void; reject: (e: Error) => void; timer: unknown }>();
  private readonly splitter: FrameSplitter;

  constructor(private readonly o: SessionOptions, private readonly ev: SessionEvents) {
    this.timers = o.timers ?? realTimers;
    this.now = o.now ?? Date.now;
    this.rx = new ReplayWindow(o.replayWindow ?? 0);
    this.splitter = new FrameSplitter((f) => this.onEncoded(f), (n) => this.ev.dropped('long', `${n} bytes without a frame delimiter`));
  }

  get state(): Phase { return this.phase; }
  get counters(): { tx: number; rx: number } { return { tx: this.txCtr, rx: this.rx.last }; }

  /** Starts (or restarts) the handshake. */
  start(afterPair = false): void {
    this.pairSent = afterPair;
    this.clearTimers();
    this.failPending('the session restarted before the board acknowledged');
    this.splitter.reset();
    if (!this.o.plaintext && !this.o.tofu && !this.o.keyFor(this.o.boardId)) {
      this.end(`board "${this.o.boardId}" is not paired: run \`xiota bridge pair ${this.o.boardId}\` and put the key it prints into the board's firmware`, true);
      return;
    }
    // Each attempt starts afresh (new nonce, counters at 0): a HELLO, INFO or DESCRIBE lost on
    // the line costs one retry interval, not the whole handshake timeout.
    const hello = () => {
      this.phase = 'hello';
      this.keys = undefined;
      this.hostNonce = randomBytes(SESSION_NONCE_BYTES);
      this.txCtr = 0;
      this.rx.reset();
      this.early = [];
      // Timers first: the answer may come back before send() returns (goUp clears them).
      this.helloTimer = this.timers.setTimeout(hello, this.o.helloEveryMs ?? 500);
      this.eph = this.o.forwardSecrecy && !this.o.plaintext ? nacl.box.keyPair() : undefined;
      this.sendPlain({ type: 'HELLO_REQ', body: { hostNonce: this.hostNonce, version: PROTOCOL_VERSION, auth: !this.o.plaintext, ...(this.eph ? { ephPub: this.eph.publicKey } : {}) } });
    };
    this.deadlineTimer = this.timers.setTimeout(() => {
      this.end(`board "${this.o.boardId}" did not complete the handshake within ${this.o.handshakeTimeoutMs ?? 5000} ms (${this.phase === 'hello' ? 'no answer to hello: is it running the bridge firmware, on this port?' : `stuck at ${this.phase}`})`, false);
    }, this.o.handshakeTimeoutMs ?? 5000);
    hello();
  }

  stop(): void {
    this.clearTimers();
    this.failPending('the driver stopped');
    this.phase = 'idle';
    this.keys = undefined;
  }

  /** Bytes from the link. */
  feed(chunk: Uint8Array): void { this.splitter.push(chunk); }

  /** One whole frame from a datagram link (an MQTT payload: no COBS). */
  feedFrame(frame: Uint8Array): void { this.onFrame(frame); }

  /** Sends a set; resolves with the board's ack (status OK), rejects with SetFailed otherwise. */
  set(key: number, value: number): Promise<Ack> {
    if (this.phase !== 'up') return Promise.reject(new SetFailed(`board "${this.o.boardId}" is not connected`));
    const requestId = this.nextRequest;
    this.nextRequest = this.nextRequest >= 0xffffffff ? 1 : this.nextRequest + 1;
    return new Promise<Ack>((resolve, reject) => {
      const ms = this.o.setTimeoutMs ?? 3000;
      const timer = this.timers.setTimeout(() => {
        this.pending.delete(requestId);
        reject(new SetFailed(`board "${this.o.boardId}" did not acknowledge set ${requestId} within ${ms} ms; it may or may not have applied it`));
      }, ms);
      this.pending.set(requestId, { resolve, reject, timer });
      this.sendSealed({ type: 'SET', body: { requestId, key, value } });
    });
  }

  private sendPlain(m: Message): void {
    this.transmit(sealFrame(FrameType[m.type], 0, encodeBody(m), DIR_HOST_TO_BOARD, undefined));
  }

  private sendSealed(m: Message): void {
    if (this.txCtr >= 0xffffff00) return; // the board refuses these too; a re-key is due first
    this.txCtr++;
    this.transmit(sealFrame(FrameType[m.type], this.txCtr, encodeBody(m), DIR_HOST_TO_BOARD, this.keys?.hostToBoard));
  }

  private transmit(frame: Uint8Array): void { this.o.send(this.o.datagram ? frame : wireFrame(frame)); }

  private rekeyDue(): boolean {
    // Never below what a handshake itself uses (INFO, up to 16 DESCRIBEs, the state dump),
    // or a re-key would call for the next one at once.
    const at = Math.max(this.o.rekeyAt ?? 0xffff0000, MIN_REKEY_AT);
    return this.txCtr >= at || this.rx.last >= at;
  }

  private rekey(): void {
    // Counters must never wrap under one key (a repeated nonce would leak plaintext and
    // allow forgeries); a fresh handshake gives fresh keys. Timers are reset by start().
    this.ev.log(1, `re-keying the session with board "${this.o.boardId}" before its counters wrap`, true);
    this.start();
  }

  private onEncoded(encoded: Uint8Array): void {
    const raw = cobsDecode(encoded);
    if (!raw) { this.ev.dropped('cobs', 'not valid COBS'); return; }
    this.onFrame(raw);
  }

  private onFrame(raw: Uint8Array): void {
    const f = parseFrame(raw);
    if (typeof f === 'string') { this.ev.dropped(f, `${raw.length}-byte frame`); return; }
    const authed = (f.verFlags & FLAG_AUTH) !== 0;
    const name = f.type;
    // Before a session the board speaks plaintext with ctr 0: HELLO, ERROR and boot LOGs.
    if (!authed && f.ctr === 0 && (name === FrameType.HELLO || name === FrameType.ERROR || name === FrameType.LOG)) {
      this.onPlain(name, f.payload);
      return;
    }
    if (this.phase === 'hello' && this.o.datagram && authed && this.early.length < 4) { this.early.push(raw); return; } // overtook the HELLO
    if (this.phase === 'idle' || this.phase === 'hello') { this.ev.dropped('unexpected', `frame type ${name} before the handshake`); return; }
    if (authed === this.o.plaintext) { this.ev.dropped('plaintext', authed ? 'authenticated frame in a plaintext session' : `plaintext frame type ${name} refused in an authenticated session`); return; }
    const verdict = this.rx.check(f.ctr);
    if (verdict !== 'ok') { this.ev.dropped('replay', verdict === 'duplicate' ? `counter ${f.ctr} seen already` : `counter ${f.ctr} too old (highest ${this.rx.last}, window ${this.rx.size})`); return; }
    let body = f.payload;
    if (authed) {
      const opened = openFrame(f, DIR_BOARD_TO_HOST, this.keys!.boardToHost);
      if (!opened) {
        // The CRC was right, so this is no line error: during the handshake it means the
        // board holds another key (re-paired on one side only).
        // Over MQTT it can also be a HELLO from an older HELLO_REQ, delivered late: try again.
        if (this.phase === 'info' && this.o.datagram && ++this.lateHellos < 3) { this.ev.dropped('mac', 'INFO under other keys (a late HELLO?): hello again'); this.start(); return; }
        if (this.phase === 'info') { this.end(`board "${this.o.boardId}" answered under a key that does not match the paired one (stale key?): pair it again (xiota bridge pair ${this.o.boardId} --force) and load the new key into the board`, true); return; }
        this.ev.dropped('mac', `frame ${f.ctr} failed authentication`);
        return;
      }
      body = opened;
    }
    let m: Message;
    try { m = decodeBody(f.type, body); } catch (e) { this.ev.dropped('decode', (e as Error).message); return; }
    this.rx.commit(f.ctr); // only for a genuine frame (a forgery cannot move the window)
    this.lastHeard = this.now();
    this.onMessage(m, f.ctr);
    // Between sets, so no acknowledgement is lost to the new keys.
    if (this.phase === 'up' && this.pending.size === 0 && this.rekeyDue()) this.rekey();
  }

  private onPlain(type: number, payload: Uint8Array): void {
    let m: Message;
    try { m = decodeBody(type, payload); } catch (e) { this.ev.dropped('decode', (e as Error).message); return; }
    if (m.type === 'LOG') { this.ev.log(m.body.level, m.body.text, false); return; }
    if (m.type === 'ERROR') {
      const id = this.o.boardId;
      const c = m.body.code;
      if (c === ErrorCode.UNPAIRED && this.o.tofu && this.phase === 'hello') this.onUnpaired();
      else if (c === ErrorCode.UNPAIRED) this.end(`board "${id}" has no key stored: run \`xiota bridge pair ${id}\` and load the key into its firmware`, true);
      else if (c === ErrorCode.AUTH_MODE) this.end(`board "${id}" refuses the ${this.o.plaintext ? 'plaintext' : 'authenticated'} mode (${m.body.text}); plaintext is for development only and must be set on both ends`, true);
      else if (c === ErrorCode.NO_SESSION && this.phase !== 'hello' && this.phase !== 'idle') this.end(`board "${id}" lost its session (reset?)`, false);
      else if (this.phase !== 'idle') this.ev.dropped('unexpected', `unauthenticated error ${c} from the board: ${m.body.text}`);
      return;
    }
    const h = m.type === 'HELLO' ? m.body : undefined;
    if (h && this.phase !== 'hello' && this.boardNonce && Buffer.from(h.boardNonce).equals(this.boardNonce)) { this.ev.dropped('replay', 'HELLO seen already'); return; }
    if (!h || this.phase !== 'hello') { this.ev.dropped('unexpected', `plaintext ${m.type} outside the handshake`); return; }
    if (h.boardId !== this.o.boardId) { this.end(`the board on this port says it is "${h.boardId}", the config expects "${this.o.boardId}"; refusing it (wrong port, or a board not meant for this driver?)`, true); return; }
    if (h.version !== PROTOCOL_VERSION) { this.end(`board "${h.boardId}" speaks bridge protocol ${h.version}, this agent speaks ${PROTOCOL_VERSION}: update the firmware or the agent`, true); return; }
    if (h.auth === this.o.plaintext) {
      this.end(h.auth ? `board "${h.boardId}" answered authenticated but the config says plaintext: remove plaintext from the driver options` : `board "${h.boardId}" answered in plaintext but the config requires authentication; refusing it (pair it: xiota bridge pair ${h.boardId})`, true);
      return;
    }
    if (h.boardNonce.length !== SESSION_NONCE_BYTES) { this.ev.dropped('decode', 'HELLO without a 16-byte nonce'); return; }
    if (!this.o.plaintext) {
      const psk = this.o.keyFor(h.boardId);
      if (!psk) { this.end(`board "${h.boardId}" is not paired: run \`xiota bridge pair ${h.boardId}\``, true); return; }
      let shared: Uint8Array | undefined;
      if (this.eph) {
        if (!h.ephPub) { this.end(`board "${h.boardId}" answered without an ephemeral key, and forward_secrecy is on: its firmware lacks X25519 (XB_X25519), or the key was stripped on the way; refusing it`, true); return; }
        shared = nacl.scalarMult(this.eph.secretKey, h.ephPub);
        this.eph.secretKey.fill(0);
        if (shared.every((b) => b === 0)) { this.end(`board "${h.boardId}" sent a low-order X25519 key; refusing it`, true); return; }
      } else if (h.ephPub) { this.ev.dropped('unexpected', 'an ephemeral key nobody asked for'); return; }
      this.keys = deriveKeys(psk, this.hostNonce, h.boardNonce, h.boardId, shared);
      shared?.fill(0);
    }
    this.boardNonce = h.boardNonce;
    this.phase = 'info';
    const early = this.early.splice(0);
    for (const f of early) this.onFrame(f);
  }

  private onMessage(m: Message, ctr: number): void {
    switch (m.type) {
      case 'INFO':
        if (this.phase !== 'info') return;
        this.info = m.body;
        this.entities = [];
        {
          const cached = this.o.knownSchema?.(this.o.boardId, m.body.schemaHash);
          if (cached && cached.length === m.body.entityCount) { this.entities = cached; this.goUp(false); }
          else if (m.body.entityCount === 0) this.goUp(true);
          else { this.phase = 'describe'; this.sendSealed({ type: 'DESCRIBE_REQ', body: {} }); }
        }
        return;
      case 'DESCRIBE':
        if (this.phase !== 'describe') return;
        // In order on a serial line (a gap is a lost frame: start again); over MQTT they may
        // come in any order, each index once (duplicates stopped at the replay window).
        if (m.body.count !== this.info!.entityCount || (this.o.datagram ? m.body.index >= m.body.count : m.body.index !== this.entities.length)) {
          this.end(`board "${this.o.boardId}" described entity ${m.body.index} of ${m.body.count}, expected ${this.entities.length} of ${this.info!.entityCount}`, false);
          return;
        }
        this.entities[m.body.index] = m.body.entity;
        if (this.entities.filter((e) => e !== undefined).length === this.info!.entityCount) this.goUp(true);
        return;
      case 'READINGS':
        if (this.phase === 'up') this.ev.readings(m.body.values, this.now(), m.body.full, ctr);
        return;
      case 'ACK': {
        const p = this.pending.get(m.body.requestId);
        if (!p) return; // late: its set already timed out
        this.pending.delete(m.body.requestId);
        this.timers.clearTimeout(p.timer);
        if (m.body.status === AckStatus.OK) p.resolve(m.body);
        else p.reject(new SetFailed(`board "${this.o.boardId}" refused the set: ${ACK_STATUS_TEXT[m.body.status] ?? `status ${m.body.status}`} (value now ${m.body.value})`, m.body.status));
        return;
      }
      case 'PONG': return; // lastHeard is enough
      case 'LOG': this.ev.log(m.body.level, m.body.text, true); return;
      case 'ERROR': this.ev.log(3, `board error ${m.body.code}: ${m.body.text}`, true); return;
      default: this.ev.dropped('unexpected', `${m.type} from a board`);
    }
  }

  /** Trust on first use: the owner approved this board, so its key goes out once, in the clear,
   *  and a fresh handshake follows under it; or the refusal says what the owner can do. */
  private onUnpaired(): void {
    if (this.pairSent) { this.end(`board "${this.o.boardId}" did not take the key it was sent (does its firmware allow pairing, and can it store a key?)`, true); return; }
    const v = this.o.tofu!.unpaired();
    if ('refuse' in v) { this.end(v.refuse, true); return; }
    this.sendPlain({ type: 'PAIR', body: { key: v.deliver } });
    this.ev.log(1, `sent board "${this.o.boardId}" its key (pairing approved by the owner)`, true);
    this.start(true);
  }

  private goUp(described: boolean): void {
    this.clearTimers();
    if (this.o.tofu && !this.o.plaintext) this.o.tofu.up();
    this.lateHellos = 0;
    this.phase = 'up';
    this.lastHeard = this.now();
    this.ev.up({ ...this.info!, boardId: this.o.boardId, entities: this.entities, described });
    if (this.phase !== 'up') return; // the consumer stopped us
    this.sendSealed({ type: 'TIME', body: { unixMs: Math.round(this.now()) } });
    this.sendSealed({ type: 'STATE_REQ', body: {} });
    this.schedulePing();
  }

  private schedulePing(): void {
    this.pingTimer = this.timers.setTimeout(() => {
      this.pingTimer = undefined;
      if (this.phase !== 'up') return;
      const dead = this.o.deadAfterMs ?? 10_000;
      if (this.now() - this.lastHeard >= dead) { this.end(`board "${this.o.boardId}" went silent (nothing for ${dead} ms)`, false); return; }
      if (this.rekeyDue()) { this.rekey(); return; }
      this.pingSeq = (this.pingSeq + 1) >>> 0;
      this.schedulePing(); // before the send: its answer may restart the session synchronously
      this.sendSealed({ type: 'PING', body: { seq: this.pingSeq } });
    }, this.o.pingEveryMs ?? 2000);
  }

  private end(reason: string, refused: boolean): void {
    this.clearTimers();
    this.failPending(`the link to board "${this.o.boardId}" ended before it acknowledged (${reason})`);
    this.phase = 'idle';
    this.keys = undefined;
    this.ev.down(reason, refused);
  }

  private failPending(why: string): void {
    for (const [id, p] of this.pending) {
      this.timers.clearTimeout(p.timer);
      p.reject(new SetFailed(why));
      this.pending.delete(id);
    }
  }

  private clearTimers(): void {
    for (const t of [this.helloTimer, this.deadlineTimer, this.pingTimer]) if (t !== undefined) this.timers.clearTimeout(t);
    this.helloTimer = this.deadlineTimer = this.pingTimer = undefined;
  }
}
