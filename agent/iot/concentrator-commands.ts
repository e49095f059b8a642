// XEP-0326 'Node Commands', the pure part: what a thing node offers and how a command's
// parameters map onto control. No I/O; agent/xep/concentrator.ts checks access, calls the
// driver host and answers.
//
// Two commands (XEP-0326 'Command attributes'):
// - `Read` (Query): a fresh momentary sample of the node, as an XEP-0323 momentary readout
//   takes it, returned to the asker as XEP-0326 query events (executeNodeQuery,
//   agent/iot/concentrator-query.ts). Sent as executeNodeCommand (a client that takes every
//   command for a simple one) it samples and publishes: its PubSub node gets the values.
// - `Set` (Parameterized): one XEP-0004 form field per writable field of the node, with XEP-0122
//   datatypes and ranges, built and read by the same code as XEP-0325 getForm
//   (agent/iot/control-params.ts), so a value the control module refuses is refused here too.
import type { FieldSpec, ThingSpec, Value } from '../../drivers/types';
import { x, type Element } from '../xml/element';
import type { FormField } from '../xep/forms';
import { controlForm, formField, formParams, toFieldValue, type ParamError, type Range, type Target } from './control-params';
import { NS_CONCENTRATOR } from './concentrator';

export type CommandType = 'Simple' | 'Parameterized' | 'Query';

export interface NodeCommand {
  command: string;
  name: string;
  type: CommandType;
  sortKey: string;
  successString: string;
  failureString: string;
}

export const READ_COMMAND: NodeCommand = {
  command: 'Read', name: 'Read values', type: 'Query', sortKey: '1',
  successString: 'Reading; the values follow.', failureString: 'Unable to read the node.',
};

export const SET_COMMAND: NodeCommand = {
  command: 'Set', name: 'Set values...', type: 'Parameterized', sortKey: '2',
  successString: 'Values set.', failureString: 'Unable to set the values.',
};

/** The writable fields of one thing, as control targets. */
export function writableTargets(thing: ThingSpec): Target[] {
  return thing.fields.filter((f) => f.writable === true).map((f) => ({ thing, field: f }));
}

/** The commands a node offers to this asker: Read to every reader, Set to controllers when the
 *  thing has a writable field (XEP-0326 'Restricting access to node commands per contact'). */
export function commandsFor(thing: ThingSpec, mayControl: boolean): NodeCommand[] {
  return mayControl && writableTargets(thing).length ? [READ_COMMAND, SET_COMMAND] : [READ_COMMAND];
}

export function commandElement(c: NodeCommand): Element {
  return x('command', { command: c.command, name: c.name, type: c.type, sortKey: c.sortKey, successString: c.successString, failureString: c.failureString });
}

/** The declared range of a numeric field (FieldSpec min/max), as control.ts uses it. */
export function rangeOf(field: FieldSpec): Range {
  return field.min !== undefined || field.max !== undefined ? { min: field.min, max: field.max } : undefined;
}

/** The Set form's fields: variables are field names (one thing, so unique), current values shown. */
export function setFormFields(thing: ThingSpec, current: ReadonlyMap<string, Value>): FormField[] {
  const scope = [thing];
  return writableTargets(thing).map((t) => formField(t, scope, current.get(t.field.name), rangeOf(t.field)));
}

/** XEP-0326 'Get Node Command Parameters': the form, in a getCommandParametersResponse. */
export function setFormResponse(thing: ThingSpec, fields: FormField[]): Element {
  return x('getCommandParametersResponse', { xmlns: NS_CONCENTRATOR, result: 'OK' }, controlForm(`Set ${thing.name ?? thing.id}`, fields));
}

export interface PlannedSet { field: string; value: Value }

/** A submitted Set form -> the driver sets in form order, or the errors per field (nothing is
 *  set when there is one). Empty submissions are an error: there is nothing to do. Pure. */
export function planSet(thing: ThingSpec, fields: readonly FormField[], submitted: Element): { plan: PlannedSet[]; errors: ParamError[] } {
  const { params, errors } = formParams(submitted, fields);
  const targets = writableTargets(thing);
  const plan: PlannedSet[] = [];
  for (const p of params) {
    const t = targets.find((tt) => tt.field.name === p.name);
    if (!t) { errors.push({ var: p.name, message: `no writable field "${p.name}" on ${thing.id}` }); continue; }
    const v = toFieldValue(p, t, rangeOf(t.field));
    if (v.ok) plan.push({ field: t.field.name, value: v.value });
    else errors.push({ var: p.name, message: v.error });
  }
  if (!plan.length && !errors.length) errors.push({ var: '', message: `the form sets nothing: fill in one of ${targets.map((t) => t.field.name).join(', ')}` });
  return { plan, errors };
}

/** XEP-0326 'Execute Node Command, Failure': one `<error var>` per field. */
export function errorElements(errors: readonly ParamError[]): Element[] {
  return errors.map((e) => x('error', { var: e.var }, e.message));
}
