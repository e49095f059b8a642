// From a driver's reading to an acknowledged PubSub item:
//   reading -> publish policy (per thing) -> item id + XEP-0323 payload -> outbox (on disk:
//   "accepted") -> NodePublisher while online -> server's iq result -> outbox.ack.
// The publish does not wait for the disk: the outbox hands a record out as soon as it is
// appended, so latency is the network's, while acceptance still means "fdatasync'd".
// A reading leaves the outbox only when the service answered its publish. Offline, readings
// wait on disk; when the session is back the pump replays them in order. Ids are assigned
// once, at acceptance, so any resend overwrites the same item (XEP-0060 7.1.2).
import type { Reading, ThingSpec } from '../../drivers/types';
import { XiotaError } from '../errors';
import { silentLogger, type Logger } from '../log';
import type { Outbox, OutboxRecord } from '../outbox/outbox';
import { StanzaError } from '../session/stanza';
import { rawElement } from '../xml/element';
import { compactFieldsXml } from '../xep/sensordata-compact';
import { mergeFieldsPayloads, NS_SENSORDATA, payloadTimestamp } from '../xep/sensordata-fields';
import type { NodeConfig } from '../xep/pubsub';
import { ItemIdAllocator } from './item-id';
import { ItemQueue } from './item-queue';
import { PublishPolicy, type PolicyOptions } from './policy';
import { errorStanzaOf, NodePublisher, ServiceProfile, type IqSender } from './publisher';

export interface ThingTarget {
  /** 'pep' or a PubSub service JID. */
  service: string;
  node: string;
  config: NodeConfig;
}

/** What the pipeline needs of the session (XmppClient provides it). */
export interface SessionLike {
  readonly state: string;
  /** The account's bare JID (the PEP service probed with disco#info); optional for tests. */
  readonly bare?: string;
  iq: IqSender;
  on(event: 'online' | 'offline', fn: (...a: never[]) => void): unknown;
  off(event: 'online' | 'offline', fn: (...a: never[]) => void): unknown;
}

export interface PipelineOptions {
  session: SessionLike;
  outbox: Outbox;
  thing: (id: string) => ThingSpec | undefined;
  policyFor: (thingId: string) => PolicyOptions;
  targetFor: (thingId: string) => ThingTarget;
  /** Publishes in flight at once (pipelined over one stream, answered in order). */
  window?: number;
  iqTimeoutMs?: number;
  log?: Logger;
  now?: () => number;
  /** Pause before resending after a failed publish. Default 1000 ms. */
  retryDelayMs?: number;
  /** Called for each reading the server acknowledged. */
  onPublished?: (rec: OutboxRecord) => void;
  /** How a thing's waiting readings share items (default: one reading per item, no delay). */
  batchingFor?: (thingId: string) => Batching;
  // targetFor and batchingFor are asked once per thing (per reading would be three objects and
  // a string each in lite mode), and again when registerTarget() says the thing changed.
}

/**
 * Readings of one thing that wait together travel in one item, one `<timestamp>` each
 * (XEP-0323), so the stanza, its ids, the server's answer and the TLS record are paid once.
 * `batchMs` > 0 makes readings wait up to that long for company (`publish.batch_s`: delay
 * traded for bytes); they are durable in the outbox the whole time.
 */
export interface Batching {
  batchMs: number;
  /** 1: one reading per item, as before merging existed. */
  maxReadings: number;
}

const DEFAULT_BATCHING: Batching = { batchMs: 0, maxReadings: 1 };
/**
 * Records taken from the outbox ahead of the window when readings may share items: with 100
 * things a take of 64 in arrival order rarely holds two readings of one thing, so nothing
 * merged; a take of 1024 lets ~10 of each meet in the ItemQueue. Bounds the memory held
 * (1024 payloads of a few hundred bytes).
 */
const MAX_READAHEAD = 1024;

export interface PipelineStats {
  offered: number;
  accepted: number;
  published: number;
  /** Records the service refused for good (dropped after logging). */
  rejected: number;
  /** Readings that could not be put in the outbox at all. */
  lost: number;
}

const KEY_SEP = '\u0000';
/** Publishes in flight at once by default (64 keeps up with 1000/s on loopback; 16 did not). */
export const DEFAULT_WINDOW = 64;

