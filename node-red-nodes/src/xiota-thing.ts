// `xiota-thing`: the flow is a thing. Declared with its fields in the node's settings
// (`thing.declare`), it gets a PEP node, XEP-0323 readouts, XEP-0325 control and history like
// any driver's thing; every input message is published as one reading of it (`thing.publish`,
// done once the reading is in the agent's durable outbox). Sets of its writable fields arrive
// at xiota-control-in nodes. It is removed from the agent only when the node is deleted.
import { fieldsFromConfig, messageToValues, statusValue, THING_ID_RE } from './lib/mappers';
import type { ThingSpec } from './lib/protocol';
import type { Node, NodeAPI, NodeDef, NodeMessage } from './lib/red';
import { str } from './lib/settings';
import { errorLabel } from './lib/status';
import { errorText, linkFor, onClose } from './lib/user';

export = function register(RED: NodeAPI): void {
  function XiotaThingNode(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const linked = linkFor(RED, node, def);
    if (!linked) return;
    const id = str(def.thing);
    const parsed = fieldsFromConfig(def.fields);
    if (!THING_ID_RE.test(id) || 'error' in parsed) {
      linked.status.error('bad settings');
      node.error(`xiota-thing: ${'error' in parsed ? parsed.error : `thing id ${JSON.stringify(id)} must be letters, digits, . _ - (starting with a letter or digit, at most 64)`}`);
      onClose(node, linked, () => undefined);
      return;
    }
    const spec: ThingSpec = { id, ...(str(def.name) ? { name: str(def.name) } : {}), fields: parsed.fields };
    linked.link.declare(spec, (e) => {
      linked.status.error(errorLabel(e));
      node.error(`xiota-thing ${id}: the agent refused the declaration: ${errorText(e)}`);
    });

    node.on('input', (msg: NodeMessage, send, done) => {
      const r = messageToValues(msg.payload, msg.topic, spec);
      if ('error' in r) {
        linked.status.error('bad value');
        return done(new Error(`xiota-thing ${id}: ${r.error}`));
      }
      const x = typeof msg.xiota === 'object' && msg.xiota !== null ? (msg.xiota as Record<string, unknown>) : {};
      const ts = typeof x.timestamp === 'number' ? x.timestamp : undefined;
      linked.link.request('thing.publish', { thing: id, values: r.values, ...(ts ? { timestamp: ts } : {}) }).then(
        () => {
          const keys = Object.keys(r.values);
          linked.status.value(keys.length === 1 ? statusValue(r.values[keys[0]!], spec.fields.find((f) => f.name === keys[0])?.unit) : `${keys.length} values`);
          done();
        },
        (e: unknown) => {
          linked.status.error(errorLabel(e));
          done(new Error(`xiota-thing ${id}: publishing failed: ${errorText(e)}`));
        },
      );
    });
    // A redeploy (removed false) keeps the thing in the agent: the new instance re-declares it.
    onClose(node, linked, (removed) => linked.link.undeclare(id, removed));
  }
  RED.nodes.registerType('xiota-thing', XiotaThingNode as never);
};
