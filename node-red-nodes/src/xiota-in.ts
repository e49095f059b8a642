// `xiota-in`: readings as messages. Local: a thing (or one field of it) of the gateway the
// agent runs on. Remote: any JID's PubSub node through the agent's session (XEP-0060 6.1), its
// XEP-0323 <fields/> payload decoded by the agent. topic = field, payload = value (or one
// message per reading), details under msg.xiota.
import { itemToMessages, readingToMessages, statusValue, type Mapped, type OutputMode } from './lib/mappers';
import type { ItemNote, ReadingNote } from './lib/protocol';
import type { Node, NodeAPI, NodeDef } from './lib/red';
import { str, subscriptionFromConfig } from './lib/settings';
import { errorLabel } from './lib/status';
import { errorText, linkFor, onClose } from './lib/user';

export = function register(RED: NodeAPI): void {
  function XiotaInNode(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const linked = linkFor(RED, node, def);
    if (!linked) return;
    const mode: OutputMode = def.output === 'reading' ? 'reading' : 'field';
    const params = subscriptionFromConfig(def);
    if ('error' in params) {
      linked.status.error('bad settings');
      node.error(`xiota-in: ${params.error}`);
      onClose(node, linked, () => undefined);
      return;
    }
    // A remote field filter applies to the item's readings (the subscription is per node).
    const onlyField = params.kind === 'pubsub' ? str(def.field) || undefined : undefined;
    const sub = linked.link.subscribe(
      params,
      (n: ReadingNote | ItemNote) => {
        const mapped: Mapped = 'xml' in n ? itemToMessages(n, mode, onlyField) : readingToMessages(n, mode);
        for (const m of mapped.messages) node.send(m);
        const last = mapped.messages[mapped.messages.length - 1];
        if (mapped.errors.length) linked.status.error(mapped.errors[0]!);
        else if (last) {
          const count = mapped.messages.length;
          linked.status.value(() => (mode === 'field' ? statusValue(last.payload, last.xiota.unit) : `${count > 1 ? count + ' readings' : last.topic}`));
        }
      },
      (e) => {
        linked.status.error(errorLabel(e));
        node.error(`xiota-in: ${errorText(e)}`);
      },
    );
    onClose(node, linked, () => sub.close());
  }
  RED.nodes.registerType('xiota-in', XiotaInNode as never);
};