export class ReadingPipeline {
  readonly stats: PipelineStats = { offered: 0, accepted: 0, published: 0, rejected: 0, lost: 0 };
  private readonly log: Logger;
  private readonly policies = new Map<string, PublishPolicy>();
  /** Per thing: its policy's timer and when it is due (see armTimer). */
  private readonly timers = new Map<string, { t: NodeJS.Timeout; due: number }>();
  private readonly publishers = new Map<string, NodePublisher>();
  /** One per service: what it supports, learnt once and kept across reconnects. */
  private readonly profiles = new Map<string, ServiceProfile>();
  private readonly ids: ItemIdAllocator;
  private readonly window: number;
  private readonly now: () => number;
  private readonly retryDelayMs: number;
  private inFlight = 0;
  private needRequeue = false;
  private pumping = false;
  private stopped = false;
  private wake?: () => void;
  /** Per outbox key: its batching, and the records waiting for company (batchMs > 0). */
  private readonly batching = new Map<string, Batching>();
  private readonly held = new Map<string, { recs: OutboxRecord[]; timer?: NodeJS.Timeout }>();
  /** Taken from the outbox, waiting for a window slot, per node (merged there). */
  private readonly ready = new ItemQueue();
  /** The largest maxReadings of any key seen: how far ahead the pump takes. */
  private maxReadingsSeen = 1;
  /**
   * Items of several readings sent and not yet answered: head id -> member ids, and each
   * member's head. A resend (failure, reconnect) sends exactly the same item again, so it
   * overwrites what the server may already have instead of storing a reading twice.
   */
  private readonly groups = new Map<string, string[]>();
  private readonly memberOf = new Map<string, string>();
  /** Members of a resent group collected until all of them are back from the outbox. */
  private readonly regrouping = new Map<string, OutboxRecord[]>();
  private readonly onOnline = () => this.kick();
  private readonly onOffline = () => this.wake?.();

  constructor(private readonly o: PipelineOptions) {
    this.log = o.log ?? silentLogger;
    this.window = Math.max(1, o.window ?? DEFAULT_WINDOW);
    this.now = o.now ?? Date.now;
    this.retryDelayMs = o.retryDelayMs ?? 1000;
    this.ids = new ItemIdAllocator(Date.now().toString(36));
    o.session.on('online', this.onOnline);
    o.session.on('offline', this.onOffline);
  }

