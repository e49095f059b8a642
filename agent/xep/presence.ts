// Initial presence (RFC 6121 4.2) with entity capabilities (XEP-0115 4), sent when a new
// session starts; a resumed session keeps the presence it had.
import type { XmppClient } from '../session/client';
import { x } from '../xml/element';
import type { Disco } from './disco';

export interface PresenceOptions { status?: string; priority?: number }

export function presenceStanza(disco: Disco, o: PresenceOptions, status?: string) {
  return x('presence', null,
    (status ?? o.status) ? x('status', null, status ?? o.status) : null,
    x('priority', null, String(o.priority ?? 0)),
    disco.capsElement());
}

export function installPresence(client: XmppClient, disco: Disco, o: PresenceOptions): () => void {
  const onOnline = (info: { resumed: boolean }) => {
    if (!info.resumed) client.send(presenceStanza(disco, o));
  };
  client.on('online', onOnline);
  return () => client.off('online', onOnline);
}
