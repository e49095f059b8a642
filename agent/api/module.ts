// The local API as an agent module: it gets a ModuleContext, so the API's remote methods
// (remote.read, remote.set, pubsub.subscribe) go through the agent's one XMPP session
// (agent/iot/remote.ts), and API clients hear when the session goes up or down.
import { createRemote } from '../iot/remote';
import type { ModuleContext } from '../module';
import type { AgentDeps } from '../modules';

export function install(m: ModuleContext, deps: AgentDeps): void {
  const api = deps.api;
  if (!api) return;
  api.useRemote(createRemote(m, { now: deps.now, log: m.log }));
  m.onSession(() => api.sessionChanged(true));
  m.onOffline(() => api.sessionChanged(false));
  m.onUnload(() => { api.useRemote(undefined, 'the agent is stopping'); api.close(); });
}
