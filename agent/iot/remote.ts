// The agent as a client of other things, through its one XMPP session: XEP-0323 readouts and
// XEP-0325 sets of any thing, and PubSub watches (remote-watch.ts). The local API
// (agent/api/PROTOCOL.md: remote.read, remote.set, pubsub.subscribe) calls this; stanzas and
// errors are remote-stanzas.ts (pure).
//
// A readout: `req` (iq get) -> `accepted` (queued='true' when the thing schedules it) or an iq
// error -> `started` (queued ones) -> `fields` messages -> `done`, or `failure` (XEP-0323 3).
// Messages are matched by seqnr (ours, unique while pending) AND sender (the thing we asked):
// anything else passes on to the thing-side modules, since this agent is a thing too. No word
// from the thing for `timeoutMs` (each message restarts the wait) ends the readout with
// XIOTA_E_TIMEOUT and a `cancel` to the thing. Messages may overtake the iq result (the thing
// sends both): they count as soon as they come.
import type { Value } from '../../drivers/types';
import { XiotaError } from '../errors';
import type { Logger } from '../log';
import type { ModuleContext } from '../module';
import { bareJid, parseJid, StanzaError } from '../session/stanza';
import type { Element } from '../xml/element';
import type { ParamType } from './control-params';
import {
  cancelRequest, failureReading, NS_SENSORDATA, readoutEvents, readoutFailed, readoutRefusal, readoutRequest, RemoteError,
  setRefusal, setRequest, setResultRefusal, type ReadoutFailure, type RemoteNode, type RemoteReading,
} from './remote-stanzas';
import { createWatcher, type RemoteItem } from './remote-watch';

export type { RemoteItem, RemoteNode, RemoteReading };
export { RemoteError };

export interface RemoteReadOptions {
  nodes?: RemoteNode[];
  /** Field names (XEP-0323: a hint to the thing; values of other fields are dropped here too). */
  fields?: string[];
  /** XEP-0323 field types: momentary (the default), peak, status, computed, identity,
   *  historicalSecond ... historicalOther, historical (every historical one), all. */
  types?: string[];
  /** Historical range, ms since the epoch. */
  from?: number;
  to?: number;
  /** Longest silence from the thing before the readout fails (default 10 s). */
  timeoutMs?: number;
}

export interface RemoteSetParams {
  field: string;
  value: Value;
  /** XEP-0325 parameter type; default from the JS type: boolean, int (long beyond 32 bits), double, string. */
  type?: ParamType;
  nodes?: RemoteNode[];
  timeoutMs?: number;
}

export interface Remote {
  /** XEP-0323 readout of another thing (a full JID, or a component's domain JID). */
  read(jid: string, opts: RemoteReadOptions): Promise<RemoteReading[]>;
  /** XEP-0325 set of one parameter of another thing. */
  set(jid: string, p: RemoteSetParams): Promise<void>;
  /** Every item of a PubSub node (of a service, or another account's PEP); resolves once subscribed. */
  watch(jid: string, node: string, cb: (item: RemoteItem) => void): Promise<() => Promise<void>>;
}

export const DEFAULT_REMOTE_TIMEOUT_MS = 10_000;
/** Most values one readout may bring by default (10,000 historical values is a large one): memory stays bounded. */
export const MAX_READOUT_VALUES = 100_000;

interface PendingReadout {
  jid: string;
  bare: string;
  seqnr: string;
  readings: RemoteReading[];
  values: number;
  failures: ReadoutFailure[];
  fields?: Set<string>;
  timeoutMs: number;
  clear: () => void;
  resolve(r: RemoteReading[]): void;
  reject(e: Error): void;
}

/** A JID a request can go to: a full JID (a client's resource answers, not its account), or a domain. */
function requestTarget(jid: unknown, what: string): string {
  let j;
  try {
    j = parseJid(String(jid));
  } catch {
    throw new XiotaError('XIOTA_E_INVALID', `'${String(jid)}' is not a JID: give the thing's full JID, like thing@example.org/resource`, { field: 'jid' });
  }
  if (typeof jid !== 'string' || (j.local !== undefined && j.resource === undefined)) {
    throw new XiotaError('XIOTA_E_INVALID', `${what} goes to a full JID (user@domain/resource): '${String(jid)}' is a bare JID, which its server answers instead of the thing. Take the resource from the thing's presence (a xiota device: account.jid in its config)`, { field: 'jid' });
  }
  return jid;
}

