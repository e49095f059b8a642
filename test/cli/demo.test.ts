// `npm run demo` smoke test: the compiled demo with DEMO_SECONDS stops by itself, exits 0
// only when the watcher printed a live reading, and removes its Prosody dir.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { DEMO, envWith, killAll, startScript } from './_run';

test.after(() => killAll());

test('demo with DEMO_SECONDS=10: check passes, the watcher prints readings, exit 0, temp dir gone', async () => {
  const r = await startScript(DEMO, [], { env: envWith({ DEMO_SECONDS: '10' }), timeoutMs: 30_000 }).done;
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^\[check\] sasl +SCRAM-/m);
  assert.match(r.stdout, /^\[agent\] .*session online/m);
  assert.match(r.stdout, /^\[watcher\] room temperature=\d+(\.\d+)? °C humidity=\d+(\.\d+)? % relay=(on|off)$/m);
  // bytes and seconds in units people read (drivers/linux.ts reports B and s)
  assert.match(r.stdout, /^\[watcher\] host .*memory_total=\d+(\.\d+)? (MiB|GiB|TiB) /m);
  assert.not.match(r.stdout, /=\d{7,} B\b/);
  assert.match(r.stdout, /^\[agent\] .*SIGTERM: stopping/m);
  // the watcher is an owner following the device (access_model presence), asks in chat
  assert.match(r.stdout, /^\[demo\] watcher asks the gateway in chat: status$/m);
  assert.match(r.stdout, /^\[chat\] .*temperature: \d+(\.\d+)? °C/m);
  assert.match(r.stdout, /^\[demo\] try it from a real client while this runs: log in as you@\S+ password \S+, server 127\.0\.0\.1 port \d+/m);
  const dir = /removed (\S+)$/m.exec(r.stdout)?.[1];
  assert.ok(dir, 'the demo names its temp dir');
  assert.not.ok(existsSync(dir!), `${dir} removed`);
});

test.run();
