// Small answers every XMPP entity gives: XEP-0199 ping, XEP-0092 software version,
// XEP-0202 entity time. Each is a handler and a feature in disco.
import { XiotaError } from '../errors';
import type { ModuleContext } from '../module';
import { Element, x } from '../xml/element';

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

export function install(m: ModuleContext, deps: { software: SoftwareInfo; now?: () => number }): void {
  const sw = deps.software;
  const now = deps.now ?? Date.now;
  m.addFeature(NS_PING);
  m.addFeature(NS_VERSION);
  m.addFeature(NS_TIME);
  // XEP-0199 4.1: an empty result.
  m.hook(`iq/get/${NS_PING}`, (iq) => x('iq', { type: 'result', id: iq.attrs.id ?? '', to: iq.attrs.from }));
  m.hook(`iq/get/${NS_VERSION}`, () => x('query', { xmlns: NS_VERSION }, x('name', null, sw.name), x('version', null, sw.version), sw.os ? x('os', null, sw.os) : null));
  m.hook(`iq/get/${NS_TIME}`, () => timeElement(new Date(now())));
}

export function packageVersion(): string {
  try {
    // dist/agent/xep -> package.json at the root
    return (require('../../../package.json') as { version: string }).version;
  } catch (e) {
    throw new XiotaError('XIOTA_E_CONFIG', `cannot read xiota's package.json: ${(e as Error).message}`);
  }
}
