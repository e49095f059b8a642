// The `api` driver: things declared at run time by local API clients (a Node-RED flow, a
// script), agent/api/PROTOCOL.md `thing.declare`. Their readings come from the client
// (`thing.publish`) and go through the DriverHost like any driver's (checks, pipeline, durable
// outbox, PEP node, XEP-0323, presence, alerts); sets of their writable fields (chat, ad-hoc,
// XEP-0325, another API client) are handed to the client that holds the thing, which answers.
//
// A thing stays declared when its client goes away (its node and history remain, and the
// declarations are kept in `api-things.json` in the state directory across restarts); until a
// client declares it again its fields read as failed and sets are refused.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Driver, DriverContext, FieldSpec, FieldType, Reading, ThingSpec, Value } from './types';
import { XiotaError } from '../agent/errors';

/** Whoever answers sets for a thing: one API client. */
export interface ThingHolder {
  set(thing: string, field: string, value: Value, from?: string): Promise<void>;
}

const FIELD_TYPES: readonly FieldType[] = ['numeric', 'int', 'boolean', 'string', 'enum'];
/** Thing ids become PubSub node name suffixes and chat words: the config's rule for `things:` keys. */
export const THING_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const FIELD_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

export const NOT_CONNECTED = (thing: string) => `the flow that defines thing "${thing}" is not connected: start it (or its Node-RED flow) again`;

/** A declared thing from untyped input (an API request, the state file): the spec, or what is wrong
 *  as `{field, message}` with `field` the param path (`fields[2].type`). Pure. */
export function checkThingSpec(raw: unknown): ThingSpec | { field: string; message: string } {
  if (!raw || typeof raw !== 'object') return { field: 'params', message: 'a thing is an object {id, name?, fields: [...]}' };
  const r = raw as Record<string, unknown>;
  if (typeof r.id !== 'string' || !THING_ID_RE.test(r.id) || r.id.length > 64) return { field: 'id', message: `"id" must be a thing id of letters, digits, ".", "_", "-" (at most 64), got ${JSON.stringify(r.id)}` };
  if (r.name !== undefined && typeof r.name !== 'string') return { field: 'name', message: '"name" must be a string' };
  if (!Array.isArray(r.fields) || r.fields.length === 0) return { field: 'fields', message: '"fields" must be a non-empty list of {name, type, unit?, writable?, ...}' };
  const fields: FieldSpec[] = [];
  const seen = new Set<string>();
  for (const [i, f] of (r.fields as unknown[]).entries()) {
    const at = `fields[${i}]`;
    if (!f || typeof f !== 'object') return { field: at, message: `${at} must be an object {name, type}` };
    const o = f as Record<string, unknown>;
    if (typeof o.name !== 'string' || !FIELD_NAME_RE.test(o.name)) return { field: `${at}.name`, message: `${at}.name must be letters, digits, "_" or "-", got ${JSON.stringify(o.name)}` };
    if (seen.has(o.name)) return { field: `${at}.name`, message: `field "${o.name}" is declared twice` };
    seen.add(o.name);
    if (!FIELD_TYPES.includes(o.type as FieldType)) return { field: `${at}.type`, message: `${at}.type must be one of ${FIELD_TYPES.join(', ')}, got ${JSON.stringify(o.type)}` };
    const spec: FieldSpec = { name: o.name, type: o.type as FieldType };
    if (o.unit !== undefined) { if (typeof o.unit !== 'string') return { field: `${at}.unit`, message: `${at}.unit must be a string like "°C"` }; spec.unit = o.unit; }
    if (o.writable !== undefined) { if (typeof o.writable !== 'boolean') return { field: `${at}.writable`, message: `${at}.writable must be true or false` }; spec.writable = o.writable; }
    for (const k of ['precision', 'min', 'max'] as const) {
      if (o[k] === undefined) continue;
      if (typeof o[k] !== 'number' || !Number.isFinite(o[k])) return { field: `${at}.${k}`, message: `${at}.${k} must be a number` };
      spec[k] = o[k] as number;
    }
    if (spec.min !== undefined && spec.max !== undefined && spec.min > spec.max) return { field: `${at}.min`, message: `${at}.min is above its max` };
    if (spec.type === 'enum') {
      if (!Array.isArray(o.values) || o.values.length === 0 || o.values.some((v) => typeof v !== 'string')) return { field: `${at}.values`, message: `${at} is an enum: give "values", a list of strings` };
      spec.values = o.values as string[];
    }
    fields.push(spec);
  }
  const spec: ThingSpec = { id: r.id, fields };
  if (typeof r.name === 'string' && r.name) spec.name = r.name;
  return spec;
}

