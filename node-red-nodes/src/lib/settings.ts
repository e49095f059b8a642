// Node settings and message overrides to API requests, pure: the rules every node follows
// (config wins where set, a blank config field reads msg.xiota.*), tested without Node-RED.
import type { SubscribeParams } from './link';
import { parseList, pick } from './mappers';

export function str(v: unknown): string {
  return typeof v === 'string' ? v.trim() : '';
}

/** The overrides a message may carry: msg.xiota.{jid,thing,field}; msg.topic as the field where `topicIsField`. */
export function overrides(msg: Record<string, unknown>, topicIsField = false): { jid?: unknown; thing?: unknown; field?: unknown } {
  const x = typeof msg.xiota === 'object' && msg.xiota !== null ? (msg.xiota as Record<string, unknown>) : {};
  return { jid: x.jid, thing: x.thing, field: x.field ?? (topicIsField ? msg.topic : undefined) };
}

/** xiota-in: its settings as a subscription, or what is missing. */
export function subscriptionFromConfig(def: Record<string, unknown>): SubscribeParams | { error: string } {
  if (def.source === 'remote') {
    const jid = str(def.jid);
    const node = str(def.node);
    if (!jid || !node) return { error: 'a remote source needs the JID and its PubSub node (e.g. urn:xiota:greenhouse)' };
    return { kind: 'pubsub', jid, node };
  }
  const thing = str(def.thing);
  const field = str(def.field);
  if (field && !thing) return { error: 'a field needs its thing' };
  return { kind: 'local', ...(thing ? { thing } : {}), ...(field ? { field } : {}) };
}

export type ApiCall = { method: string; params: Record<string, unknown> };

/**
 * xiota-read: `read` of the local agent, or `remote.read` (XEP-0323 readout) of a full JID.
 * For a remote JID, `thing` lists node ids (comma separated) and `field` field names.
 */
export function readRequest(def: Record<string, unknown>, msg: Record<string, unknown>): ApiCall | { error: string } {
  const o = overrides(msg);
  const jid = pick(str(def.jid), o.jid);
  const thing = pick(str(def.thing), o.thing);
  const field = pick(str(def.field), o.field);
  if (jid) {
    if (!/^[^@/\s]+@[^/\s]+\/\S+$/.test(jid)) return { error: `readout target ${JSON.stringify(jid)} must be a full JID (user@host/resource): XEP-0323 readouts go to a connected resource` };
    const nodes = parseList(thing).map((nodeId) => ({ nodeId }));
    const fields = parseList(field);
    return { method: 'remote.read', params: { jid, types: ['momentary'], ...(nodes.length ? { nodes } : {}), ...(fields.length ? { fields } : {}) } };
  }
  if (field && !thing) return { error: `field ${field} needs its thing (set the node's Thing or msg.xiota.thing)` };
  return { method: 'read', params: { ...(thing ? { thing } : {}), ...(field ? { field } : {}), fresh: def.fresh === true || def.fresh === 'true' } };
}

/**
 * xiota-control: `set` of a local field, or `remote.set` (XEP-0325) of a field of a full JID.
 * The value is computed by the node (msg.payload or its typed input).
 */
export function controlRequest(def: Record<string, unknown>, msg: Record<string, unknown>, value: unknown): ApiCall | { error: string } {
  const o = overrides(msg, true);
  const jid = pick(str(def.jid), o.jid);
  const thing = pick(str(def.thing), o.thing);
  const field = pick(str(def.field), o.field);
  if (!field) return { error: 'no field to set: set the node\'s Field, msg.topic or msg.xiota.field' };
  if (jid) {
    if (!/^[^@/\s]+@[^/\s]+\/\S+$/.test(jid)) return { error: `control target ${JSON.stringify(jid)} must be a full JID (user@host/resource): XEP-0325 sets go to a connected resource` };
    const type = str(def.valueType);
    return { method: 'remote.set', params: { jid, field, value, ...(type && type !== 'auto' ? { type } : {}), ...(thing ? { nodes: [{ nodeId: thing }] } : {}) } };
  }
  if (!thing) return { error: `no thing for field ${field}: set the node's Thing or msg.xiota.thing` };
  return { method: 'set', params: { thing, field, value } };
}
