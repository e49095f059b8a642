// Node status from the link's state, with the node's own last value or error on top. Core
// catalog keys (node-red:common.status.*) so the editor translates them, as core MQTT does;
// rings for the connection, dots for activity (HA's convention).
import type { AgentLink, LinkState } from './link';
import { short } from './mappers';
import type { Node, NodeStatus } from './red';

const CONNECTION: Record<LinkState, NodeStatus> = {
  idle: { fill: 'grey', shape: 'ring', text: 'node-red:common.status.not-connected' },
  connecting: { fill: 'yellow', shape: 'ring', text: 'node-red:common.status.connecting' },
  connected: { fill: 'green', shape: 'dot', text: 'node-red:common.status.connected' },
  disconnected: { fill: 'red', shape: 'ring', text: 'node-red:common.status.disconnected' },
  closed: { fill: 'grey', shape: 'ring', text: 'node-red:common.status.not-connected' },
};

const XMPP_OFFLINE: NodeStatus = { fill: 'yellow', shape: 'ring', text: 'xmpp offline' };

export class NodeStatusLine {
  private last?: NodeStatus;
  private readonly onState = (s: LinkState) => {
    // A fresh connection clears an old error; a value stays until the link drops.
    if (s !== 'connected' || !this.last || this.last.fill === 'red') this.last = undefined;
    this.show();
  };

  private readonly onSession = () => this.show();

  constructor(
    private readonly node: Node,
    private readonly link: AgentLink,
  ) {
    link.on('state', this.onState);
    link.on('session', this.onSession);
    this.show();
  }

  /** The last value (green dot while connected). */
  value(text: string): void {
    this.last = { fill: 'green', shape: 'dot', text: short(text) };
    this.show();
  }

  /** Something the node did went wrong (red dot; the connection is fine). */
  error(text: string): void {
    this.last = { fill: 'red', shape: 'dot', text: short(text) };
    this.show();
  }

  /** A neutral note (blue dot), e.g. "sent" or "declared". */
  note(text: string): void {
    this.last = { fill: 'blue', shape: 'dot', text: short(text) };
    this.show();
  }

  private show(): void {
    const s = this.link.state;
    // Connected to the agent, but its XMPP session is down: local things still work, remote
    // ones and publishing wait (the outbox keeps readings).
    if (s === 'connected' && !this.link.sessionOnline) this.node.status(XMPP_OFFLINE);
    else this.node.status(s === 'connected' && this.last ? this.last : CONNECTION[s]);
  }

  /** Removes exactly the listener it added (close handler). */
  dispose(): void {
    this.link.off('state', this.onState);
    this.link.off('session', this.onSession);
    this.node.status({});
  }
}

const ERROR_LABELS: Record<number, string> = {
  [-32602]: 'bad request',
  [-32001]: 'forbidden',
  [-32002]: 'unknown thing/field',
  [-32003]: 'remote error',
  [-32004]: 'timed out',
  [-32005]: 'too many subs',
  [-32006]: 'offline',
  [-32007]: 'value refused',
  [-32050]: 'no agent',
};

/** A short status label for an error (the full sentence goes to done(err) and the log). */
export function errorLabel(e: unknown): string {
  const code = typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'number' ? (e as { code: number }).code : undefined;
  return (code !== undefined && ERROR_LABELS[code]) || 'error';
}
