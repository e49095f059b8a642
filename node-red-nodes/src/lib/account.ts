// Account mode: the xiota library in Node-RED's own process (a Node-RED on another machine than
// the gateway), with its own XMPP account. The same JSON-RPC messages as the daemon's socket,
// passed as objects to an in-process ApiService, so every node works the same in both modes.
// The `xiota` package is an optional peer: agent mode needs nothing of it.
import type { Channel, ChannelEvents } from './rpc';
import type { Transport } from './link';
import type { RpcMessage } from './protocol';

export interface AccountOptions {
  jid: string;
  server?: { host: string; port: number };
  caFile?: string;
  password: string;
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

/** What account mode uses of the xiota package (agent/index.ts, agent/api/). */
interface XiotaLibrary {
  configFromObject(o: unknown, opts?: unknown): { config?: unknown; errors: { path?: string; message: string }[] };
  Agent: new (o: { config: unknown; credentials: { password: string; source: string; warnings: string[] }; drivers: unknown[] }) => { start(): Promise<void>; stop(): Promise<void> };
  ApiService: new (o: { agent: unknown; config: unknown }) => {
    attach(send: (m: unknown) => void): { receive(m: unknown): void; close(): void };
    close?(): Promise<void> | void;
  };
}

export function loadXiota(): XiotaLibrary {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const lib = require('xiota') as Partial<XiotaLibrary>;
    if (typeof lib.Agent !== 'function' || typeof lib.ApiService !== 'function' || typeof lib.configFromObject !== 'function') {
      throw new Error('the installed xiota package has no Agent/ApiService: update it (npm install xiota@latest)');
    }
    return lib as XiotaLibrary;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'MODULE_NOT_FOUND' && /'xiota'/.test(err.message)) {
      throw new Error('xiota-agent in account mode needs the xiota package in Node-RED: run `npm install xiota` in your Node-RED user directory (~/.node-red) and restart Node-RED, or use mode "agent" with a local xiota daemon');
    }
    throw err;
  }
}

export function accountTransport(o: AccountOptions): Transport {
  let agent: { start(): Promise<void>; stop(): Promise<void> } | undefined;
  let service: { close?(): Promise<void> | void } | undefined;
  return {
    describe: o.jid || '(no JID)',
    async open(events: ChannelEvents): Promise<Channel> {
      if (o.invalid) throw new Error(o.invalid);
      if (!o.jid) throw new Error('account mode needs the JID of the account Node-RED logs in with');
      if (!o.password) throw new Error(`account mode: no password stored for ${o.jid} (edit the xiota-agent node and enter it)`);
      const lib = loadXiota();
      if (!agent) {
        const r = lib.configFromObject({
          account: { jid: o.jid, password: o.password },
          ...(o.server ? { server: { host: o.server.host, port: o.server.port } } : {}),
          ...(o.caFile ? { tls: { ca_file: o.caFile } } : {}),
          outbox: { dir: `${o.stateDir}/outbox` },
        });
        if (!r.config) throw new Error(`account mode settings: ${r.errors.map((e) => `${e.path ?? ''} ${e.message}`.trim()).join('; ')}`);
        const a = new lib.Agent({ config: r.config, credentials: { password: o.password, source: 'node-red credentials', warnings: [] }, drivers: [] });
        service = new lib.ApiService({ agent: a, config: r.config });
        await a.start();
        agent = a;
      }
      const conn = (service as InstanceType<XiotaLibrary['ApiService']>).attach((m) => events.message(m));
      let open = true;
      return {
        send(m: RpcMessage) {
          if (open) conn.receive(m);
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
      await service?.close?.();
      service = undefined;
      await a?.stop();
    },
  };
}
