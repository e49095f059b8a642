// XEP-0323 sensor data readout, thing side: `req` -> `accepted` (queued='true' for a scheduled
// readout) or an iq error -> `started` (scheduled only) -> `fields`... -> `done` or `failure`;
// `cancel` -> `cancelled`. The parsing and the answer's stanzas are agent/iot/readout.ts (pure);
// this module samples, keeps the running readouts and sends.
//
// An immediate readout samples before it answers the iq, so `accepted` and the answer leave in
// one burst (accepted waits at most the sample deadline; bench/readout.ts shows why).
// Momentary values are sampled fresh from the driver (DriverHost.readThing) within a deadline;
// a field the sample does not give in time falls back to the last value known, sent with its
// true timestamp and warning='true'. Historical values (historical*, from/to) come from the
// device's own history store (agent/iot/history-readout.ts), after the momentary ones. Peak,
// status, computed and identity readouts are accepted and answered with no fields.
import type { DriverHost } from '../../drivers/host';
import type { Reading, ThingSpec } from '../../drivers/types';
import type { Decision } from '../access';
import type { Access } from '../access-store';
import type { ModuleContext } from '../module';
import { StanzaError, iqResult } from '../session/stanza';
import { Element, x } from '../xml/element';
import {
  DEFAULT_READOUT_LIMITS, NS_SENSORDATA, answerPayloads, parseCancel, parseReq, rejection, selectThings,
  type ReadoutLimits, type ReadoutRequest, type ThingReadout,
} from '../iot/readout';
import { namesHistory, streamHistorical } from '../iot/history-readout';
import { historyFor } from '../history/registry';
import type { HistoryReader } from '../history/store';
import { ScheduledReadouts, toRequest, toScheduled } from '../iot/scheduled';

export { NS_SENSORDATA };

export interface SensorDataDeps {
  drivers: Pick<DriverHost, 'readThing'>;
  access: Pick<Access, 'decide' | 'check'>;
  things(): ThingSpec[];
  latest(): Reading[];
  now(): number;
  /** How long a momentary sample may take before the last known values go instead (default 1000 ms). */
  sampleDeadlineMs?: number;
  /** Readouts running or queued at once, whole agent (default 512) and per requester (default 128). */
  maxActive?: number;
  maxPerRequester?: number;
  /** How far ahead a scheduled readout (`when`) may be (default 7 days). */
  maxAheadMs?: number;
  limits?: ReadoutLimits;
  /** Where historical values come from: this store, else the agent's (by its state directory). */
  history?: HistoryReader;
  stateDir?: string;
  /** Most historical values one readout returns (default 10,000). */
  maxHistoricalValues?: number;
}

interface Running {
  requester: string;
  seqnr: string;
  cancelled: boolean;
  /** Clears the timer of a queued readout. */
  clear?: () => void;
}

/** Resolves with the value, or undefined once `ms` have passed. */
function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(undefined), ms);
    t.unref?.();
    p.then((v) => { clearTimeout(t); resolve(v); }, () => { clearTimeout(t); resolve(undefined); });
  });
}

/** Fresh values where the sample gave them, the last known ones (stale) for the rest. */
function combine(thing: ThingSpec, fresh: Reading | undefined, before: Reading | undefined, deadlineMs: number): ThingReadout {
  if (!fresh) {
    if (before) return { thing, stale: before };
    return { thing, failure: `no value: the driver gave none within ${deadlineMs} ms and none is known from before` };
  }
  const good = fresh.values.filter((v) => v.error === undefined && v.value !== undefined);
  const goodNames = new Set(good.map((v) => v.field));
  const staleValues = (before?.values ?? []).filter((v) => !goodNames.has(v.field) && v.error === undefined && v.value !== undefined);
  const staleNames = new Set(staleValues.map((v) => v.field));
  // A field neither sample gave well keeps the fresh sample's error.
  const freshValues = fresh.values.filter((v) => !staleNames.has(v.field));
  const out: ThingReadout = { thing };
  if (freshValues.length) out.fresh = { ...fresh, values: freshValues };
  if (staleValues.length) out.stale = { thing: thing.id, timestamp: before!.timestamp, values: staleValues };
  return out;
}

