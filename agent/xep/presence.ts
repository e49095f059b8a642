// Initial presence (RFC 6121 4.2) with entity capabilities (XEP-0115 4), sent when a new
// session starts; a resumed session keeps the presence it had (XEP-0198 5).
import type { ModuleContext } from '../module';
import { x } from '../xml/element';
import type { Disco } from './disco';

export interface PresenceOptions { status?: string; priority?: number }

export function presenceStanza(disco: Disco, o: PresenceOptions, status?: string) {
  return x('presence', null,
    (status ?? o.status) ? x('status', null, status ?? o.status) : null,
    x('priority', null, String(o.priority ?? 0)),
    disco.capsElement());
}

export function install(m: ModuleContext, deps: { disco: Disco; presence: PresenceOptions }): void {
  m.onSession((info) => {
    if (!info.resumed) m.send(presenceStanza(deps.disco, deps.presence));
  });
}
