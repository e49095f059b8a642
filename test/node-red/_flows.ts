// Flows the palette tests and benches deploy through the admin API, written as the editor
// saves them (flows.json): one tab, one `xiota-agent` config node on the daemon's socket, the
// palette's nodes wired to recorder function nodes (_nodered.ts recorderNode).
import { recorderNode, type FlowNode } from './_nodered';

export const TAB = 'xiota-tab';
export const AGENT = 'xiota-agent-cfg';

export function tab(label = 'xiota'): FlowNode {
  return { id: TAB, type: 'tab', label, disabled: false, info: '' };
}

/** The config node in agent mode: the local API socket of `xiota run`. */
export function agentNode(socket: string, name = 'gateway'): FlowNode {
  return { id: AGENT, type: 'xiota-agent', name, mode: 'agent', socket };
}

export function xiotaIn(id: string, thing: string, field: string, wires: string[], extra: Record<string, unknown> = {}): FlowNode {
  return { id, type: 'xiota-in', z: TAB, name: '', agent: AGENT, source: 'local', thing, field, jid: '', node: '', output: 'field', x: 160, y: 80, wires: [wires], ...extra };
}

export function xiotaControl(id: string, thing: string, field: string, wires: string[], extra: Record<string, unknown> = {}): FlowNode {
  return { id, type: 'xiota-control', z: TAB, name: '', agent: AGENT, jid: '', thing, field, value: 'payload', valueFrom: 'msg', valueType: 'auto', x: 400, y: 200, wires: [wires], ...extra };
}

export function inject(id: string, payload: string, payloadType: 'bool' | 'num' | 'str' | 'json', wires: string[]): FlowNode {
  return {
    id, type: 'inject', z: TAB, name: '', props: [{ p: 'payload' }], repeat: '', crontab: '', once: false, onceDelay: 0.1,
    topic: '', payload, payloadType, x: 140, y: 200, wires: [wires],
  };
}

export function recorder(id: string, tag: string): FlowNode {
  return recorderNode(id, tag, TAB);
}

/**
 * The end-to-end flow: greenhouse temperature readings to a recorder; inject true/false into
 * `xiota-control` of the fan; the fan's readings to another recorder. `generation` goes into
 * node names so each redeploy changes the flow.
 */
export function greenhouseFlow(socket: string, generation = 0): FlowNode[] {
  const g = generation ? ` #${generation}` : '';
  return [
    tab(),
    agentNode(socket),
    xiotaIn('in-temp', 'greenhouse', 'temperature', ['rec-temp'], { name: `temperature${g}` }),
    recorder('rec-temp', 'temp'),
    inject('fan-on', 'true', 'bool', ['ctl-fan']),
    inject('fan-off', 'false', 'bool', ['ctl-fan']),
    xiotaControl('ctl-fan', 'greenhouse', 'fan', ['rec-ctl'], { name: `fan${g}` }),
    recorder('rec-ctl', 'ctl'),
    xiotaIn('in-fan', 'greenhouse', 'fan', ['rec-fan'], { y: 300 }),
    recorder('rec-fan', 'fan'),
  ];
}
