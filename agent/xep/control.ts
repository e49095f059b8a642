// XEP-0325 control, thing side: `set` by iq (answered) and by message (never answered, XEP-0325
// 'Sending a control command using a message stanza'), typed parameters or a submitted control
// form, and `getForm`. Only controllers may set; a refused or malformed set changes nothing.
// Every parameter is checked before any is applied; a driver that fails part-way stops the set
// there, and each parameter not set gets its paramError. A set goes through the driver, then the
// thing is read back (DriverHost.readThing, fresh, delivered like a poll) so the new value
// reaches PubSub at once through the publish pipeline.
//
// Answers carry slixmpp 1.8.3's compatible extras: `<setResponse responseCode='OK'/>` on
// success, and beside the iq `<error/>` a `<setResponse responseCode=...>` naming the failed
// parameters, which its xep_0325 client reads.
import type { DriverHost } from '../../drivers/host';
import type { Reading, ThingSpec, Value } from '../../drivers/types';
import { checkValue } from '../../drivers/values';
import type { Decision } from '../access';
import type { Access } from '../access-store';
import type { ModuleContext } from '../module';
import { StanzaError, errorReply } from '../session/stanza';
import { Element, x } from '../xml/element';
import {
  NS_CONTROL, controlForm, formField, formParams, parseSet, resolve, scopeThings, toFieldValue,
  type ControlParam, type ParamError, type Range, type Target,
} from '../iot/control-params';

export { NS_CONTROL };

export interface ControlDeps {
  drivers: Pick<DriverHost, 'set' | 'readThing'>;
  access: Pick<Access, 'decide' | 'check'>;
  things(): ThingSpec[];
  latest(): Reading[];
  /** Range of a numeric or int field, overriding the FieldSpec's min/max. */
  rangeOf?: (thing: string, field: string) => Range;
  /** Device name for the form's title. */
  title?: string;
}

/** slixmpp's responseCode values (its xep_0325 client docstring). */
type ResponseCode = 'OK' | 'NotFound' | 'InsufficientPrivileges' | 'OtherError' | 'FormError';

class SetFailure {
  constructor(readonly error: StanzaError, readonly code: ResponseCode, readonly params: ParamError[] = []) {}
}

interface Planned { param: ControlParam; target: Target; value: Value }

function currentValues(latest: Reading[]): Map<string, Value> {
  const out = new Map<string, Value>();
  for (const r of latest) for (const v of r.values) if (v.value !== undefined) out.set(`${r.thing}\u0000${v.field}`, v.value);
  return out;
}

