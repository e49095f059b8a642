// The palette's node status line (node-red-nodes/src/lib/status.ts): connection states show at
// once; values reach node.status() at most once per interval, and the newest always shows (a
// trailing update); the same status twice is not sent again; a value's text is only made when
// it is shown; dispose clears a pending update and the status.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EventEmitter } from 'node:events';
import { load } from './_palette';

interface Status { fill?: string; shape?: string; text?: string }
interface StatusLine {
  value(text: string | (() => string)): void;
  error(text: string): void;
  dispose(): void;
}
const { NodeStatusLine } = load<{ NodeStatusLine: new (node: unknown, link: unknown, intervalMs?: number, now?: () => number) => StatusLine }>('lib/status.js');

class FakeLink extends EventEmitter {
  state = 'connected';
  sessionOnline = true;
}

function setup(intervalMs: number) {
  const shown: Status[] = [];
  const node = { status: (s: Status) => shown.push(s) };
  const link = new FakeLink();
  const line = new NodeStatusLine(node, link, intervalMs);
  return { shown, link, line };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('values: the first at once, a burst within the interval as one trailing update with the newest', async () => {
  const { shown, line } = setup(100);
  assert.equal(shown, [{ fill: 'green', shape: 'dot', text: 'node-red:common.status.connected' }]);
  line.value('1');
  assert.equal(shown.at(-1), { fill: 'green', shape: 'dot', text: '1' });
  let made = 0;
  for (let i = 2; i <= 50; i++) line.value(() => { made++; return String(i); });
  assert.is(shown.length, 2, 'nothing more within the interval');
  await sleep(150);
  assert.is(shown.length, 3, 'one trailing update');
  assert.equal(shown.at(-1), { fill: 'green', shape: 'dot', text: '50' });
  assert.is(made, 1, 'only the shown value\'s text was made');
  line.dispose();
});

test('the same status is not sent twice; connection changes show at once; dispose cancels a pending update', async () => {
  const { shown, link, line } = setup(60);
  line.value('7');
  await sleep(80);
  line.value('7');
  assert.is(shown.length, 2, 'the same "7" again is not sent');
  line.value('8'); // within the interval: pending
  link.state = 'disconnected';
  link.emit('state', 'disconnected');
  assert.equal(shown.at(-1), { fill: 'red', shape: 'ring', text: 'node-red:common.status.disconnected' });
  line.error('boom');
  line.dispose();
  const n = shown.length;
  assert.equal(shown.at(-1), {});
  await sleep(100);
  assert.is(shown.length, n, 'nothing after dispose');
  assert.is(link.listenerCount('state'), 0);
});

test.run();