export function install(m: ModuleContext, deps: SensorDataDeps): { active(): number } {
  const deadlineMs = deps.sampleDeadlineMs ?? 1000;
  const maxActive = deps.maxActive ?? 512;
  const maxPer = deps.maxPerRequester ?? 128;
  const maxAheadMs = deps.maxAheadMs ?? 7 * 24 * 3600_000;
  const limits = deps.limits ?? DEFAULT_READOUT_LIMITS;
  const running = new Map<string, Running>();
  const perRequester = new Map<string, number>();
  const keyOf = (jid: string, seqnr: string) => `${jid}\u0000${seqnr}`;

  m.addFeature(NS_SENSORDATA);
  // Scheduled readouts outlive a restart: kept in the state directory (agent/iot/scheduled.ts).
  const saved = deps.stateDir !== undefined ? new ScheduledReadouts(deps.stateDir, (msg, f) => m.log.warn(msg, f)) : undefined;

  const finish = (s: Running) => {
    const k = keyOf(s.requester, s.seqnr);
    if (running.get(k) !== s) return;
    running.delete(k);
    void saved?.remove(s.requester, s.seqnr);
    const n = (perRequester.get(s.requester) ?? 1) - 1;
    if (n <= 0) perRequester.delete(s.requester);
    else perRequester.set(s.requester, n);
  };

  const send = (to: string, payload: Element) => m.send(x('message', { to }, payload));

  /** Samples the things (momentary values within the deadline, the last known ones after it). */
  const sample = async (r: ReadoutRequest, things: ThingSpec[]): Promise<ThingReadout[]> => {
    if (!r.kinds.has('momentary')) return [];
    const latest = new Map(deps.latest().map((l) => [l.thing, l]));
    return Promise.all(things.map(async (t) => {
      // Snapshot first: a failed sample replaces the remembered values with its errors.
      const before = latest.get(t.id);
      const fresh = await within(deps.drivers.readThing(t.id), deadlineMs);
      return combine(t, fresh, before, deadlineMs);
    }));
  };

  // Historical answers are built two at a time: each may hold 10,000 values in memory, and
  // hundreds of readouts may be running at once.
  let building = 0;
  const waiting: (() => void)[] = [];
  const oneOfTwo = async <T>(fn: () => Promise<T>): Promise<T> => {
    while (building >= 2) await new Promise<void>((resolve) => waiting.push(resolve));
    building++;
    try { return await fn(); } finally { building--; waiting.shift()?.(); }
  };

  /**
   * Sends the answer: the momentary messages (answerPayloads), then the stored values streamed as
   * they are built (agent/iot/history-readout.ts) when the request names history, then a failure.
   * The end (the last <fields done='true'> or <failure>, and <done/>) travels in one message: one
   * stanza fewer for the server to write (Prosody keeps Nagle on by default, so a stanza written
   * behind an unacknowledged one waits for the reader's delayed ACK; bench/readout.ts).
   */
  const deliver = async (s: Running, r: ReadoutRequest, things: ThingSpec[], explicit: boolean, got: ThingReadout[] | Error): Promise<void> => {
    try {
      if (s.cancelled) return;
      if (got instanceof Error) throw got;
      const momentary = answerPayloads(s.seqnr, got, { fields: r.fields, momentary: r.kinds.has('momentary'), now: deps.now() });
      const history = explicit ? deps.history ?? (deps.stateDir !== undefined ? historyFor(deps.stateDir) : undefined) : undefined;
      if (!history) {
        const end = momentary.splice(-2);
        for (const p of momentary) send(s.requester, p);
        m.send(x('message', { to: s.requester }, ...end));
        return;
      }
      const done = momentary.pop()!;
      const body = momentary.filter((e) => !(e.name === 'fields' && !e.elements.length));
      for (const e of body) delete e.attrs.done;
      const failures = body.filter((e) => e.name === 'failure');
      const fields = body.filter((e) => e.name !== 'failure');
      // The last momentary message waits: it ends the readout when nothing is stored.
      let held = fields.pop();
      for (const p of fields) send(s.requester, p);
      const streamed = await oneOfTwo(() => streamHistorical(s.seqnr, r, explicit, things, history, {
        ends: !failures.length, now: deps.now(), maxValues: deps.maxHistoricalValues,
        cancelled: () => s.cancelled,
        emit: async (p, last) => {
          if (s.cancelled) return;
          if (held) send(s.requester, held);
          held = undefined;
          if (last && !failures.length) m.send(x('message', { to: s.requester }, p, done));
          else send(s.requester, p);
          // Let the socket write it (the connection corks until the next tick) before building more.
          await new Promise((resolve) => setImmediate(resolve));
        },
      }));
      if (s.cancelled) return;
      if (failures.length) {
        if (held) send(s.requester, held);
        for (const f of failures.slice(0, -1)) send(s.requester, f);
        failures[failures.length - 1]!.attrs.done = 'true';
        m.send(x('message', { to: s.requester }, failures[failures.length - 1]!, done));
      } else if (!streamed.messages) {
        // Nothing stored: the momentary answer ends it as it would have alone.
        const last = held ?? x('fields', { xmlns: NS_SENSORDATA, seqnr: s.seqnr });
        last.attrs.done = 'true';
        m.send(x('message', { to: s.requester }, last, done));
      }
    } catch (e) {
      m.log.error('readout failed', { seqnr: s.seqnr, error: e as Error });
      send(s.requester, x('failure', { xmlns: NS_SENSORDATA, seqnr: s.seqnr, done: 'true' },
        x('error', { nodeId: things[0]?.id ?? '', timestamp: new Date(deps.now()).toISOString() }, 'internal error while reading')));
    } finally {
      finish(s);
    }
  };

  const run = (s: Running, r: ReadoutRequest, things: ThingSpec[], explicit: boolean): Promise<void> =>
    sample(r, things).then((p) => deliver(s, r, things, explicit, p), (e: Error) => deliver(s, r, things, explicit, e));

  const forbidden = () => new StanzaError('forbidden', 'reading this device needs the read right: ask one of its owners', { type: 'cancel' });

  /** XEP-0324 'Device Read-out': the provisioning server is asked what the req is about (canRead)
   *  and the readout goes on narrowed to the nodes and fields it grants. */
  const delegatedReq = async (iq: Element, req: Element): Promise<Element | true> => {
    const from = iq.attrs.from ?? '';
    const r = parseReq(req, limits);
    if (r instanceof StanzaError) return rejection(iq, r, req.attrs.seqnr);
    const g = await deps.access.check(from, 'read', { question: 'read', nodes: r.nodes, fields: r.fields, kinds: [...r.kinds] });
    if (!g.allowed) return rejection(iq, forbidden(), r.seqnr);
    return onReq(iq, req, g);
  };

  const onReq = (iq: Element, req: Element, grant?: Decision): Element | Promise<Element | true> => {
    const from = iq.attrs.from ?? '';
    const seq = req.attrs.seqnr;
    // XEP-0323 'Read-out rejected': forbidden before anything else is looked at.
    const d = grant ?? deps.access.decide(from, 'read');
    if (d.delegate) return delegatedReq(iq, req);
    if (!d.allowed) return rejection(iq, forbidden(), seq);
    const r = parseReq(req, limits);
    if (r instanceof StanzaError) return rejection(iq, r, seq);
    const explicit = namesHistory(req);
    if (d.nodes || d.fields) {
      // XEP-0324 'Restricting nodes/fields during read-out': only what was granted (and exists).
      const known = deps.things();
      if (d.nodes) r.nodes = d.nodes.filter((n) => known.some((t) => t.id === n));
      if (d.fields) r.fields = d.fields.filter((f) => known.some((t) => (!r.nodes.length || r.nodes.includes(t.id)) && t.fields.some((tf) => tf.name === f)));
      if ((d.nodes && !r.nodes.length) || (d.fields && !r.fields.length)) return rejection(iq, forbidden(), r.seqnr);
    }
    const things = selectThings(r, deps.things());
    if (things instanceof StanzaError) return rejection(iq, things, r.seqnr);
    const k = keyOf(from, r.seqnr);
    if (running.has(k)) return rejection(iq, new StanzaError('conflict', `readout ${r.seqnr} is still running: use a new seqnr`, { type: 'cancel' }), r.seqnr);
    const mine = perRequester.get(from) ?? 0;
    if (running.size >= maxActive || mine >= maxPer) {
      return rejection(iq, new StanzaError('resource-constraint', `too many readouts at once (${running.size >= maxActive ? `${maxActive} on this device` : `${maxPer} of yours`}): wait for some to finish`, { type: 'wait' }), r.seqnr);
    }
    const now = deps.now();
    if (r.when !== undefined && r.when - now > maxAheadMs) {
      return rejection(iq, new StanzaError('bad-request', `when is more than ${Math.round(maxAheadMs / 86_400_000)} days ahead: schedule it later, closer to the time`, { type: 'modify' }), r.seqnr);
    }
    const s: Running = { requester: from, seqnr: r.seqnr, cancelled: false };
    running.set(k, s);
    perRequester.set(from, mine + 1);
    // A `when` in the past or now is read at once (XEP-0323 'Read-out all': queued only when later).
    const queued = r.when !== undefined && r.when > now;
    if (queued) {
      schedule(s, r, explicit);
      void saved?.add(toScheduled(from, r, explicit));
      return x('accepted', { xmlns: NS_SENSORDATA, seqnr: r.seqnr, queued: 'true' });
    }
    // Sampled first (within the deadline), then <accepted/> and the answer leave in one burst:
    // a server that keeps Nagle on (Prosody does) holds a stanza written apart behind the
    // reader's delayed ACK (bench/readout.ts). Stored values stream after it.
    return (async (): Promise<true> => {
      let parts: ThingReadout[] | Error;
      try { parts = await sample(r, things); } catch (e) { parts = e as Error; }
      m.send(iqResult(iq, x('accepted', { xmlns: NS_SENSORDATA, seqnr: r.seqnr })));
      void deliver(s, r, things, explicit, parts);
      return true;
    })();
  };

  /**
   * A queued readout's timer (it survives reconnects: what it sends waits in the session's
   * queue while offline). The things are chosen when it starts: one may be gone after a restart.
   */
  const schedule = (s: Running, r: ReadoutRequest, explicit: boolean) => {
    s.clear = m.after(Math.max(0, r.when! - deps.now()), () => {
      s.clear = undefined;
      if (s.cancelled) return;
      const things = selectThings(r, deps.things());
      if (things instanceof StanzaError) {
        m.send(x('message', { to: s.requester },
          x('failure', { xmlns: NS_SENSORDATA, seqnr: s.seqnr, done: 'true' }, x('error', { nodeId: r.nodes[0] ?? '', timestamp: new Date(deps.now()).toISOString() }, things.text ?? 'no such node')),
          x('done', { xmlns: NS_SENSORDATA, seqnr: s.seqnr })));
        finish(s);
        return;
      }
      send(s.requester, x('started', { xmlns: NS_SENSORDATA, seqnr: r.seqnr }));
      void run(s, r, things, explicit);
    });
  };

  // Readouts queued before a restart: scheduled again once the session is up (the drivers have
  // started by then); one whose time passed while the agent was down is read at once.
  const restored = saved?.load() ?? [];
  if (restored.length) {
    let done = false;
    m.onSession(() => {
      if (done) return;
      done = true;
      for (const e of restored) {
        const k = keyOf(e.requester, e.seqnr);
        if (running.has(k) || running.size >= maxActive) continue;
        if (!deps.access.decide(e.requester, 'read').allowed && !deps.access.decide(e.requester, 'read').delegate) { void saved?.remove(e.requester, e.seqnr); continue; }
        const s: Running = { requester: e.requester, seqnr: e.seqnr, cancelled: false };
        running.set(k, s);
        perRequester.set(e.requester, (perRequester.get(e.requester) ?? 0) + 1);
        schedule(s, toRequest(e), e.explicit);
      }
      m.log.info('scheduled readouts from before the restart', { count: restored.length });
    });
  }

  const onCancel = (iq: Element, el: Element): Element => {
    const from = iq.attrs.from ?? '';
    const seq = parseCancel(el);
    if (seq instanceof StanzaError) return rejection(iq, seq, undefined);
    const s = running.get(keyOf(from, seq));
    if (!s) return rejection(iq, new StanzaError('item-not-found', `no readout ${seq} of yours is running or queued`), seq);
    s.cancelled = true;
    s.clear?.();
    finish(s);
    return x('cancelled', { xmlns: NS_SENSORDATA, seqnr: seq });
  };

  const handler = (iq: Element) => {
    const p = iq.elements[0]!;
    if (p.name === 'req') return onReq(iq, p);
    if (p.name === 'cancel') return onCancel(iq, p);
    throw new StanzaError('bad-request', `<${p.name}/> is not a XEP-0323 request: send <req/> or <cancel/>`, { type: 'modify' });
  };
  // XEP-0323 sends req and cancel in iq get; some clients use set: take both.
  m.hook(`iq/get/${NS_SENSORDATA}`, handler);
  m.hook(`iq/set/${NS_SENSORDATA}`, handler);
  m.onUnload(() => {
    for (const s of running.values()) { s.cancelled = true; s.clear?.(); }
    running.clear();
    perRequester.clear();
  });
  return { active: () => running.size };
}
