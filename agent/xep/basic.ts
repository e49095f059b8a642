// Small answers every XMPP entity gives: XEP-0199 ping, XEP-0092 software version,
// XEP-0202 entity time. Each is a handler on the router and a feature in disco.
import { XiotaError } from '../errors';
import type { Router } from '../session/router';
import { Element, x } from '../xml/element';
import type { Disco } from './disco';

export const NS_PING = 'urn:xmpp:ping';
export const NS_VERSION = 'jabber:iq:version';
export const NS_TIME = 'urn:xmpp:time';

export interface SoftwareInfo { name: string; version: string; os?: string }

/** XEP-0202 3: tzo as +hh:mm / -hh:mm, utc as UTC dateTime (XEP-0082). */
export function timeElement(now: Date): Element {
  const off = -now.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const abs = Math.abs(off);
  const tzo = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  return x('time', { xmlns: NS_TIME }, x('tzo', null, tzo), x('utc', null, now.toISOString().replace(/\.\d{3}Z$/, 'Z')));
}

export function installBasics(router: Router, disco: Disco, sw: SoftwareInfo, now: () => Date = () => new Date()): () => void {
  const s = router.scope();
  const offs = [disco.addFeature(NS_PING), disco.addFeature(NS_VERSION), disco.addFeature(NS_TIME)];
  // XEP-0199 4.1: an empty result.
  s.on(`iq/get/${NS_PING}`, (iq) => x('iq', { type: 'result', id: iq.attrs.id ?? '', to: iq.attrs.from }));
  s.on(`iq/get/${NS_VERSION}`, () => x('query', { xmlns: NS_VERSION }, x('name', null, sw.name), x('version', null, sw.version), sw.os ? x('os', null, sw.os) : null));
  s.on(`iq/get/${NS_TIME}`, () => timeElement(now()));
  return () => {
    s.unload();
    offs.forEach((f) => f());
  };
}

export function packageVersion(): string {
  try {
    // dist/agent/xep -> package.json at the root
    return (require('../../../package.json') as { version: string }).version;
  } catch (e) {
    throw new XiotaError('XIOTA_E_CONFIG', `cannot read xiota's package.json: ${(e as Error).message}`);
  }
}
