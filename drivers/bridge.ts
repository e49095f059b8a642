// The firmware bridge over a serial port: a microcontroller running the xiota bridge library
// (firmware-bridge/c) joins the agent authenticated; each of its sensors and actuators becomes
// a thing (`<board>.<key>`). Protocol and session: firmware-bridge/host. A board that goes away
// is a fault and its things read as failed until it is back; the session is retried with
// backoff min(1.8^n, 60) s (the ESPHome client's curve) and each outage is logged once.
// Over MQTT (`path: mqtt://broker:1883`) the same frames travel as payloads on per-board
// topics, with a replay window for the broker's duplicates and reordering (host/links.ts).
import type { Driver, DriverContext, Reading, ThingSpec, Value } from './types';
import { XiotaError } from '../agent/errors';
import { errorText } from './values';
import { HostSession, SetFailed, type BoardInfo, type DropReason, type Timers } from '../firmware-bridge/host/session';
import { keysFileOf, readAnySchema, readKeys, readSchema, schemaCachePath, writeSchema } from '../firmware-bridge/host/keys';
import { diffSchema, entityThing, rawToValue, thingId, valueToRaw, VALUE_FIELD } from '../firmware-bridge/host/things';
import type { BoardValue, Entity } from '../firmware-bridge/host/messages';
import { onUnpairedBoard, pairingDelivered } from '../firmware-bridge/host/tofu';
import { DEFAULT_TOPIC_PREFIX, isMqttUrl, MQTT_REPLAY_WINDOW, openMqtt, openSerial, type Link } from '../firmware-bridge/host/links';

export interface BridgeOptions {
  /** Device path: `/dev/ttyUSB0`, `/dev/ttyACM0`, a pty; or a broker, `mqtt://host:1883`. */
  path: string;
  /** MQTT: topics `<prefix>/<board>/up` (board → host) and `/down` (default xiota/bridge). */
  topicPrefix?: string;
  /** MQTT: how far below the highest counter a frame may arrive, once (default 64). */
  replayWindow?: number;
  /** `tofu`: a board without a key may ask to pair; the owner approves (xiota bridge approve),
   *  then the key is sent to it once over this wire. Default `preshared` (xiota bridge pair). */
  pairing?: 'preshared' | 'tofu';
  /** Require an ephemeral X25519 exchange per session (boards built with XB_X25519). */
  forwardSecrecy?: boolean;
  baudRate?: number;
  /** The board id this port must answer with (the one it was paired under). */
  board: string;
  /** Keys made by `xiota bridge pair` (default /var/lib/xiota/bridge-keys.json). */
  keysFile?: string;
  /** Development only: no authentication, CRC alone. The board must allow it too. */
  plaintext?: boolean;
  /** How long the first handshake may take before start() fails (default 5000 ms). */
  handshakeTimeoutMs?: number;
  pingMs?: number;
  deadAfterMs?: number;
  setTimeoutMs?: number;
  /** First retry delay after a lost board or port; grows ×1.8 up to 60 s (default 1000 ms). */
  retryMs?: number;
  /** Re-key when a counter reaches this (default 2^32 - 2^16; tests lower it). */
  rekeyAt?: number;
}

export class BridgeDriver implements Driver {
  readonly kind = 'bridge';
  private link?: Link;
  private ctx?: DriverContext;
  private session?: HostSession;
  private stopped = true;
  private entities: Entity[] = [];
  private declared: Entity[] = [];
  private retries = 0;
  private retryTimer?: NodeJS.Timeout;
  private lastOutage?: string;
  private firstUp?: { resolve: () => void; reject: (e: Error) => void };
  private drops = new Map<DropReason, number>();
  /** Per entity key, the counter of the frame that carried its newest value (this session). */
  private readonly newest = new Map<number, number>();
  private dropWindowStart = 0;
  private readonly keysFile: string;

  constructor(readonly id: string, private readonly opts: BridgeOptions, private readonly now: () => number = Date.now, private readonly timers?: Timers) {
    this.keysFile = keysFileOf(opts);
    // Things are known before the board answers when its schema is cached.
    const cached = readAnySchema(schemaCachePath(this.keysFile), opts.board);
    if (cached) this.declared = this.entities = cached.entities;
  }

  things(): ThingSpec[] {
    return this.declared.map((e) => entityThing(this.opts.board, e));
  }

