// The commands module as the agent loads it: the XEP-0050 responder (agent/xep/commands.ts)
// with the device's commands, in the order clients list them.
import type { ModuleContext } from '../module';
import type { AgentDeps } from '../modules';
import * as adhoc from '../xep/commands';
import { readCommand, setCommand, statusCommand, type DeviceThing, type DeviceView } from './device';
import { alertSwitchFor, type AlertSwitch } from '../alerts/switch';
import { accessCommand, alertsCommand } from './people';
import { historyCommand } from './history';
import { historyFor } from '../history/registry';
import { fieldHistory } from '../history/sources';

export interface DeviceCommandsOptions {
  /** Overrides of the ranges the drivers declare (FieldSpec min/max); tests use it. */
  rangeOf?: (thing: string, field: string) => { min?: number; max?: number } | undefined;
  /** Who gets alerts: by default the agent's one switch in its state directory (shared with alerts and chat). */
  alerts?: AlertSwitch;
  sessionTtlMs?: number;
}

export function deviceView(d: Pick<AgentDeps, 'things' | 'latest' | 'drivers' | 'now'>, rangeOf?: DeviceCommandsOptions['rangeOf']): DeviceView {
  return {
    things: (): DeviceThing[] => d.things().map((t) => ({
      id: t.id, name: t.name,
      fields: t.fields.map((f) => ({ ...f, ...(rangeOf?.(t.id, f.name) ?? {}) })),
    })),
    latest: () => d.latest(),
    set: (thing, field, value, from) => d.drivers.set(thing, field, value, from),
    now: () => d.now(),
  };
}

export function install(m: ModuleContext, d: AgentDeps, o: DeviceCommandsOptions = {}): adhoc.CommandSessions {
  const view = deviceView(d, o.rangeOf);
  return adhoc.install(m, {
    commands: [statusCommand(view), readCommand(view), historyCommand({ ...view, rows: fieldHistory(m, d), store: () => historyFor(d.stateDir) }), setCommand(view), alertsCommand(o.alerts ?? alertSwitchFor(d.stateDir, (msg) => m.log.warn(msg))), accessCommand(d.access)],
    access: d.access,
    selfJid: () => d.client.jid,
    now: d.now,
    sessionTtlMs: o.sessionTtlMs,
  });
}
