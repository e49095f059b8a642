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
import { NS_SENSORDATA, readingToFields } from '../xep/sensordata-fields';
import type { NodeConfig } from '../xep/pubsub';
import { ItemIdAllocator } from './item-id';
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
}

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
  private readonly timers = new Map<string, NodeJS.Timeout>();
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
    if (old) clearTimeout(old);
    const due = policy.nextDueAt();
    if (due === undefined || this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(thing);
      const d = policy.tick(this.now());
      if (d.publish) void this.accept(d.reading);
      this.armTimer(thing, policy);
    }, Math.max(0, due - this.now()));
    t.unref();
    this.timers.set(thing, t);
  }

  /** Puts a reading in the outbox; resolves once it is accepted (on disk, or held in memory when the disk fails). */
  async accept(reading: Reading): Promise<void> {
    const spec = this.o.thing(reading.thing);
    if (!spec) {
      this.log.warn('reading for an unknown thing dropped', { thing: reading.thing });
      return;
    }
    const target = this.registerTarget(reading.thing);
    const id = this.ids.next(reading.timestamp);
    const payload = readingToFields(reading, spec).toString();
    const written = this.o.outbox.append({ key: target.service + KEY_SEP + target.node, id, payload });
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
    const k = service + KEY_SEP + JSON.stringify(config);
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
        this.o.outbox.requeueInFlight();
        this.needRequeue = false;
      }
      const recs = await this.o.outbox.take(this.window - this.inFlight);
      if (recs.length === 0) {
        await this.sleep();
        continue;
      }
      for (const rec of recs) this.send(rec);
    }
  }

  private send(rec: OutboxRecord): void {
    const sep = rec.key.indexOf(KEY_SEP);
    const service = rec.key.slice(0, sep);
    const node = rec.key.slice(sep + 1);
    const payload = rawElement('fields', NS_SENSORDATA, rec.payload.toString('utf8'));
    const cfg = this.configFor(service, node);
    this.inFlight++;
    this.publisherFor(service, cfg)
      .publish(node, rec.id, payload)
      .then(
        () => {
          this.o.outbox.ack([rec.id]);
          this.stats.published++;
          if (this.failures > 1) this.log.info('publishing again after failures', { node, failures: this.failures });
          this.failures = 0;
          this.o.onPublished?.(rec);
        },
        (e: unknown) => this.failed(rec, node, e),
      )
      .finally(() => {
        this.inFlight--;
        this.wake?.();
      });
  }

  /** Node config for a node, from the thing that maps to it (the last known mapping). */
  private readonly nodeConfigs = new Map<string, NodeConfig>();
  registerTarget(thingId: string): ThingTarget {
    const t = this.o.targetFor(thingId);
    this.nodeConfigs.set(t.service + KEY_SEP + t.node, t.config);
    return t;
  }

  private configFor(service: string, node: string): NodeConfig {
    return this.nodeConfigs.get(service + KEY_SEP + node) ?? {};
  }

  private failed(rec: OutboxRecord, node: string, e: unknown): void {
    const stanza = errorStanzaOf(e);
    const err = stanza ? StanzaError.fromStanza(stanza) : undefined;
    if (err && err.type !== 'wait') {
      // The service refuses this item for good (forbidden, not-acceptable...): retrying would
      // block every reading behind it. Drop it, loudly.
      this.o.outbox.ack([rec.id]);
      this.stats.rejected++;
      this.log.error('the PubSub service refused a reading; it is dropped', { node, item: rec.id, error: (e as Error).message });
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
    return this.inFlight === 0 && this.o.outbox.pending === 0;
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.o.session.off('online', this.onOnline);
    this.o.session.off('offline', this.onOffline);
    this.wake?.();
  }
}