export function install(m: ModuleContext, deps: ControlDeps): void {
  m.addFeature(NS_CONTROL);

  /** The field's declared range (FieldSpec min/max), unless the wiring gives another. */
  const rangeFor = (t: Target): Range => deps.rangeOf?.(t.thing.id, t.field.name)
    ?? (t.field.min !== undefined || t.field.max !== undefined ? { min: t.field.min, max: t.field.max } : undefined);
  const writableTargets = (scope: ThingSpec[]): Target[] => scope.flatMap((t) => t.fields.filter((f) => f.writable).map((f) => ({ thing: t, field: f })));
  const formFields = (scope: ThingSpec[]) => {
    const cur = currentValues(deps.latest());
    return writableTargets(scope).map((t) => formField(t, scope, cur.get(`${t.thing.id}\u0000${t.field.name}`), rangeFor(t)));
  };

  const refused = () => new SetFailure(new StanzaError('forbidden', 'setting values on this device needs the control right: ask one of its owners', { type: 'cancel' }), 'InsufficientPrivileges');

  /** Checks everything, then applies in order. Resolves with the decision (a partial grant
   *  names what was set) when done; throws SetFailure. */
  const applySet = async (from: string, set: Element): Promise<Decision> => {
    let d = deps.access.decide(from, 'control');
    if (!d.allowed && !d.delegate) throw refused();
    const parsed = parseSet(set);
    if (parsed instanceof StanzaError) throw new SetFailure(parsed, 'OtherError');
    if (d.delegate) {
      // XEP-0324 'Device Control': canControl with the set's nodes and parameters.
      d = await deps.access.check(from, 'control', { question: 'control', nodes: parsed.nodes, fields: parsed.params.map((p) => p.name) });
      if (!d.allowed) throw refused();
      if (d.nodes) parsed.nodes = d.nodes;
    }
    const scope = scopeThings(parsed.nodes, deps.things());
    if (scope instanceof StanzaError) throw new SetFailure(scope, 'NotFound');
    const errors: ParamError[] = [...parsed.errors];
    let params = parsed.params;
    let nameTargets: (p: ControlParam) => Target[] | string = (p) => resolve(p.name, scope, parsed.nodes.length > 0);
    if (parsed.form) {
      const fields = formFields(scope);
      const fp = formParams(parsed.form, fields);
      params = fp.params;
      errors.push(...fp.errors);
      const writable = writableTargets(scope);
      nameTargets = (p) => {
        const i = fields.findIndex((f) => f.var === p.name);
        return i >= 0 ? [writable[i]!] : `no parameter "${p.name}" in the control form`;
      };
    }
    // XEP-0324 'Restricting parameters during control': only the granted ones are set.
    if (d.fields) params = params.filter((p) => d.fields!.includes(p.name));
    if (d.fields && !params.length) throw refused();
    const plan: Planned[] = [];
    let notFound = false;
    for (const p of params) {
      const targets = nameTargets(p);
      if (typeof targets === 'string') { errors.push({ var: p.name, message: targets }); notFound = true; continue; }
      for (const t of targets) {
        const v = toFieldValue(p, t, rangeFor(t));
        if (!v.ok) errors.push({ var: p.name, message: v.error });
        else plan.push({ param: p, target: t, value: v.value });
      }
    }
    if (errors.length) {
      const text = errors.map((e) => `${e.var || 'form'}: ${e.message}`).join('; ');
      throw new SetFailure(new StanzaError('bad-request', `nothing was set. ${text}`, { type: 'modify' }), parsed.form ? 'FormError' : notFound ? 'NotFound' : 'OtherError', errors);
    }
    // XEP-0325 'Setting multiple control parameters at once': in the order sent.
    const touched = new Map<string, Map<string, Value>>();
    for (let i = 0; i < plan.length; i++) {
      const p = plan[i]!;
      try {
        await deps.drivers.set(p.target.thing.id, p.target.field.name, p.value, from);
        const t = touched.get(p.target.thing.id) ?? new Map<string, Value>();
        // What the driver was given: DriverHost.set rounds numbers to the field's precision.
        const given = checkValue(p.value, p.target.field);
        t.set(p.target.field.name, given.ok ? given.value : p.value);
        touched.set(p.target.thing.id, t);
      } catch (e) {
        const failed: ParamError[] = [{ var: p.param.name, message: (e as Error).message }];
        for (const rest of plan.slice(i + 1)) failed.push({ var: rest.param.name, message: `not set: ${p.param.name} failed before it` });
        readBack(touched);
        throw new SetFailure(new StanzaError('undefined-condition', `set stopped at ${p.param.name}: ${(e as Error).message}`, { type: 'cancel' }), 'OtherError', failed);
      }
    }
    readBack(touched);
    return d;
  };

  /** Read-back after a set: the fresh sample goes through the pipeline (PubSub) like a poll;
   *  a value that did not take is logged (the driver accepted it, the device shows another). */
  const readBack = (things: Map<string, Map<string, Value>>) => {
    for (const [t, fields] of things) {
      void deps.drivers.readThing(t, { deliver: true, fresh: true }).then((r) => {
        for (const [field, want] of fields) {
          const got = r?.values.find((v) => v.field === field);
          if (got && got.error === undefined && got.value !== want) m.log.warn('a set value did not read back', { thing: t, field, set: want, read: got.value });
        }
      });
    }
  };

  const failureReply = (iq: Element, f: SetFailure): Element => {
    const reply = errorReply(iq, f.error);
    const err = reply.getChild('error')!;
    // XEP-0325 'Control failure response' (its example closes paramError with </error>: a slip).
    for (const p of f.params) err.append(x('paramError', { xmlns: NS_CONTROL, var: p.var }, p.message));
    const sr = x('setResponse', { xmlns: NS_CONTROL, responseCode: f.code });
    for (const p of f.params) sr.append(x('parameter', { name: p.var }));
    sr.append(x('error', { var: f.params[0]?.var ?? '' }, f.error.text ?? f.error.condition));
    return reply.append(sr);
  };

  m.hook(`iq/set/${NS_CONTROL}`, async (iq) => {
    const set = iq.elements[0]!;
    if (set.name !== 'set') throw new StanzaError('bad-request', `<${set.name}/> is not a XEP-0325 request here: send <set/> (or <getForm/> in an iq get)`, { type: 'modify' });
    let d: Decision;
    try {
      d = await applySet(iq.attrs.from ?? '', set);
    } catch (e) {
      if (e instanceof SetFailure) return failureReply(iq, e);
      throw e;
    }
    // XEP-0324: a partial grant is returned to the caller, "so it can act on the information".
    return x('setResponse', { xmlns: NS_CONTROL, responseCode: 'OK' },
      ...(d.nodes ?? []).map((n) => x('node', { nodeId: n })), ...(d.fields ?? []).map((f) => x('parameter', { name: f })));
  });

  m.hook(`iq/get/${NS_CONTROL}`, async (iq) => {
    const el = iq.elements[0]!;
    if (el.name !== 'getForm') throw new StanzaError('bad-request', `<${el.name}/> is not a XEP-0325 query: send <getForm/>`, { type: 'modify' });
    if (!(await deps.access.check(iq.attrs.from ?? '', 'control', { question: 'control' })).allowed) {
      throw new StanzaError('forbidden', 'the control form needs the control right: ask one of its owners', { type: 'cancel' });
    }
    const nodes = el.getChildren('node', NS_CONTROL).map((n) => n.attrs.nodeId ?? '');
    const scope = scopeThings(nodes, deps.things());
    if (scope instanceof StanzaError) throw scope;
    const title = deps.title ?? (scope.length === 1 ? scope[0]!.name ?? scope[0]!.id : 'Control');
    return controlForm(title, formFields(scope));
  });

  // XEP-0325: "any response is suppressed when sending a message stanza".
  m.hook(`message/${NS_CONTROL}`, async (msg) => {
    const set = msg.getChild('set', NS_CONTROL);
    if (!set || msg.attrs.type === 'error') return undefined;
    try {
      await applySet(msg.attrs.from ?? '', set);
    } catch (e) {
      if (!(e instanceof SetFailure)) throw e;
      m.log.info('control message refused', { from: msg.attrs.from, error: e.error.message });
    }
    return true;
  });
}
