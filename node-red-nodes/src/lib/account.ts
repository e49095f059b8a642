// Account mode: the xiota library in Node-RED's own process (a Node-RED on another machine than
// the gateway), with its own XMPP account. The same JSON-RPC messages as the daemon's socket,
// passed as objects to an in-process ApiService, so every node works the same in both modes.
// The `xiota` package is an optional peer: agent mode needs nothing of it.
import type { Channel, ChannelEvents } from './rpc';
import type { Transport } from './link';
import type { RpcMessage } from './protocol';

export interface AccountOptions {
  jid: string;
  /** The resource it binds (resourceFor): one per config node, so two on one account do not
   *  take each other's session (RFC 6120 7.7.2.2: the server ends the older one). */
  resource: string;
  server?: { host: string; port: number };
  caFile?: string;
  password: string;
  /** Who may read and set this account's flow-defined things (access.owners). */
  owners: string[];
  /** A settings error found while reading the node (opening fails with it). */
  invalid?: string;
  /** The outbox and access decisions live here (under Node-RED's userDir). */
  stateDir: string;
  log(level: 'info' | 'warn' | 'error', m: string): void;
}

/** "host", "host:port", "[v6]:port" -> {host, port}; blank -> undefined (SRV lookup of the JID's domain). */
export function parseServer(v: unknown): { host: string; port: number } | undefined {
  if (typeof v !== 'string' || !v.trim()) return undefined;
  const s = v.trim();
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s) ?? /^([^:]+)(?::(\d+))?$/.exec(s);
  if (!m) throw new Error(`server ${JSON.stringify(s)}: write host or host:port (e.g. xmpp.example.org:5222)`);
  const port = m[2] ? Number(m[2]) : 5222;
  if (!(port > 0 && port < 65536)) throw new Error(`server ${JSON.stringify(s)}: port must be 1-65535`);
  return { host: m[1]!, port };
}

/** A config node's resource: its own setting, else `node-red-` and its node id (unique per config
 *  node, stable across restarts and redeploys). */
export function resourceFor(setting: unknown, nodeId: string): string {
  if (typeof setting === 'string' && setting.trim()) return setting.trim();
  return `node-red-${nodeId.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

/** What account mode uses of the xiota package (agent/index.ts): the Agent and its in-process API. */
interface AgentLike {
  start(): Promise<void>;
  stop(): Promise<void>;
  api: { attach(send: (m: object) => boolean | void): { receive(m: unknown): void; close(): void } };
}
interface XiotaLibrary {
  configFromObject(o: unknown): { config?: unknown; errors: { path?: unknown; message: string }[] };
  Agent: new (o: { config: unknown; credentials: { password: string; source: string; warnings: string[] }; drivers: unknown[]; apiSocket?: boolean }) => AgentLike;
}

export function loadXiota(): XiotaLibrary {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const lib = require('xiota') as Partial<XiotaLibrary>;
    if (typeof lib.Agent !== 'function' || typeof lib.configFromObject !== 'function') {
      throw new Error('the installed xiota package has no Agent: update it (npm install a newer xiota tarball, made by npm pack in the xiota repository)');
    }
    return lib as XiotaLibrary;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'MODULE_NOT_FOUND' && /'xiota'/.test(err.message)) {
      throw new Error('xiota-agent in account mode needs the xiota package in Node-RED: run `npm install /path/to/xiota-0.1.0.tgz` (made by `npm pack` in the xiota repository; it is not on the npm registry) in your Node-RED user directory (~/.node-red) and restart Node-RED, or use mode "agent" with a local xiota daemon');
    }
    throw err;
  }
}

export function accountTransport(o: AccountOptions): Transport {
  let agent: AgentLike | undefined;
  return {
    describe: o.jid || '(no JID)',
    async open(events: ChannelEvents): Promise<Channel> {
      if (o.invalid) throw new Error(o.invalid);
      if (!o.jid) throw new Error('account mode needs the JID of the account Node-RED logs in with');
      if (!o.password) throw new Error(`account mode: no password stored for ${o.jid} (edit the xiota-agent node and enter it)`);
      if (!agent) {
        const lib = loadXiota();
        const r = lib.configFromObject({
          account: { jid: o.jid, resource: o.resource, password: o.password },
          ...(o.server ? { server: { host: o.server.host, port: o.server.port } } : {}),
          ...(o.caFile ? { tls: { ca_file: o.caFile } } : {}),
          outbox: { dir: `${o.stateDir}/outbox` },
          ...(o.owners.length ? { access: { owners: o.owners } } : {}),
        });
        if (!r.config) throw new Error(`account mode settings: ${r.errors.map((e) => e.message).join('; ')}`);
        // No socket: this agent's only API client is this Node-RED, in-process.
        const a = new lib.Agent({ config: r.config, credentials: { password: o.password, source: 'node-red credentials', warnings: [] }, drivers: [], apiSocket: false });
        await a.start();
        agent = a;
        o.log('info', `xiota account ${o.jid}/${o.resource}: agent started in Node-RED`);
      }
      let open = true;
      const conn = agent.api.attach((m) => {
        if (open) events.message(m);
        return true;
      });
      return {
        send(m: RpcMessage) {
          // A tick later, as a socket would: an answer never arrives inside the send.
          if (open) setImmediate(() => open && conn.receive(m));
        },
        close() {
          if (!open) return;
          open = false;
          conn.close();
          events.close();
        },
      };
    },
    async dispose() {
      const a = agent;
      agent = undefined;
      await a?.stop();
    },
  };
}
