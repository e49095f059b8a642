// xiota as a library (package.json `main`): what another package (the Node-RED palette, a
// custom daemon) needs to run the agent, talk XMPP, add a module or a driver. The CLI does not
// load this file (it requires what it needs lazily, to keep the daemon small).

// The agent and its configuration.
export { Agent, clientOptionsFromConfig, targetFor } from './agent';
export type { AgentOptions } from './agent';
export { loadConfig, configFromObject, formatIssues, resolvePassword, starterConfig } from './config';
export type { Config, ConfigIssue, LoadResult, ResolvedCredentials } from './config';

// Errors with stable codes.
export { XiotaError, isXiotaError } from './errors';
export type { ErrorCode } from './errors';
export { StanzaError, parseJid, bareJid } from './session/stanza';

// The XMPP session and XML.
export { XmppClient } from './session/client';
export type { ClientOptions, OnlineInfo, SessionState } from './session/client';
export { Element, x, serialize } from './xml/element';
export { createLogger, silentLogger } from './log';
export type { Logger, Level } from './log';

// Readings, things and drivers.
export type { Driver, DriverContext, FieldSpec, FieldType, FieldValue, Reading, ThingSpec, Value } from '../drivers/types';
export { DriverHost } from '../drivers/host';
export type { DriverFault, DriverHostOptions } from '../drivers/host';
export { createDriver, DRIVER_KINDS } from '../drivers';

// The local API (agent/api/PROTOCOL.md): `agent.api.attach(send)` serves one client in-process
// (the Node-RED palette's account mode), the socket server serves the same service to others.
export { ApiService, ApiClient, toRpcError } from './api/service';
export type { ApiConnection, ApiServiceOptions, ApiStatusSource, Send, Subscription } from './api/service';
export { ApiSocketServer, LineSplitter } from './api/socket';
export { ApiSocketClient, connectAdvice } from './api/client';
export type { ApiClientHandlers } from './api/client';
export { RPC, RpcError } from './api/jsonrpc';
export { daemonSocketPath, clientSocketCandidates } from './api/paths';
export { ApiDriver, checkThingSpec } from '../drivers/api';
export type { ThingHolder } from '../drivers/api';
export type { ApiConfig, ApiRole } from './api/schema';

// Who may do what.
export { decide, roleOf, roleMay, bareOf, inList } from './access';
export type { AccessPolicy, Action, Decision, Grants, Role } from './access';
export { AccessStore } from './access-store';
export type { Access, AccessChange, AccessEntry, GrantRole, PendingRequest } from './access-store';

// The module API.
export { ModuleHost } from './module';
export type { ModuleContext, LoadedModule } from './module';
export { MODULES, listen } from './modules';
export type { AgentDeps, AgentEvents, AgentModule } from './modules';
export { Disco } from './xep/disco';
export type { DiscoItem, Identity } from './xep/disco';