  async start(ctx: DriverContext): Promise<void> {
    if (this.opts.pairing === 'tofu' && isMqttUrl(this.opts.path)) {
      throw new XiotaError('XIOTA_E_CONFIG', `bridge ${this.id}: pairing: tofu sends the board its key in the clear, so it is for a serial wire only; over MQTT pair with \`xiota bridge pair ${this.opts.board}\``, { board: this.opts.board });
    }
    this.ctx = ctx;
    if (this.link) { // a start() again after a failed one: the old link goes first
      const old = this.link;
      this.link = undefined;
      this.session?.stop();
      await old.close();
    }
    this.stopped = false;
    this.retries = 0;
    const up = new Promise<void>((resolve, reject) => { this.firstUp = { resolve, reject }; });
    await this.open();
    if (this.declared.length) {
      // Known things: run now; the board may come later (its things read as failed until then).
      this.firstUp = undefined;
      up.catch(() => undefined);
      return;
    }
    await up;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.session?.stop();
    this.session = undefined;
    const l = this.link;
    this.link = undefined;
    await l?.close();
  }

  async set(thing: string, field: string, value: Value): Promise<void> {
    const e = this.entities.find((x) => thingId(this.opts.board, x.key) === thing);
    if (!e || field !== VALUE_FIELD || !e.writable) throw new XiotaError('XIOTA_E_DRIVER', `bridge ${this.id}: ${thing}/${field} is not writable`, { thing, field });
    const r = valueToRaw(e, value);
    if (!r.ok) throw new XiotaError('XIOTA_E_DRIVER', `bridge ${this.id}: cannot set ${thing} (${e.name}): ${r.error}`, { thing, field });
    if (!this.session) throw new XiotaError('XIOTA_E_DRIVER', `bridge ${this.id}: board "${this.opts.board}" is not connected; try again when it is back`, { thing });
    try {
      const ack = await this.session.set(e.key, r.raw);
      // The ack carries the value now in force: it is the newest reading of that thing.
      this.ctx?.emit({ thing, timestamp: this.now(), values: [{ field: VALUE_FIELD, value: rawToValue(e, ack.value) }] });
    } catch (err) {
      const status = err instanceof SetFailed ? err.status : undefined;
      throw new XiotaError('XIOTA_E_DRIVER', `bridge ${this.id}: set ${thing} (${e.name}) = ${JSON.stringify(value)} failed: ${errorText(err)}`, { thing, field, ...(status !== undefined ? { status } : {}) }, { cause: err });
    }
  }

  private async open(): Promise<void> {
    const o = this.opts;
    let link: Link | undefined;
    const events = {
      data: (b: Uint8Array) => {
        if (this.link !== link) return;
        if (link!.datagram) this.session?.feedFrame(b); else this.session?.feed(b);
      },
      error: (why: string) => this.outage(why),
      closed: (why: string) => {
        if (this.link !== link) return;
        this.link = undefined;
        this.session?.stop();
        this.session = undefined;
        if (!this.stopped) this.outage(why);
      },
    };
    link = isMqttUrl(o.path)
      ? await openMqtt(o.path, o.topicPrefix ?? DEFAULT_TOPIC_PREFIX, o.board, o.handshakeTimeoutMs ?? 5000, events)
      : await openSerial(o.path, o.baudRate ?? 115200, events);
    if (this.stopped) { await link.close(); return; }
    this.link = link;
    this.startSession();
  }

  private startSession(): void {
    const link = this.link;
    if (!link) return;
    this.session?.stop();
    const o = this.opts;
    this.session = new HostSession({
      boardId: o.board,
      plaintext: o.plaintext ?? false,
      keyFor: (id) => readKeys(this.keysFile).get(id),
      send: (bytes) => link.write(bytes),
      datagram: link.datagram,
      replayWindow: link.datagram ? o.replayWindow ?? MQTT_REPLAY_WINDOW : 0,
      knownSchema: (id, hash) => readSchema(schemaCachePath(this.keysFile), id, hash),
      handshakeTimeoutMs: o.handshakeTimeoutMs,
      pingEveryMs: o.pingMs,
      deadAfterMs: o.deadAfterMs,
      setTimeoutMs: o.setTimeoutMs,
      rekeyAt: o.rekeyAt,
      forwardSecrecy: o.forwardSecrecy,
      ...(o.pairing === 'tofu' ? { tofu: { unpaired: () => onUnpairedBoard(this.keysFile, o.board, o.path), up: () => pairingDelivered(this.keysFile, o.board) } } : {}),
      timers: this.timers,
      now: this.now,
    }, {
      up: (info) => this.onUp(info),
      readings: (values, at, _full, ctr) => this.onReadings(values, at, ctr),
      down: (reason, refused) => this.outage(reason, refused),
      log: (level, text, verified) => {
        const fn = ([this.ctx?.log.debug, this.ctx?.log.info, this.ctx?.log.warn, this.ctx?.log.error][level] ?? this.ctx?.log.info)?.bind(this.ctx?.log);
        if (verified) fn?.(`board ${o.board}: ${text}`, { board: o.board });
        else this.ctx?.log.debug(`board ${o.board} (unverified, before the session): ${text}`, { board: o.board });
      },
      dropped: (reason, detail) => this.onDrop(reason, detail),
    });
    try {
      this.session.start();
    } catch (e) {
      this.outage(errorText(e), true); // an unreadable keys file
    }
  }

