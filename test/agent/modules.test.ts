// The agent installs its modules from one list through a ModuleHost and unloads them on stop.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Agent } from '../../agent/agent';
import { configFromObject } from '../../agent/config';
import { MODULES } from '../../agent/modules';
import { NS_PING } from '../../agent/xep/basic';
import { NS_DISCO_INFO } from '../../agent/xep/disco';

const t = suite('agent modules');

function agentWith(modules = MODULES) {
  const r = configFromObject({ account: { jid: 'dev@example.org', password: 'x' }, server: { host: '127.0.0.1', port: 1 }, outbox: { dir: '/tmp/xiota-modules-test/outbox' } });
  assert.equal(r.errors, []);
  return new Agent({ config: r.config!, credentials: { password: 'x', source: 'password', warnings: [] }, drivers: [], modules });
}

t('the module list is installed in order, and stop() unloads every handler and feature', async () => {
  const agent = agentWith();
  assert.equal(agent.modules.names(), MODULES.map((m) => m.name));
  assert.equal(agent.modules.names().slice(0, 3), ['disco', 'basics', 'presence']);
  assert.ok(agent.client.router.has(`iq/get/${NS_DISCO_INFO}`));
  assert.ok(agent.client.router.has(`iq/get/${NS_PING}`));
  assert.ok(agent.disco.featureList().includes(NS_PING));
  await agent.stop();
  assert.equal(agent.modules.names(), []);
  assert.not.ok(agent.client.router.has(`iq/get/${NS_DISCO_INFO}`));
  assert.not.ok(agent.client.router.has(`iq/get/${NS_PING}`));
  assert.not.ok(agent.disco.featureList().includes(NS_PING));
});

t('a module that throws while installing leaves nothing behind and fails the agent', () => {
  assert.throws(() => agentWith([MODULES[0]!, { name: 'broken', install: (m) => { m.addFeature('urn:x:broken'); throw new Error('boom'); } }]), /boom/);
});

t.run();