export interface ApiDriverOptions {
  /** Where `api-things.json` lives; absent: declarations are not kept across restarts. */
  stateDir?: string;
  id?: string;
  now?: () => number;
}

export class ApiDriver implements Driver {
  readonly kind = 'api';
  readonly id: string;
  private ctx?: DriverContext;
  private readonly specs = new Map<string, ThingSpec>();
  private readonly holders = new Map<string, ThingHolder>();
  private readonly now: () => number;
  /** Set by the agent while a reading of ours passes through it: resolves once it is in the outbox. */
  lastAccepted?: Promise<void>;

  constructor(private readonly o: ApiDriverOptions = {}) {
    this.id = o.id ?? 'api';
    this.now = o.now ?? Date.now;
  }

  things(): ThingSpec[] {
    return [...this.specs.values()];
  }

  async start(ctx: DriverContext): Promise<void> {
    this.ctx = ctx;
    if (!this.o.stateDir) return;
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(this.file(), 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') ctx.log.warn('flow-defined things could not be read back; they come back when their flows declare them', { file: this.file(), error: (e as Error).message });
      return;
    }
    for (const t of Array.isArray(raw) ? raw : []) {
      const spec = checkThingSpec(t);
      if ('id' in spec) this.specs.set(spec.id, spec);
    }
  }

  async stop(): Promise<void> {
    this.ctx = undefined;
  }

  /** Is someone connected to answer for this thing? */
  held(thing: string): boolean {
    return this.holders.has(thing);
  }

  holderOf(thing: string): ThingHolder | undefined {
    return this.holders.get(thing);
  }

  /** Declares (or re-declares) a thing held by `holder`. A different spec is a schema change. */
  declare(spec: ThingSpec, holder: ThingHolder): void {
    const old = this.specs.get(spec.id);
    this.holders.set(spec.id, holder);
    if (old && JSON.stringify(old) === JSON.stringify(spec)) return;
    this.specs.set(spec.id, spec);
    this.save();
    this.ctx?.thingsChanged();
  }

  remove(thing: string): boolean {
    if (!this.specs.delete(thing)) return false;
    this.holders.delete(thing);
    this.save();
    this.ctx?.thingsChanged();
    return true;
  }

  /** The holder went away: its things stay declared, read as failed, and refuse sets. */
  release(holder: ThingHolder): string[] {
    const gone: string[] = [];
    for (const [thing, h] of this.holders) if (h === holder) gone.push(thing);
    for (const thing of gone) {
      this.holders.delete(thing);
      const spec = this.specs.get(thing);
      if (spec) this.ctx?.emit({ thing, timestamp: this.now(), values: spec.fields.map((f) => ({ field: f.name, error: NOT_CONNECTED(thing) })) });
    }
    return gone;
  }

  /** A reading from the holder, through the host's checks; resolves once it is in the outbox. */
  publish(r: Reading): Promise<void> {
    if (!this.ctx) return Promise.reject(new XiotaError('XIOTA_E_DRIVER', 'the agent is not running: start it before publishing'));
    this.lastAccepted = undefined;
    this.ctx.emit(r);
    const p = this.lastAccepted ?? Promise.resolve();
    this.lastAccepted = undefined;
    return p;
  }

  async set(thing: string, field: string, value: Value, from?: string): Promise<void> {
    const h = this.holders.get(thing);
    if (!h) throw new XiotaError('XIOTA_E_DRIVER', NOT_CONNECTED(thing), { thing });
    await h.set(thing, field, value, from);
    // The flow said it applied the value: that is the field's value now (XEP-0325 reads it
    // back, PubSub gets it), until the flow publishes another.
    this.ctx?.emit({ thing, timestamp: this.now(), values: [{ field, value }] });
  }

  private file(): string {
    return join(this.o.stateDir!, 'api-things.json');
  }

  private save(): void {
    if (!this.o.stateDir) return;
    try {
      const tmp = this.file() + '.tmp';
      writeFileSync(tmp, JSON.stringify(this.things(), null, 1), { mode: 0o640 });
      renameSync(tmp, this.file());
    } catch (e) {
      this.ctx?.log.warn('flow-defined things could not be saved; they come back when their flows declare them', { error: (e as Error).message });
    }
  }
}
