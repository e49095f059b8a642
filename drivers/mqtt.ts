// Things fed by an MQTT broker (the mqtt package): subscribe to topics and map JSON or plain
// payloads to fields — Tasmota (`tele/<dev>/SENSOR`, `StatusSNS.BME280.Temperature`),
// ESPHome (`<node>/sensor/<name>/state`, plain payload), zigbee2mqtt (`zigbee2mqtt/<name>`,
// `temperature`). Writable fields publish to a command topic. mqtt.js reconnects by itself
// and resubscribes; we report the link going down and coming back as faults / log lines.
// mqtt is loaded when a broker is first contacted, so an agent without an mqtt driver does
// not pay its memory (see bench/rss.ts).
import type { MqttClient } from 'mqtt';
type MqttModule = typeof import('mqtt');
import type { Driver, DriverContext, FieldValue, ThingSpec, Value } from './types';
import { XiotaError } from '../agent/errors';
import { fieldSpecOf, mapFields, mapJson, tryJson, type MappedField } from './lines';
import { errorText } from './values';

export interface MqttFieldOptions extends MappedField {
  /** Topic this field comes from (default: the thing's topic). */
  topic?: string;
  /** Where a set is published (`cmnd/plug/POWER`, `zigbee2mqtt/plug/set`). */
  commandTopic?: string;
  /** Set payload as a JSON object with this key (`state` → {"state":"ON"}); default plain. */
  commandKey?: string;
  /** Payloads for booleans on set (default `ON` / `OFF`, as Tasmota and zigbee2mqtt use). */
  payloadOn?: string;
  payloadOff?: string;
}

export interface MqttThingOptions {
  id: string;
  name?: string;
  /** Default topic of the thing's fields. */
  topic?: string;
  fields: MqttFieldOptions[];
}

export interface MqttOptions {
  /** `mqtt://host:1883` or `mqtts://...`. */
  url: string;
  username?: string;
  password?: string;
  clientId?: string;
  /** How long start() waits for the first connection (default 10 s). */
  connectTimeoutMs?: number;
  /** Delay between reconnect attempts (default 2 s). */
  reconnectMs?: number;
  things: MqttThingOptions[];
}

/** MQTT 3.1.1 4.7: `+` matches one level, `#` the rest. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * Maps one payload to the fields that listen on its topic. A JSON object payload is read by
 * path; anything else (ESPHome `21.5`, Tasmota `ON`) is the value of a field without a path.
 */
export function mapPayload(payload: Buffer | string, fields: MappedField[]): { ok: true; values: FieldValue[] } | { ok: false; error: string } {
  const text = typeof payload === 'string' ? payload : payload.toString('utf8');
  if (text.includes('\uFFFD') || /[\u0000-\u0008\u000e-\u001f]/.test(text)) return { ok: false, error: 'payload is binary, not text' };
  const j = tryJson(text);
  if (j.ok && j.value !== null && typeof j.value === 'object' && !Array.isArray(j.value)) {
    const values = mapJson(j.value, fields.filter((f) => f.path !== undefined && f.path !== ''));
    // A field without a path on a JSON topic takes the whole payload: refuse it clearly.
    for (const f of fields) if (f.path === undefined || f.path === '') values.push({ field: f.name, error: 'payload is a JSON object; give this field a `path`' });
    return values.length ? { ok: true, values } : { ok: false, error: `JSON payload has none of the mapped paths (${fields.map((f) => f.path ?? f.name).join(', ')})` };
  }
  const plain = fields.filter((f) => f.path === undefined || f.path === '');
  if (plain.length === 0) return { ok: false, error: `payload ${JSON.stringify(text.slice(0, 40))} is not a JSON object` };
  const scalar = j.ok && (typeof j.value === 'number' || typeof j.value === 'boolean' || typeof j.value === 'string') ? j.value : text;
  return { ok: true, values: mapFields(() => scalar, plain) };
}

export class MqttDriver implements Driver {
  readonly kind = 'mqtt';
  private client?: MqttClient;
  private ctx?: DriverContext;
  private readonly subs: string[];
  private online = false;

  constructor(readonly id: string, private readonly opts: MqttOptions, private readonly now: () => number = Date.now) {
    const topics = new Set<string>();
    for (const t of opts.things) {
      for (const f of t.fields) {
        const topic = f.topic ?? t.topic;
        if (!topic) throw new XiotaError('XIOTA_E_CONFIG', `mqtt driver ${id}: field ${t.id}/${f.name} has no topic (set \`topic\` on the thing or the field)`, { thing: t.id, field: f.name });
        topics.add(topic);
      }
    }
    this.subs = [...topics];
  }

