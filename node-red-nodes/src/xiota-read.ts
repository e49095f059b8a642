// `xiota-read`: a readout on every input message. Local things through the agent (`read`, the
// latest values or, with "fresh", a new sample), or an XEP-0323 momentary readout of any full
// JID through the agent's session (`remote.read`, XEP-0323 3.1). The message goes on with the
// values in msg.payload and every reading in msg.xiota.readings.
import { readoutPayload } from './lib/mappers';
import type { Reading } from './lib/protocol';
import type { Node, NodeAPI, NodeDef, NodeMessage } from './lib/red';
import { readRequest } from './lib/settings';
import { errorLabel } from './lib/status';
import { errorText, linkFor, onClose } from './lib/user';

export = function register(RED: NodeAPI): void {
  function XiotaReadNode(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const linked = linkFor(RED, node, def);
    if (!linked) return;
    const timeoutMs = Math.max(1000, Number(def.timeout) * 1000 || 10_000);

    node.on('input', (msg: NodeMessage, send, done) => {
      const call = readRequest(def, msg);
      if ('error' in call) {
        linked.status.error('bad request');
        return done(new Error(`xiota-read: ${call.error}`));
      }
      if (call.method === 'remote.read') call.params.timeout_ms = timeoutMs;
      linked.link.request<Reading[]>(call.method, call.params, { timeoutMs: timeoutMs + 2000 }).then(
        (readings) => {
          const list = Array.isArray(readings) ? readings : [];
          msg.payload = readoutPayload(list);
          msg.xiota = { ...(typeof call.params.jid === 'string' ? { jid: call.params.jid } : {}), readings: list };
          send(msg);
          const n = list.reduce((k, r) => k + r.values.length, 0);
          linked.status.value(`${n} value${n === 1 ? '' : 's'}`);
          done();
        },
        (e: unknown) => {
          linked.status.error(errorLabel(e));
          done(new Error(`xiota-read: ${errorText(e)}`));
        },
      );
    });
    onClose(node, linked, () => undefined);
  }
  RED.nodes.registerType('xiota-read', XiotaReadNode as never);
};
