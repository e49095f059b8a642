// The agent's one record of what is failing (agent/faults.ts): what sets and clears a fault,
// what a thing's node and the presence line show, and that presence and XEP-0326 browsing
// share one record per agent, whose listeners go with the last module that used it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EventEmitter } from 'node:events';
import { FaultSet, faultsOf } from '../../agent/faults';
import type { AgentEvents } from '../../agent/modules';

const aModule = () => {
  const undo: (() => void)[] = [];
  return { onUnload: (fn: () => void) => { undo.push(fn); }, unload: () => { for (const f of undo.splice(0)) f(); } };
};

test('field, thing and driver faults: set by events and failed fields, cleared by what reads clean', () => {
  const f = new FaultSet();
  f.fault({ driver: 'sim', thing: 'gh', field: 'humidity', message: 'driver sim: field "gh/humidity" 140 is above 100', timestamp: 0 });
  assert.is(f.ofThing('gh', 'sim'), 'driver sim: field "gh/humidity" 140 is above 100', 'the host names the field itself');
  // A reading without that field (a partial reading) does not clear it; one with it clean does.
  f.reading({ thing: 'gh', timestamp: 1, values: [{ field: 'temperature', value: 20 }] }, 'sim');
  assert.ok(f.ofThing('gh', 'sim'));
  f.reading({ thing: 'gh', timestamp: 2, values: [{ field: 'humidity', value: 40 }, { field: 'temperature', value: 21 }] }, 'sim');
  assert.is(f.ofThing('gh', 'sim'), undefined);
  assert.is(f.size, 0);

  // A reading's failed field: named in front of its error.
  f.reading({ thing: 'gh', timestamp: 3, values: [{ field: 'temperature', error: 'ENOENT' }] }, 'sim');
  assert.is(f.ofThing('gh', 'sim'), 'temperature: ENOENT');
  assert.is(f.text(), 'gh.temperature: ENOENT');

  // A driver's fault shows on each of its things that has none of its own; any reading of the driver clears it.
  f.fault({ driver: 'w1', message: 'driver w1 failed to sample: ENOENT', timestamp: 4 });
  assert.is(f.ofDriver('w1'), 'driver w1 failed to sample: ENOENT');
  assert.is(f.ofThing('probe', 'w1'), 'driver w1 failed to sample: ENOENT');
  assert.is(f.text(), 'gh.temperature: ENOENT (+1 more)');
  f.reading({ thing: 'probe', timestamp: 5, values: [{ field: 't', value: 4 }] }, 'w1');
  assert.is(f.ofDriver('w1'), undefined);

  // A thing's own fault wins over its fields', until a reading of it is clean throughout.
  f.fault({ driver: 'sim', thing: 'gh', message: 'gh: sensor unplugged', timestamp: 6 });
  assert.is(f.ofThing('gh', 'sim'), 'gh: sensor unplugged');
  f.reading({ thing: 'gh', timestamp: 7, values: [{ field: 'temperature', value: 20 }] }, 'sim');
  assert.is(f.ofThing('gh', 'sim'), undefined);
});

test('one record per agent: every module of it gets the same one, current before their own listeners run', () => {
  const events = new EventEmitter<AgentEvents>();
  const presence = aModule(), concentrator = aModule();
  const a = faultsOf(presence, events);
  const seen: (string | undefined)[] = [];
  // A module's own listener, added after it asked for the record (as presence does).
  events.on('fault', () => seen.push(a.ofDriver('sim')));
  const b = faultsOf(concentrator, events);
  assert.ok(a === b, 'presence and XEP-0326 browsing read one record');
  assert.ok(faultsOf(aModule(), new EventEmitter<AgentEvents>()) !== a, 'another agent, another record');
  events.emit('fault', { driver: 'sim', message: 'link lost', timestamp: 0 });
  assert.equal(seen, ['link lost']);
  assert.is(b.ofDriver('sim'), 'link lost');

  // Unload undoes everything: the record's listeners go with the last module using it.
  presence.unload();
  assert.is(events.listenerCount('reading'), 1);
  concentrator.unload();
  assert.is(events.listenerCount('reading'), 0);
  assert.is(events.listenerCount('fault'), 1, 'only the test\'s own listener is left');
  assert.is(faultsOf(aModule(), events).size, 0, 'a module loaded again starts from what it sees');
});

test.run();