  things(): ThingSpec[] {
    return this.opts.things.map((t) => ({ id: t.id, ...(t.name ? { name: t.name } : {}), fields: t.fields.map(fieldSpecOf) }));
  }

  start(ctx: DriverContext): Promise<void> {
    this.ctx = ctx;
    return new Promise<void>((resolve, reject) => {
      const mqtt = require('mqtt') as MqttModule;
      const client = mqtt.connect(this.opts.url, {
        ...(this.opts.username !== undefined ? { username: this.opts.username } : {}),
        ...(this.opts.password !== undefined ? { password: this.opts.password } : {}),
        clientId: this.opts.clientId ?? `xiota-${this.id}-${Math.random().toString(16).slice(2, 10)}`,
        reconnectPeriod: this.opts.reconnectMs ?? 2000,
        connectTimeout: this.opts.connectTimeoutMs ?? 10_000,
        resubscribe: true,
      });
      this.client = client;
      let first = true;
      const timer = setTimeout(() => {
        if (!first) return;
        first = false;
        client.end(true);
        reject(new XiotaError('XIOTA_E_CONNECT', `mqtt driver ${this.id}: no connection to ${this.opts.url} within ${this.opts.connectTimeoutMs ?? 10_000} ms (is the broker running?)`, { url: this.opts.url }));
      }, this.opts.connectTimeoutMs ?? 10_000);
      client.on('connect', () => {
        if (!this.online && !first) ctx.log.info('mqtt reconnected', { url: this.opts.url });
        this.online = true;
        // Subscribe on every connect: a broker restarted without persistence forgot us.
        client.subscribe(this.subs, { qos: 0 }, (err) => {
          if (err) ctx.fault(`mqtt driver ${this.id}: subscribe failed: ${err.message}`);
          if (first) {
            first = false;
            clearTimeout(timer);
            if (err) { client.end(true); reject(new XiotaError('XIOTA_E_CONNECT', `mqtt driver ${this.id}: subscribe failed: ${err.message}`, {})); } else resolve();
          }
        });
      });
      client.on('offline', () => {
        if (this.online) ctx.fault(`mqtt driver ${this.id}: lost the connection to ${this.opts.url}; reconnecting every ${this.opts.reconnectMs ?? 2000} ms`);
        this.online = false;
      });
      client.on('error', (err) => {
        if (first) return; // reported by the timeout above with the full context
        ctx.fault(`mqtt driver ${this.id}: ${errorText(err)}`);
      });
      client.on('message', (topic, payload) => this.onMessage(topic, payload));
    });
  }

  async stop(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    this.online = false;
    if (c) await new Promise<void>((resolve) => c.end(true, {}, () => resolve()));
  }

  async set(thing: string, field: string, value: Value): Promise<void> {
    const t = this.opts.things.find((x) => x.id === thing);
    const f = t?.fields.find((x) => x.name === field);
    if (!f || !f.writable || !f.commandTopic) {
      throw new XiotaError('XIOTA_E_DRIVER', `mqtt driver ${this.id}: ${thing}/${field} is not writable (it needs \`writable: true\` and a \`commandTopic\`)`, { thing, field });
    }
    const client = this.client;
    if (!client?.connected) throw new XiotaError('XIOTA_E_DRIVER', `mqtt driver ${this.id}: not connected to ${this.opts.url}; try again when it is back`, {});
    const v = typeof value === 'boolean' ? (value ? (f.payloadOn ?? 'ON') : (f.payloadOff ?? 'OFF')) : value;
    const payload = f.commandKey ? JSON.stringify({ [f.commandKey]: v }) : String(v);
    await client.publishAsync(f.commandTopic, payload, { qos: 1 });
  }

  private onMessage(topic: string, payload: Buffer): void {
    const ctx = this.ctx;
    if (!ctx) return;
    for (const t of this.opts.things) {
      const fields = t.fields.filter((f) => topicMatches(f.topic ?? t.topic ?? '', topic));
      if (fields.length === 0) continue;
      const r = mapPayload(payload, fields);
      if (!r.ok) {
        ctx.fault(`mqtt driver ${this.id}: topic ${topic}: ${r.error}`, { topic });
        continue;
      }
      if (r.values.length) ctx.emit({ thing: t.id, timestamp: this.now(), values: r.values });
    }
  }
}

export function createMqttDriver(id: string, options: MqttOptions, deps: { now?: () => number } = {}): Driver {
  return new MqttDriver(id, options, deps.now);
}
