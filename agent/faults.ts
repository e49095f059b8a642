// What is failing now: the agent's one record of driver, thing and field faults, kept from the
// driver host's fault events and the errors in its readings, and cleared by the readings that
// come back clean. Presence (`away` naming the fault) and XEP-0326 browsing (a node's state and
// Fault parameter) read the same record, so they never disagree about what is failing.
// Alert rules keep their own per-rule timing (for_s, repeat_s) over the same events.
import type { EventEmitter } from 'node:events';
import type { DriverFault } from '../drivers/host';
import type { Reading } from '../drivers/types';
import type { ModuleContext } from './module';
import type { AgentEvents } from './modules';

interface Entry {
  label: string;
  message: string;
  driver?: string;
  thing?: string;
  /** A field's fault as a thing's node shows it: the host's messages name the field already,
   *  a reading's error (`ENOENT`) gets it in front. */
  fieldText?: string;
}

/** Faults by key (`thing.field`, `thing`, or `driver:<id>`), with their messages. Pure. */
export class FaultSet {
  private readonly faults = new Map<string, Entry>();

  /** A DriverHost fault event. */
  fault(f: DriverFault): void {
    if (f.thing && f.field) this.faults.set(`${f.thing}.${f.field}`, { label: `${f.thing}.${f.field}`, message: f.message, driver: f.driver, thing: f.thing, fieldText: f.message });
    else if (f.thing) this.faults.set(f.thing, { label: f.thing, message: f.message, driver: f.driver, thing: f.thing });
    else this.faults.set(`driver:${f.driver}`, { label: f.driver, message: f.message, driver: f.driver });
  }

  /**
   * A reading: fields with an error fail, fields with a value recover; a reading of a thing
   * clears its thing-level fault, any reading of a driver its driver-level fault.
   */
  reading(r: Reading, driverId?: string): void {
    let thingOk = true;
    for (const v of r.values) {
      const key = `${r.thing}.${v.field}`;
      if (v.error !== undefined) {
        thingOk = false;
        this.faults.set(key, { label: key, message: v.error, driver: driverId, thing: r.thing, fieldText: `${v.field}: ${v.error}` });
      } else {
        this.faults.delete(key);
      }
    }
    if (thingOk) this.faults.delete(r.thing);
    if (driverId !== undefined) this.faults.delete(`driver:${driverId}`);
  }

  get size(): number {
    return this.faults.size;
  }

  /** A driver's own fault (its start, its link), or undefined. */
  ofDriver(driverId: string): string | undefined {
    return this.faults.get(`driver:${driverId}`)?.message;
  }

  /** What fails on a thing: its own fault, else its failing fields (`field: message; ...`),
   *  else its driver's fault; undefined when it reads fine. */
  ofThing(thing: string, driverId: string): string | undefined {
    const own = this.faults.get(thing)?.message;
    if (own !== undefined) return own;
    const fields = [...this.faults.values()].flatMap((e) => (e.thing === thing && e.fieldText !== undefined ? [e.fieldText] : []));
    return fields.length ? fields.join('; ') : this.ofDriver(driverId);
  }

  /** `greenhouse.temperature: sensor error (+1 more)`, or '' when all is well. */
  text(): string {
    const all = [...this.faults.values()];
    if (!all.length) return '';
    const first = all[0]!;
    // A driver's own message usually names the driver or field already.
    const msg = first.message.includes(first.label) ? first.message : `${first.label}: ${first.message}`;
    const short = msg.length > 80 ? msg.slice(0, 79) + '…' : msg;
    return all.length > 1 ? `${short} (+${all.length - 1} more)` : short;
  }
}

interface Shared { set: FaultSet; users: number; stop: () => void }
const byEvents = new WeakMap<EventEmitter<AgentEvents>, Shared>();

/**
 * The one FaultSet of an agent (of its event source), for module `m`: made and subscribed on
 * first use, so it has seen every event before any module's own listener (presence's update)
 * runs, and shared by every module that asks. Its listeners go when the last of those modules
 * unloads (the module API's promise: unload undoes everything).
 */
export function faultsOf(m: Pick<ModuleContext, 'onUnload'>, events: EventEmitter<AgentEvents>): FaultSet {
  let shared = byEvents.get(events);
  if (!shared) {
    const set = new FaultSet();
    const on = events as unknown as EventEmitter;
    const fault = (f: DriverFault) => set.fault(f);
    const reading = (r: Reading, driverId: string) => set.reading(r, driverId);
    on.on('fault', fault);
    on.on('reading', reading);
    shared = { set, users: 0, stop: () => { on.off('fault', fault); on.off('reading', reading); byEvents.delete(events); } };
    byEvents.set(events, shared);
  }
  const s = shared;
  s.users++;
  m.onUnload(() => { if (--s.users === 0) s.stop(); });
  return s.set;
}
