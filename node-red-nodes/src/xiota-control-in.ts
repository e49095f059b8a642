// `xiota-control-in`: sets addressed to a flow-defined thing's writable fields (from XMPP chat,
// ad-hoc commands, XEP-0325, or another API client) arrive as messages: topic = field,
// payload = value, msg.xiota.from = who set it. The agent gets its answer once the message is
// sent on, so a controller's set succeeds only when a flow received it.
import type { ThingSetRequest } from './lib/protocol';
import type { Node, NodeAPI, NodeDef } from './lib/red';
import { statusValue } from './lib/mappers';
import { str } from './lib/settings';
import { linkFor, onClose } from './lib/user';

export = function register(RED: NodeAPI): void {
  function XiotaControlInNode(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const linked = linkFor(RED, node, def);
    if (!linked) return;
    const thing = str(def.thing);
    const field = str(def.field);
    if (!thing) {
      linked.status.error('no thing');
      node.error('xiota-control-in: set the Thing whose sets this node receives (the id of a xiota-thing node)');
      onClose(node, linked, () => undefined);
      return;
    }
    const off = linked.link.onThingSet(thing, async (set: ThingSetRequest) => {
      if (field && set.field !== field) return false;
      node.send({ topic: set.field, payload: set.value, xiota: { thing: set.thing, field: set.field, ...(set.from ? { from: set.from } : {}) } });
      linked.status.value(`${set.field}=${statusValue(set.value)}`);
      return true;
    });
    onClose(node, linked, () => off());
  }
  RED.nodes.registerType('xiota-control-in', XiotaControlInNode as never);
};
