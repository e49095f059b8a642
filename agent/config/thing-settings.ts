// Per-thing settings with the overrides under `things:` merged over the defaults, in the
// shapes the publishing and PubSub modules take, so they need not know the config layout.
import type { PolicyOptions } from '../publish/policy';
import type { Batching } from '../publish/pipeline';
import type { AccessModel, Config, SendLastPublishedItem } from './types';

/** Publish policy of one thing: thing override > `publish:` default; fields may override deadband. */
export function publishPolicyFor(config: Config, thingId: string): PolicyOptions {
  const o = config.things[thingId]?.publish;
  const minS = o?.minIntervalS ?? config.publish.minIntervalS;
  const maxS = o?.maxIntervalS ?? config.publish.maxIntervalS;
  const out: PolicyOptions = { deadband: o?.deadband ?? config.publish.deadband, minIntervalMs: Math.round(minS * 1000) };
  // max_interval_s: 0 means no heartbeat.
  if (maxS > 0) out.maxIntervalMs = Math.round(maxS * 1000);
  const deadbands: Record<string, number> = {};
  for (const [field, f] of Object.entries(o?.fields ?? {})) if (f.deadband !== undefined) deadbands[field] = f.deadband;
  if (Object.keys(deadbands).length) out.deadbands = deadbands;
  return out;
}

/** Waiting readings per item without batch_s (bench/publish.ts, one thing: a burst 1.5-2.5x the readings/s of one per item). */
export const DEFAULT_MAX_READINGS = 16;

/** How one thing's waiting readings share items: `publish.batch_s` and `max_readings_per_item`, thing override first. */
export function batchingFor(config: Config, thingId: string): Batching {
  const o = config.things[thingId]?.publish;
  const batchMs = Math.round((o?.batchS ?? config.publish.batchS) * 1000);
  // Readings already waiting together (a burst, a backlog after a reconnect) share an item,
  // up to 16 (64 with batch_s); a reading that comes alone goes alone at once, so latency is
  // unchanged. Crash-safe: the readings recovered after a crash go one per item (pipeline).
  return { batchMs, maxReadings: o?.maxReadingsPerItem ?? config.publish.maxReadingsPerItem ?? (batchMs > 0 ? 64 : DEFAULT_MAX_READINGS) };
}

export interface ThingPubsub {
  /** 'pep' or a PubSub service JID. */
  service: string;
  node: string;
  maxItems: number;
  persistItems: boolean;
  accessModel: AccessModel;
  sendLastPublishedItem: SendLastPublishedItem;
}

/** Where one thing's readings are published and with which node configuration (XEP-0060 16.4.3). */
export function pubsubFor(config: Config, thingId: string): ThingPubsub {
  const t = config.things[thingId];
  const p = t?.pubsub;
  return {
    service: t?.service ?? config.pubsub.service,
    node: t?.node ?? config.pubsub.nodePrefix + thingId,
    maxItems: p?.maxItems ?? config.pubsub.maxItems,
    persistItems: p?.persistItems ?? config.pubsub.persistItems,
    accessModel: p?.accessModel ?? config.pubsub.accessModel,
    sendLastPublishedItem: p?.sendLastPublishedItem ?? config.pubsub.sendLastPublishedItem,
  };
}