  private onUp(info: BoardInfo): void {
    this.retries = 0;
    this.newest.clear();
    this.lastOutage = undefined;
    if (info.described) {
      try { writeSchema(schemaCachePath(this.keysFile), info.boardId, info.schemaHash, info.entities); }
      catch (e) { this.ctx?.log.warn(`bridge ${this.id}: cannot cache the board's schema (${errorText(e)}); it is asked again at every connect`); }
    }
    if (!this.declared.length) this.declared = info.entities;
    else {
      // A firmware update changed the schema: diffed by key, adopted at once (things keep their
      // ids and nodes by key; the host re-reads things() and tells the agent).
      const diff = diffSchema(this.declared, info.entities);
      if (diff.length) {
        this.declared = info.entities;
        this.entities = info.entities;
        this.ctx?.log.info(`board ${info.boardId} changed its schema (firmware ${info.fwVersion}): ${diff.join('; ')}`, { board: info.boardId });
        this.ctx?.thingsChanged();
      }
    }
    this.entities = info.entities;
    this.ctx?.log.info(`board ${info.boardId} up`, { firmware: `${info.fwName} ${info.fwVersion}`, entities: info.entities.length, schema: info.described ? 'described' : 'cached', auth: !this.opts.plaintext });
    this.firstUp?.resolve();
    this.firstUp = undefined;
  }

  private onReadings(values: BoardValue[], receivedAt: number, ctr: number): void {
    for (const v of values) {
      // Over MQTT a delayed frame can arrive after a newer one: its values are superseded.
      if ((this.newest.get(v.key) ?? 0) > ctr) continue;
      this.newest.set(v.key, ctr);
      // Only declared things (the agent publishes those); scaled by the board's current schema.
      const e = this.declared.some((x) => x.key === v.key) ? this.entities.find((x) => x.key === v.key) : undefined;
      if (!e) continue; // a key added by a firmware update: reported once by the schema diff
      // A board without a clock says how old the sample is; the host's clock dates it.
      const timestamp = receivedAt - v.ageMs;
      const reading: Reading = { thing: thingId(this.opts.board, v.key), timestamp, values: [v.error ? { field: VALUE_FIELD, error: `sensor error ${v.error} on the board` } : { field: VALUE_FIELD, value: rawToValue(e, v.value) }] };
      this.ctx?.emit(reading);
    }
  }

  /** Dropped frames are counted and reported at most once per 10 s. */
  private onDrop(reason: DropReason, detail: string): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
    const t = this.now();
    if (t - this.dropWindowStart < 10_000) return;
    this.dropWindowStart = t;
    const summary = [...this.drops].map(([r, n]) => `${n} ${r}`).join(', ');
    this.drops.clear();
    this.ctx?.fault(`bridge ${this.opts.path}: dropped frames from board "${this.opts.board}" (${summary}; last: ${detail})`, { board: this.opts.board });
  }

  /** A lost board or port: one fault per outage, things marked failed, retry with backoff. */
  private outage(reason: string, refused = false): void {
    if (this.stopped) return;
    this.session?.stop();
    if (this.firstUp) {
      // No schema known yet: start() fails and the DriverHost retries it with its own backoff.
      this.firstUp.reject(new XiotaError('XIOTA_E_DRIVER', `bridge ${this.id}: ${reason}`, { board: this.opts.board }));
      this.firstUp = undefined;
      return;
    }
    // One fault per outage; only a refusal with a new reason (another board plugged in) adds one.
    if (this.lastOutage === undefined || (refused && reason !== this.lastOutage)) {
      this.lastOutage = reason;
      const failed = this.declared.length ? `; its ${this.declared.length} things read as failed until it is back` : '';
      this.ctx?.fault(`bridge ${this.id}: ${reason}${failed}; retrying with backoff`, { board: this.opts.board, refused });
      const ts = this.now();
      for (const e of this.declared) this.ctx?.emit({ thing: thingId(this.opts.board, e.key), timestamp: ts, values: [{ field: VALUE_FIELD, error: `board ${this.opts.board} offline: ${reason}` }] });
    }
    else this.ctx?.log.debug(`bridge ${this.id}: still out: ${reason}`, { board: this.opts.board });
    const wait = Math.min((this.opts.retryMs ?? 1000) * 1.8 ** this.retries, 60_000);
    this.retries++;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.stopped) return;
      if (this.link?.isOpen) this.startSession();
      else this.open().catch((e: unknown) => this.outage(errorText(e)));
    }, wait);
  }
}

export function createBridgeDriver(id: string, options: BridgeOptions, deps: { now?: () => number } = {}): Driver {
  return new BridgeDriver(id, options, deps.now);
}
