// What every xiota node does with its config node: find it, take its shared link, show the
// link's state, and on close release exactly what it took (listeners, subscriptions, the link).
import type { AgentLink } from './link';
import type { Node, NodeAPI, NodeDef } from './red';
import { NodeStatusLine } from './status';

export interface LinkedNode {
  link: AgentLink;
  status: NodeStatusLine;
}

/** The config node's link, acquired for `node`; undefined (and a red status) when none is chosen. */
export function linkFor(RED: NodeAPI, node: Node, def: NodeDef): LinkedNode | undefined {
  const cfg = RED.nodes.getNode(typeof def.agent === 'string' ? def.agent : '') as (Node & { link?: AgentLink }) | null;
  if (!cfg?.link) {
    node.status({ fill: 'red', shape: 'ring', text: 'no xiota-agent' });
    node.error(`${def.type}: choose a xiota-agent config node (the connection to the agent) in the node's settings`);
    return undefined;
  }
  cfg.link.acquire(node);
  return { link: cfg.link, status: new NodeStatusLine(node, cfg.link) };
}

/**
 * The close handler: `cleanup` first (unsubscribe, forget handlers), then release the link,
 * then `done`, within `budgetMs` whatever the agent does. Both parameters stay declared:
 * Node-RED picks the (removed, done) form by the handler's arity.
 */
export function onClose(node: Node, linked: LinkedNode | undefined, cleanup: (removed: boolean) => Promise<void> | void, budgetMs = 2500): void {
  node.on('close', (removed: boolean, done: () => void) => {
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      done();
    };
    const timer = setTimeout(finish, budgetMs);
    linked?.status.dispose();
    Promise.resolve()
      .then(() => cleanup(removed))
      .catch((e: Error) => node.warn(`closing: ${e.message}`))
      .then(() => linked?.link.release(node, removed))
      .catch(() => undefined)
      .then(finish);
  });
}

/** A message's text for Catch nodes and status: the agent's sentence, or the error's message. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
