// The modules the agent installs, in order, and the one set of dependencies they may use.
// A module is one file in agent/xep/ with `install(m, deps)`; adding a feature to the agent
// is one line here. The agent loads them through a ModuleHost and unloads them on stop.
import { EventEmitter } from 'node:events';
import type { DriverFault, DriverHost, ThingsChange } from '../drivers/host';
import type { Reading, ThingSpec } from '../drivers/types';
import type { Access } from './access-store';
import type { Config } from './config/types';
import type { Logger } from './log';
import type { ModuleContext } from './module';
import type { XmppClient } from './session/client';
import * as chat from './chat/index';
import * as commands from './commands';
import * as concentrator from './xep/concentrator';
import * as control from './xep/control';
import * as sensordata from './xep/sensordata';
import * as alerts from './xep/alerts';
import type { ApiService } from './api/service';
import * as basic from './xep/basic';
import * as disco from './xep/disco';
import * as presence from './xep/presence';
import * as subscriptions from './xep/subscriptions';

/** What the drivers report, fanned out to modules (presence status, alerts, chat). */
export interface AgentEvents {
  /** A reading as the driver host checked it (before the publish policy). */
  reading: [reading: Reading, driverId: string];
  fault: [fault: DriverFault];
  /** A driver's things changed at run time (DriverContext.thingsChanged): deps.things() shows the new set. */
  things: [change: ThingsChange];
}

export interface AgentDeps {
  client: XmppClient;
  disco: disco.Disco;
  config: Config;
  drivers: Pick<DriverHost, 'things' | 'latestReadings' | 'set' | 'state' | 'readOnce' | 'readThing' | 'drivers'>;
  access: Access;
  log: Logger;
  /** Where small state files live (beside the outbox): access decisions, ... */
  stateDir: string;
  software: basic.SoftwareInfo;
  /** Readings and faults as they happen; modules unsubscribe in m.onUnload (see `listen`). */
  events: EventEmitter<AgentEvents>;
  /** The latest reading of each thing, merged field by field. */
  latest(): Reading[];
  things(): ThingSpec[];
  /** One clock for every module (tests inject theirs). */
  now(): number;
  /** The local API (agent/api/), when the agent serves one. */
  api?: ApiService;
}

export interface AgentModule {
  name: string;
  install(m: ModuleContext, deps: AgentDeps): void;
}

/** Subscribes to an agent event for the module's lifetime. */
export function listen<K extends keyof AgentEvents>(m: ModuleContext, events: EventEmitter<AgentEvents>, event: K, fn: (...args: AgentEvents[K]) => void): void {
  const f = fn as (...args: unknown[]) => void;
  (events as unknown as EventEmitter).on(event, f);
  m.onUnload(() => (events as unknown as EventEmitter).off(event, f));
}

/** An optional module's file, loaded when its config enables it: an agent that does not use
 *  it never pays for its code (`node dist/bench/rss.js`). */
const provisioning = () => require('./xep/provisioning') as typeof import('./xep/provisioning');
const discovery = () => require('./xep/discovery') as typeof import('./xep/discovery');
const history = () => require('./history/index') as typeof import('./history/index');
const api = () => require('./api/module') as typeof import('./api/module');

/** In install order. Presence hashes every module's features into caps when a session starts,
 *  after all of them are installed, so its place in the list does not matter for caps. */
export const MODULES: readonly AgentModule[] = [
  { name: 'disco', install: (m, d) => disco.install(m, { disco: d.disco }) },
  { name: 'basics', install: (m, d) => basic.install(m, { software: d.software, now: d.now }) },
  { name: 'presence', install: (m, d) => presence.install(m, { disco: d.disco, presence: d.config.presence, sources: { latest: d.latest, things: d.things, events: d.events }, now: d.now }) },
  { name: 'provisioning', install: (m, d) => { if (d.config.provisioning) provisioning().install(m, { config: d.config.provisioning, access: d.access }); } },
  { name: 'subscriptions', install: (m, d) => subscriptions.install(m, { access: d.access, now: d.now }) },
  { name: 'history', install: (m, d) => { if (d.config.history.enabled) history().install(m, d); } },
  { name: 'commands', install: (m, d) => { commands.install(m, d); } },
  { name: 'chat', install: (m, d) => chat.install(m, d) },
  { name: 'sensordata', install: (m, d) => { sensordata.install(m, d); } },
  { name: 'control', install: (m, d) => control.install(m, d) },
  { name: 'concentrator', install: (m, d) => concentrator.install(m, d) },
  { name: 'alerts', install: (m, d) => { alerts.install(m, { ...d, config: d.config.alerts }); } },
  { name: 'discovery', install: (m, d) => { if (d.config.discovery) discovery().install(m, { config: d.config.discovery, access: d.access, stateDir: d.stateDir, drivers: d.drivers, onThingsChanged: (fn) => { d.events.on('things', fn); return () => { d.events.off('things', fn); }; } }); } },
  { name: 'api', install: (m, d) => { if (d.api) api().install(m, d); } },
];
