// `xiota-control`: sets a field from msg.payload (or the node's typed value). A local thing's
// writable field through the agent (`set`, answered once the driver applied it), or any full
// JID's field by XEP-0325 (`remote.set`, XEP-0325 3.1). The message goes on after the set, with
// what was set in msg.xiota; a refused set goes to Catch nodes through done(err).
import { payloadValue, statusValue } from './lib/mappers';
import type { Node, NodeAPI, NodeDef, NodeMessage } from './lib/red';
import { controlRequest } from './lib/settings';
import { errorLabel } from './lib/status';
import { errorText, linkFor, onClose } from './lib/user';

export = function register(RED: NodeAPI): void {
  function XiotaControlNode(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const linked = linkFor(RED, node, def);
    if (!linked) return;
    const valueType = typeof def.valueFrom === 'string' && def.valueFrom ? def.valueFrom : 'msg';
    const valueProp = typeof def.value === 'string' && def.value ? def.value : 'payload';

    node.on('input', (msg: NodeMessage, send, done) => {
      let raw: unknown;
      try {
        raw = RED.util.evaluateNodeProperty(valueProp, valueType, node, msg);
      } catch (e) {
        linked.status.error('bad value');
        return done(new Error(`xiota-control: the value (${valueType} ${valueProp}): ${errorText(e)}`));
      }
      const v = payloadValue(raw);
      if ('error' in v) {
        linked.status.error('bad value');
        return done(new Error(`xiota-control: ${v.error}`));
      }
      const call = controlRequest(def, msg, v.value);
      if ('error' in call) {
        linked.status.error('bad request');
        return done(new Error(`xiota-control: ${call.error}`));
      }
      linked.link.request(call.method, call.params, { timeoutMs: 15_000 }).then(
        () => {
          msg.xiota = { ...call.params };
          send(msg);
          linked.status.value(`${String(call.params.field)}=${statusValue(v.value)}`);
          done();
        },
        (e: unknown) => {
          linked.status.error(errorLabel(e));
          done(new Error(`xiota-control: ${errorText(e)}`));
        },
      );
    });
    onClose(node, linked, () => undefined);
  }
  RED.nodes.registerType('xiota-control', XiotaControlNode as never);
};
