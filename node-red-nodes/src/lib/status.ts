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

/**
 * Values reach the editor at most this often per node (ms). Every node.status() goes to each
 * open editor over its websocket and to Status nodes; a field read 100 times a second needs
 * none of that per reading. The newest value always shows, at most this much later.
 */
export const STATUS_INTERVAL_MS = 500;

export class NodeStatusLine {
  /** The node's own last value or error: text, or a function giving it when it is shown. */
  private last?: { fill: 'green' | 'red' | 'blue'; text: string | (() => string) };
  private shown?: NodeStatus;
  private shownAt = -Infinity;
  private timer?: NodeJS.Timeout;
  private readonly onState = (s: LinkState) => {
    // A fresh connection clears an old error; a value stays until the link drops.
    if (s !== 'connected' || !this.last || this.last.fill === 'red') this.last = undefined;
    this.show();
  };

  private readonly onSession = () => this.show();

  constructor(
    private readonly node: Node,
    private readonly link: AgentLink,
    private readonly intervalMs = STATUS_INTERVAL_MS,
    private readonly now: () => number = Date.now,
  ) {
    link.on('state', this.onState);
    link.on('session', this.onSession);
    this.show();
  }

  /** The last value (green dot while connected); a function is called only when it is shown. */
  value(text: string | (() => string)): void {
    this.last = { fill: 'green', text };
    this.showSoon();
  }

  /** Something the node did went wrong (red dot; the connection is fine). */
  error(text: string): void {
    this.last = { fill: 'red', text };
    this.showSoon();
  }

  /** A neutral note (blue dot), e.g. "sent" or "declared". */
  note(text: string): void {
    this.last = { fill: 'blue', text };
    this.showSoon();
  }

  /** Now when the last update is older than the interval, else once it is (trailing). */
  private showSoon(): void {
    if (this.timer) return; // the pending update will show the newest
    const wait = this.shownAt + this.intervalMs - this.now();
    if (wait <= 0) { this.show(true); return; }
    this.timer = setTimeout(() => { this.timer = undefined; this.show(true); }, wait);
    this.timer.unref?.();
  }

  /** `value`: shown for a value (counts towards the interval; a connection change does not). */
  private show(value = false): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const s = this.link.state;
    let st: NodeStatus;
    // Connected to the agent, but its XMPP session is down: local things still work, remote
    // ones and publishing wait (the outbox keeps readings).
    if (s === 'connected' && !this.link.sessionOnline) st = XMPP_OFFLINE;
    else if (s === 'connected' && this.last) st = { fill: this.last.fill, shape: 'dot', text: short(typeof this.last.text === 'function' ? this.last.text() : this.last.text) };
    else st = CONNECTION[s];
    const prev = this.shown;
    if (prev && prev.fill === st.fill && prev.shape === st.shape && prev.text === st.text) return;
    this.shown = st;
    if (value) this.shownAt = this.now();
    this.node.status(st);
  }

  /** Removes exactly the listener it added (close handler). */
  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
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