function timeoutOf(ms: number | undefined): number {
  if (ms === undefined) return DEFAULT_REMOTE_TIMEOUT_MS;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) throw new XiotaError('XIOTA_E_INVALID', `timeoutMs must be a positive number of milliseconds, not ${String(ms)}`, { field: 'timeoutMs' });
  return ms;
}

export function createRemote(m: ModuleContext, deps: { now(): number; log: Logger; maxReadoutValues?: number }): Remote {
  const log = deps.log;
  const maxValues = deps.maxReadoutValues ?? MAX_READOUT_VALUES;
  const pending = new Map<string, PendingReadout>();
  // seqnr is an xs:int in the XEP-0323 schema; a random start keeps a restarted agent from
  // reusing the numbers of readouts the thing may still be running for the same JID.
  let nextSeq = 1 + Math.floor(Math.random() * 1_000_000);
  const newSeqnr = (): string => {
    let s: string;
    do {
      s = String(nextSeq);
      nextSeq = nextSeq >= 2_147_483_647 ? 1 : nextSeq + 1;
    } while (pending.has(s));
    return s;
  };
  /** undefined until the first session event: the context may be made while online. */
  let online: boolean | undefined;

  const offlineError = (what: string) => new XiotaError('XIOTA_E_DISCONNECTED', `the XMPP session is offline, so ${what} cannot be sent now: try again when it is back online`);

  const finish = (p: PendingReadout, err?: Error) => {
    if (pending.get(p.seqnr) !== p) return;
    pending.delete(p.seqnr);
    p.clear();
    if (err) return p.reject(err);
    const got = p.readings.filter((r) => r.values.length > 0);
    if (p.failures.length && got.length === 0) return p.reject(readoutFailed(p.jid, p.failures));
    p.resolve([...got, ...p.failures.map((f) => failureReading(p.jid, f, deps.now()))]);
  };

  const arm = (p: PendingReadout) => {
    p.clear();
    p.clear = m.after(p.timeoutMs, () => {
      if (pending.get(p.seqnr) !== p) return;
      // XEP-0323 'Cancelling a scheduled read-out request': the thing may stop working for us.
      m.iq(cancelRequest(p.jid, p.seqnr), p.timeoutMs).catch(() => {});
      finish(p, new XiotaError('XIOTA_E_TIMEOUT', `${p.jid} did not finish the readout within ${p.timeoutMs} ms of silence (seqnr ${p.seqnr}); it was cancelled: check that the thing is online and answers XEP-0323, or give a longer timeout`, { timeout_ms: p.timeoutMs, jid: p.jid, seqnr: p.seqnr }));
    });
  };

  /** The readout a message child answers: its seqnr is pending and the sender is the thing asked
   *  (by bare JID: XEP-0323's examples answer from the device's bare JID). */
  const ownerOf = (el: Element, fromBare: string): PendingReadout | undefined => {
    const p = el.xmlns === NS_SENSORDATA && el.attrs.seqnr !== undefined ? pending.get(el.attrs.seqnr.trim()) : undefined;
    return p && p.bare === fromBare ? p : undefined;
  };

  /** Our readouts' answers; any other XEP-0323 message passes on (return undefined). */
  m.hook(`message/${NS_SENSORDATA}`, (msg: Element) => {
    if (msg.attrs.type === 'error') return undefined;
    const from = msg.attrs.from ?? '';
    const fromBare = bareJid(from);
    // Parsed only when it is ours: the thing-side modules' traffic is not our business.
    if (!msg.elements.some((el) => ownerOf(el, fromBare))) return undefined;
    for (const ev of readoutEvents(msg, from)) {
      const p = pending.get(ev.seqnr);
      if (!p || p.bare !== fromBare) continue;
      if (ev.kind === 'fields') {
        for (const r of ev.readings) {
          // Named as the caller named the thing (it may have given a component's domain JID).
          r.jid = p.jid;
          if (r.thing === from) r.thing = p.jid;
          if (p.fields) r.values = r.values.filter((v) => p.fields!.has(v.field));
          p.readings.push(r);
          p.values += r.values.length;
        }
        if (p.values > maxValues) {
          m.iq(cancelRequest(p.jid, p.seqnr), p.timeoutMs).catch(() => {});
          finish(p, new RemoteError({ jid: p.jid, stage: 'readout', condition: 'resource-constraint', message: `${p.jid} sent more than ${maxValues} values for one readout, so it was cancelled: narrow it with nodes, fields, types or from/to` }));
          continue;
        }
        if (ev.done) finish(p);
        else arm(p);
      } else if (ev.kind === 'failure') {
        p.failures.push(...ev.failures);
        if (ev.done) finish(p);
        else arm(p);
      } else if (ev.kind === 'done') {
        finish(p);
      } else {
        arm(p);
      }
    }
    return true;
  }, 10);

  m.onSession((info) => {
    online = true;
    if (info.resumed) return;
    // A new session: answers addressed to the old one are lost.
    for (const p of [...pending.values()]) finish(p, new XiotaError('XIOTA_E_DISCONNECTED', `the XMPP session was replaced while ${p.jid} was answering readout ${p.seqnr}: read again`, { jid: p.jid, seqnr: p.seqnr }));
  });
  m.onOffline(() => { online = false; });
  m.onUnload(() => {
    for (const p of [...pending.values()]) finish(p, new XiotaError('XIOTA_E_DISCONNECTED', 'the agent is stopping: the readout was abandoned'));
  });

  const watcher = createWatcher(m, { log, offline: () => online === false });

  return {
    read(jid, opts = {}) {
      let req: Element;
      let p: PendingReadout;
      try {
        const to = requestTarget(jid, 'A XEP-0323 readout');
        const timeoutMs = timeoutOf(opts?.timeoutMs);
        if (online === false) throw offlineError(`the readout of ${to}`);
        const seqnr = newSeqnr();
        req = readoutRequest(to, seqnr, opts ?? {});
        const fields = opts?.fields?.length ? new Set(opts.fields) : undefined;
        p = { jid: to, bare: bareJid(to), seqnr, readings: [], values: 0, failures: [], fields, timeoutMs, clear: () => {}, resolve: () => {}, reject: () => {} };
      } catch (e) {
        return Promise.reject(e);
      }
      return new Promise<RemoteReading[]>((resolve, reject) => {
        p.resolve = resolve;
        p.reject = reject;
        pending.set(p.seqnr, p);
        arm(p);
        m.iq(req, p.timeoutMs).then((result) => {
          if (pending.get(p.seqnr) !== p) return;
          const acc = result.getChild('accepted', NS_SENSORDATA);
          // XEP-0323 'Read-out all': queued='true' means a started message comes first.
          if (acc?.attrs.queued === 'true') log.debug('readout queued by the thing', { jid: p.jid, seqnr: p.seqnr });
          arm(p);
        }, (e: Error) => {
          if (e instanceof StanzaError) return finish(p, readoutRefusal(p.jid, e));
          if (e instanceof XiotaError && e.code === 'XIOTA_E_TIMEOUT') return; // our own timer says it
          finish(p, e);
        });
      });
    },

    async set(jid, params) {
      const to = requestTarget(jid, 'A XEP-0325 set');
      const timeoutMs = timeoutOf(params?.timeoutMs);
      const req = setRequest(to, params);
      if (online === false) throw offlineError(`the set of ${params.field} on ${to}`);
      let result: Element;
      try {
        result = await m.iq(req, timeoutMs);
      } catch (e) {
        if (e instanceof StanzaError) throw setRefusal(to, e);
        if (e instanceof XiotaError && e.code === 'XIOTA_E_TIMEOUT') {
          throw new XiotaError('XIOTA_E_TIMEOUT', `${to} did not answer the set of ${params.field} within ${timeoutMs} ms: the value may or may not be set; read it back before trying again`, { timeout_ms: timeoutMs, jid: to, field: params.field }, { cause: e });
        }
        throw e;
      }
      const refused = setResultRefusal(to, result);
      if (refused) throw refused;
    },

    watch: (jid, node, cb) => watcher.watch(jid, node, cb),
  };
}
