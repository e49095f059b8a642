// Config node `xiota-agent`: the one connection its users share. Mode `agent` talks to the
// xiota daemon on this machine through its local API socket (the gateway keeps its single XMPP
// session); mode `account` runs the xiota library in Node-RED's process with its own account,
// for a Node-RED on another machine (password in Node-RED's credential store, TLS verified).
import { accountTransport, parseServer, resourceFor } from './lib/account';
import { AgentLink, type Transport } from './lib/link';
import type { Node, NodeAPI, NodeDef } from './lib/red';
import { DEFAULT_SOCKET, socketOpener } from './lib/unix-socket';
import { parseList } from './lib/mappers';
import { homedir } from 'node:os';
import { join } from 'node:path';

interface AgentConfigNode extends Node<{ password?: string }> {
  link: AgentLink;
  mode: 'agent' | 'account';
}

/** How long the config node's close may take before Node-RED is told it is done (nodeCloseTimeout is 15 s). */
const CLOSE_BUDGET_MS = 2500;

export = function register(RED: NodeAPI): void {
  function XiotaAgentNode(this: AgentConfigNode, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    node.mode = def.mode === 'account' ? 'account' : 'agent';
    let transport: Transport;
    if (node.mode === 'agent') {
      const path = typeof def.socket === 'string' && def.socket.trim() ? def.socket.trim() : DEFAULT_SOCKET;
      transport = { open: socketOpener(path), describe: path };
    } else {
      let server: { host: string; port: number } | undefined;
      let bad: string | undefined;
      try {
        server = parseServer(def.server);
      } catch (e) {
        bad = (e as Error).message;
      }
      transport = accountTransport({
        jid: String(def.jid ?? '').trim(),
        resource: resourceFor(def.resource, node.id),
        server,
        invalid: bad,
        caFile: typeof def.ca === 'string' && def.ca.trim() ? def.ca.trim() : undefined,
        password: node.credentials?.password ?? '',
        owners: parseList(typeof def.owners === 'string' ? def.owners : ''),
        stateDir: stateDirFor(RED, node.id),
        log: (level, m) => (level === 'error' ? node.error(m) : level === 'warn' ? node.warn(m) : node.log(m)),
      });
    }
    node.link = new AgentLink(transport, {}, (m) => node.warn(m));
    let lastWarned = '';
    node.link.on('state', (s, reason) => {
      // One log line per distinct failure, not one per retry (node-red-nodes#876's flood).
      if (s === 'disconnected' && reason && reason !== lastWarned) node.warn(`xiota agent ${transport.describe}: ${reason}; retrying`);
      if (s === 'connected') {
        if (lastWarned) node.log(`xiota agent ${transport.describe}: connected again`);
        lastWarned = '';
      } else if (s === 'disconnected' && reason) lastWarned = reason;
    });

    node.on('close', (removed: boolean, done: () => void) => {
      void removed; // replaced or removed alike: this instance's link ends; a new instance opens its own
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        done();
      };
      const timer = setTimeout(finish, CLOSE_BUDGET_MS);
      node.link.close().catch((e: Error) => node.warn(`closing the xiota link: ${e.message}`)).then(finish);
    });
  }
  RED.nodes.registerType('xiota-agent', XiotaAgentNode as never, { credentials: { password: { type: 'password' } } });
};

function stateDirFor(RED: NodeAPI, id: string): string {
  // Node-RED's own default user directory when the settings name none.
  const base = typeof RED.settings.userDir === 'string' ? RED.settings.userDir : join(homedir(), '.node-red');
  return join(base, 'xiota', id.replace(/[^A-Za-z0-9_.-]/g, '_'));
}