  /** A reading from a driver: publish now, later, or not, per the thing's policy. */
  offer(reading: Reading): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.stats.offered++;
    let policy = this.policies.get(reading.thing);
    if (!policy) {
      policy = new PublishPolicy(this.o.policyFor(reading.thing));
      this.policies.set(reading.thing, policy);
    }
    const d = policy.offer(reading, this.now());
    this.armTimer(reading.thing, policy);
    return d.publish ? this.accept(d.reading) : Promise.resolve();
  }

  private armTimer(thing: string, policy: PublishPolicy): void {
    const old = this.timers.get(thing);
    const due = policy.nextDueAt();
    if (due === undefined || this.stopped) {
      if (old) clearTimeout(old.t);
      this.timers.delete(thing);
      return;
    }
    // Every reading moves the heartbeat (max_interval) later: a timer due no later than that
    // stays and re-arms when it fires early, instead of a clear and a new timer per reading.
    if (old && old.due <= due) return;
    if (old) clearTimeout(old.t);
    const t = setTimeout(() => {
      this.timers.delete(thing);
      const now = this.now();
      const next = policy.nextDueAt();
      if (next !== undefined && next > now) return this.armTimer(thing, policy);
      const d = policy.tick(now);
      if (d.publish) void this.accept(d.reading);
      this.armTimer(thing, policy);
    }, Math.max(0, due - this.now()));
    t.unref();
    this.timers.set(thing, { t, due });
  }

  /** Puts a reading in the outbox; resolves once it is accepted (on disk, or held in memory when the disk fails). */
  async accept(reading: Reading): Promise<void> {
    const spec = this.o.thing(reading.thing);
    if (!spec) {
      this.log.warn('reading for an unknown thing dropped', { thing: reading.thing });
      return;
    }
    let route = this.routes.get(reading.thing);
    if (!route) {
      this.registerTarget(reading.thing);
      route = this.routes.get(reading.thing)!;
    }
    const key = route.key;
    const id = this.ids.next();
    const payload = compactFieldsXml(reading, spec);
    const b = route.batching;
    if (this.batching.get(key) !== b) this.batching.set(key, b);
    if (b.maxReadings > this.maxReadingsSeen) this.maxReadingsSeen = b.maxReadings;
    const written = this.o.outbox.append({ key, id, payload });
    // The outbox hands the record out before it is on disk: publish and fdatasync overlap.
    this.kick();
    try {
      await written;
      this.stats.accepted++;
    } catch (e) {
      const err = e as XiotaError;
      if (err.detail?.heldInMemory) {
        this.stats.accepted++;
      } else {
        this.stats.lost++;
        this.log.error('reading could not be queued', { thing: reading.thing, error: err.message });
      }
    }
    this.kick();
  }

  private publisherFor(service: string, config: NodeConfig): NodePublisher {
    // The JSON of a config object once, not per item (configs are replaced, never edited).
    let json = this.configJson.get(config);
    if (json === undefined) this.configJson.set(config, (json = JSON.stringify(config)));
    const k = service + KEY_SEP + json;
    let p = this.publishers.get(k);
    if (!p) {
      let profile = this.profiles.get(service);
      if (!profile) this.profiles.set(service, (profile = new ServiceProfile()));
      p = new NodePublisher({
        iq: (req, ms) => this.o.session.iq(req, ms), service: service === 'pep' ? undefined : service, config,
        timeoutMs: this.o.iqTimeoutMs, log: this.log, profile, accountJid: this.o.session.bare,
      });
      this.publishers.set(k, p);
    }
    return p;
  }

  /** Starts the pump if it is idle and there may be work. */
  kick(): void {
    this.wake?.();
    if (this.pumping || this.stopped) return;
    this.pumping = true;
    void this.pump().finally(() => {
      this.pumping = false;
    });
  }

  private sleep(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        resolve();
      };
    });
  }

  private async pump(): Promise<void> {
    while (!this.stopped) {
      if (this.o.session.state !== 'online' || this.inFlight >= this.window) {
        await this.sleep();
        continue;
      }
      if (this.needRequeue) {
        // Keep order: resend only after every in-flight publish has settled.
        if (this.inFlight > 0) {
          await this.sleep();
          continue;
        }
        // A failed publish (timeout, drop) is retried after a pause, not in a tight loop.
        await new Promise<void>((r) => setTimeout(r, this.retryDelay()).unref());
        // Held records are in flight for the outbox too: they come back with the rest.
        this.dropHeld();
        this.o.outbox.requeueInFlight();
        this.needRequeue = false;
      }
      // Take ahead of the window (readings of one thing meet in `ready` and share an item),
      // but only what the window can send soon: memory stays bounded by the readahead.
      let took = 0;
      const room = this.readahead() - this.ready.size;
      if (room > 0) {
        const recs = await this.o.outbox.take(room);
        took = recs.length;
        if (took) this.dispatch(recs);
      }
      // Nothing to do until a publish settles, a reading comes or the session is back (a
      // failure that settled while we were taking is handled at the top, without sleeping).
      if (this.drain() === 0 && took === 0 && !(this.needRequeue && this.inFlight === 0)) await this.sleep();
    }
  }

  /** One reading per item: the window's worth, as before. Merging: MAX_READAHEAD. */
  private readahead(): number {
    return this.maxReadingsSeen > 1 ? Math.max(this.window, MAX_READAHEAD) : this.window;
  }

  private readonly maxReadingsOf = (key: string): number => (this.batching.get(key) ?? DEFAULT_BATCHING).maxReadings;

  /** Sends items from `ready` while the window has room; how many were sent. */
  private drain(): number {
    let sent = 0;
    // After a failure nothing newer goes out until the resend (order), see pump().
    while (!this.stopped && !this.needRequeue && this.inFlight < this.window && this.o.session.state === 'online') {
      const item = this.ready.next(this.maxReadingsOf);
      if (!item) break;
      this.send(item);
      sent++;
    }
    return sent;
  }

  /** Records taken together: per key, in order, to `ready` (or held for their batch). */
  private dispatch(recs: OutboxRecord[]): void {
    // One new record (the pump takes after each reading at low rates): what the loop below
    // does for it, without its Map and list.
    if (recs.length === 1) {
      const rec = recs[0]!;
      if (!this.memberOf.has(rec.id) && rec.seq >= this.o.outbox.firstNewSeq) {
        const b = this.batching.get(rec.key) ?? DEFAULT_BATCHING;
        if (b.batchMs > 0) this.hold(rec.key, [rec], b);
        else this.ready.add(rec);
        return;
      }
    }
    const byKey = new Map<string, OutboxRecord[]>();
    for (const rec of recs) {
      const head = this.memberOf.get(rec.id);
      if (head !== undefined) {
        // Part of an item already sent once: resend that very item, nothing more or less.
        const got = this.regrouping.get(head) ?? [];
        got.push(rec);
        const members = this.groups.get(head)!;
        if (got.length < members.length) this.regrouping.set(head, got);
        else {
          this.regrouping.delete(head);
          this.ready.addFixed(got);
        }
        continue;
      }
      if (rec.seq < this.o.outbox.firstNewSeq) {
        // Recovered from disk: a process before a crash may have sent it inside an item of
        // several readings whose shape nobody remembers. Alone, under its own id, it cannot
        // be stored twice: that item's head is recovered too (an item is acked whole, see
        // Outbox.ack) and goes alone under the item's id, overwriting it (XEP-0060 7.1.2).
        this.ready.addFixed([rec]);
        continue;
      }
      const list = byKey.get(rec.key);
      if (list) list.push(rec);
      else byKey.set(rec.key, [rec]);
    }
    for (const [key, list] of byKey) {
      const b = this.batching.get(key) ?? DEFAULT_BATCHING;
      if (b.batchMs > 0) this.hold(key, list, b);
      else this.release(list);
    }
  }

  /** Records free to go (not waiting for a batch) join `ready`; the window sends them. */
  private release(recs: OutboxRecord[]): void {
    for (const rec of recs) this.ready.add(rec);
  }

  private hold(key: string, list: OutboxRecord[], b: Batching): void {
    let h = this.held.get(key);
    if (!h) this.held.set(key, (h = { recs: [] }));
    h.recs.push(...list);
    // A full item goes at once; the rest waits for its first reading's deadline.
    while (h.recs.length >= b.maxReadings) this.release(h.recs.splice(0, b.maxReadings));
    this.armHeld(key, b);
  }

  private armHeld(key: string, b: Batching): void {
    const h = this.held.get(key);
    if (!h) return;
    if (h.timer) clearTimeout(h.timer);
    h.timer = undefined;
    if (!h.recs.length) {
      this.held.delete(key);
      return;
    }
    // The deadline counts from when the first waiting reading was sampled (its payload's stamp).
    const first = payloadTimestamp(h.recs[0]!.payload.toString('utf8')) ?? this.now();
    h.timer = setTimeout(() => {
      h.timer = undefined;
      if (this.stopped) return;
      // Offline, the records wait on (they are safe in the outbox); try again shortly.
      if (this.o.session.state !== 'online') return this.armHeldLater(key, b);
      const recs = h.recs.splice(0, h.recs.length);
      this.held.delete(key);
      this.release(recs);
      this.kick();
    }, Math.max(0, first + b.batchMs - this.now()));
    h.timer.unref();
  }

  private armHeldLater(key: string, b: Batching): void {
    const h = this.held.get(key);
    if (!h) return;
    h.timer = setTimeout(() => this.armHeld(key, b), 1000);
    h.timer.unref();
  }

  private forgetGroup(ids: string[]): void {
    if (ids.length < 2) return;
    this.groups.delete(ids[0]!);
    for (const id of ids) this.memberOf.delete(id);
  }

  private dropHeld(): void {
    // A partly collected resend comes back whole from the outbox with the rest; so do the
    // records taken and not yet sent.
    this.regrouping.clear();
    this.ready.clear();
    for (const h of this.held.values()) if (h.timer) clearTimeout(h.timer);
    this.held.clear();
  }

  /** One item for `recs` (one key, in order): their payloads merged, the first one's id. */
  private send(recs: OutboxRecord[]): void {
    const key = recs[0]!.key;
    const sep = key.indexOf(KEY_SEP);
    const service = key.slice(0, sep);
    const node = key.slice(sep + 1);
    const merged = mergeFieldsPayloads(recs.map((r) => r.payload.toString('utf8')));
    if (merged === undefined) {
      // Not our payload shape (cannot happen for what accept() wrote): one item each.
      for (const r of recs) this.send([r]);
      return;
    }
    const payload = rawElement('fields', NS_SENSORDATA, merged);
    const cfg = this.configFor(service, node);
    const ids = recs.map((r) => r.id);
    if (ids.length > 1 && !this.groups.has(ids[0]!)) {
      this.groups.set(ids[0]!, ids);
      for (const id of ids) this.memberOf.set(id, ids[0]!);
    }
    this.inFlight++;
    this.publisherFor(service, cfg)
      .publish(node, ids[0]!, payload)
      .then(
        () => {
          try {
            this.o.outbox.ack(ids);
            this.forgetGroup(ids);
            this.stats.published += recs.length;
            if (this.failures > 1) this.log.info('publishing again after failures', { node, failures: this.failures });
            this.failures = 0;
            for (const r of recs) this.o.onPublished?.(r);
          } finally {
            this.settled();
          }
        },
        (e: unknown) => {
          try {
            this.failed(recs, node, e);
          } finally {
            this.settled();
          }
        },
      );
  }

  /** A publish answered (either way): its window slot is free (no .finally promise per item). */
  private settled(): void {
    this.inFlight--;
    this.wake?.();
  }

  /** Node config for a node, from the thing that maps to it (the last known mapping). */
  private readonly nodeConfigs = new Map<string, NodeConfig>();
  /** Per thing: its node, outbox key and batching, as targetFor and batchingFor said last. */
  private readonly routes = new Map<string, { key: string; batching: Batching }>();
  private readonly configJson = new WeakMap<NodeConfig, string>();
  /** (Re)reads a thing's target and batching: at start and when the thing changed. */
  registerTarget(thingId: string): ThingTarget {
    const t = this.o.targetFor(thingId);
    const key = t.service + KEY_SEP + t.node;
    this.nodeConfigs.set(key, t.config);
    this.routes.set(thingId, { key, batching: this.o.batchingFor?.(thingId) ?? DEFAULT_BATCHING });
    return t;
  }

  private configFor(service: string, node: string): NodeConfig {
    return this.nodeConfigs.get(service + KEY_SEP + node) ?? {};
  }

  private failed(recs: OutboxRecord[], node: string, e: unknown): void {
    const rec = recs[0]!;
    const stanza = errorStanzaOf(e);
    const err = stanza ? StanzaError.fromStanza(stanza) : undefined;
    if (err && err.type !== 'wait') {
      // The service refuses this item for good (forbidden, not-acceptable...): retrying would
      // block every reading behind it. Drop it, loudly.
      this.o.outbox.ack(recs.map((r) => r.id));
      this.forgetGroup(recs.map((r) => r.id));
      this.stats.rejected += recs.length;
      this.log.error(recs.length > 1 ? `the PubSub service refused an item of ${recs.length} readings; they are dropped` : 'the PubSub service refused a reading; it is dropped', { node, item: rec.id, error: (e as Error).message });
      return;
    }
    if (this.stopped) return; // the session is being closed under it: not worth a warning
    // Back off on what the server does (a 'wait' error, no answer), one step per round of
    // retries (a drop fails the whole window at once); a lost connection is the session's
    // business (it reconnects with its own backoff), so its failures resend at once.
    const lostLink = (e as XiotaError)?.code === 'XIOTA_E_DISCONNECTED';
    if (!this.needRequeue && !lostLink) this.failures++;
    this.needRequeue = true;
    // Only the first failure of a run is a warning; the retries behind it are debug noise.
    const hint = err?.condition === 'internal-server-error' || err?.condition === 'resource-constraint'
      ? 'the server could not store the item: check its limits against pubsub.max_items (Prosody: pep_max_items, storage_archive_item_limit)'
      : undefined;
    if (this.failures === 1 && !lostLink) this.log.warn('publish will be retried', { node, item: rec.id, error: (e as Error).message, hint });
    else this.log.debug('publish will be retried', { node, item: rec.id, error: (e as Error).message, failures: this.failures });
  }

  /** Consecutive failed publishes (reset by a success): retries back off on it. */
  private failures = 0;

  /** Pause before a resend: retryDelayMs, doubling while publishes keep failing, at most 60 s. */
  private retryDelay(): number {
    return Math.min(60_000, this.retryDelayMs * 2 ** Math.max(0, Math.min(16, this.failures - 1)));
  }

  get idle(): boolean {
    return this.inFlight === 0 && this.o.outbox.pending === 0 && this.ready.size === 0 && this.held.size === 0;
  }

  stop(): void {
    this.stopped = true;
    for (const { t } of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.dropHeld();
    this.o.session.off('online', this.onOnline);
    this.o.session.off('offline', this.onOffline);
    this.wake?.();
  }
}
