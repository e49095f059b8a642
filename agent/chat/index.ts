// The chat module as the agent loads it (agent/modules.ts): agent/xep/chat.ts over the
// agent's drivers, access store, alert switch, and for history its own store (agent/history/),
// else each thing's PubSub node.
import { alertSwitchFor } from '../alerts/switch';
import { pubsubFor } from '../config/thing-settings';
import type { ModuleContext } from '../module';
import type { AgentDeps } from '../modules';
import { install as installChat, type ChatDeps } from '../xep/chat';
import { hostDevice, type HostDeviceOptions } from './device';
import { localRows } from '../history/sources';

export interface ChatOptions {
  /** Overrides of the ranges the drivers declare (FieldSpec min/max); tests use it. */
  rangeOf?: HostDeviceOptions['rangeOf'];
  rate?: ChatDeps['rate'];
}

export function install(m: ModuleContext, d: AgentDeps, o: ChatOptions = {}): void {
  installChat(m, {
    device: hostDevice({
      drivers: d.drivers,
      iq: (req, ms) => m.iq(req, ms),
      // 'pep': our own account is the service (XEP-0163), so the request has no 'to'.
      nodeOf: (thing) => {
        const p = pubsubFor(d.config, thing);
        return p.service === 'pep' ? { node: p.node } : { service: p.service, node: p.node };
      },
      rangeOf: o.rangeOf,
      local: localRows(d.stateDir),
    }),
    access: d.access,
    alerts: alertSwitchFor(d.stateDir, (msg) => m.log.warn(msg)),
    now: d.now,
    rate: o.rate,
    // The pairing code (tweetnacl) loads only when a bridge driver pairs by trust on first use.
    bridge: tofuKeys(d).length ? (require('../../firmware-bridge/host/tofu') as typeof import('../../firmware-bridge/host/tofu')).pairingChat(tofuKeys(d)) : undefined,
  });
}

/** Keys files of the bridge drivers that pair by trust on first use (owner's `bridge` command). */
function tofuKeys(d: AgentDeps): string[] {
  return d.config.drivers.flatMap((x) => (x.kind === 'bridge' && x.options.pairing === 'tofu' ? [(require('../../firmware-bridge/host/keys') as typeof import('../../firmware-bridge/host/keys')).keysFileOf(x.options)] : []));
}
