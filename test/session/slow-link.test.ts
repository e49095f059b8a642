// The agent on a slow link (300 ms each way, 8 KB/s, test/servers/slow-link.ts) against
// Prosody 0.12: a burst of readings fills the link for several seconds; the keepalive, the
// XEP-0198 ack requests and the iq timeouts must not mistake the queue for a dead link (no
// reconnect, no timeout, no resend), and the outbox drains at the link's pace. Then idle
// long enough for keepalive probes, answered 600 ms later, still no reconnect.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../agent/agent';
import { configFromObject } from '../../agent/config';
import { startServer, type XmppServer } from '../../scripts/servers';
import { PushDriver } from '../../bench/push-driver';
import { startSlowLink, type SlowLink } from '../servers/slow-link';
import { waitFor } from './_helpers';

const READINGS = 150;
const t = suite('slow link');
let srv: XmppServer;
let link: SlowLink;
let dir: string;
let agent: Agent | undefined;

t.before(async () => {
  srv = await startServer('prosody-0.12', { users: [{ user: 'dev', password: 'devpass' }] });
  link = await startSlowLink({ target: { port: srv.directTlsPort }, latencyMs: 300, bytesPerSecond: 8 * 1024 });
  dir = mkdtempSync(join(tmpdir(), 'xiota-slow-'));
});
t.after(async () => {
  await agent?.stop();
  await link?.close();
  await srv?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

t('a burst drains at the link pace with no spurious reconnect, timeout or resend; idle keepalives pass', async () => {
  const r = configFromObject({
    account: { jid: `dev@${srv.host}`, password: 'devpass' },
    server: { host: '127.0.0.1', port: link.port, direct_tls: true },
    tls: { ca_file: srv.caFile },
    outbox: { dir: join(dir, 'outbox'), flush_interval_ms: 20 },
    pubsub: { access_model: 'open', max_items: 1000 },
    publish: { deadband: 0, min_interval_s: 0 },
    // Tight on purpose: probe after 5 s of silence, give up 2 s later, ask for acks every 1 s.
    session: { ping_interval_s: 5, ping_timeout_s: 2, ack_interval_s: 1 },
  });
  assert.equal(r.errors, []);
  const driver = new PushDriver('burst');
  const log = process.env.SLOW_DEBUG ? require('../../agent/log').createLogger({ level: 'debug', json: false, write: (l: string) => process.stderr.write(l + '\n') }) : undefined;
  agent = new Agent({ log, config: r.config!, credentials: { password: 'devpass', source: 'password', warnings: [] }, drivers: [driver] });
  const offline: string[] = [];
  const iqTimeouts: string[] = [];
  agent.client.on('offline', (e) => offline.push(e.message));
  agent.client.on('error', (e) => { if (e.code === 'XIOTA_E_TIMEOUT') iqTimeouts.push(e.message); });
  await agent.start();
  await waitFor('online', () => agent!.client.state === 'online', 30_000);
  const up0 = link.last().bytesUp;
  const t0 = Date.now();
  for (let i = 0; i < READINGS; i++) driver.emit(i);
  await waitFor(`every reading published (stats ${JSON.stringify(agent.pipeline!.stats)})`, () => agent!.pipeline!.stats.published >= READINGS, 90_000, 100)
    .catch((e: Error) => { throw new Error(`${e.message}; now ${JSON.stringify(agent!.pipeline!.stats)}, state ${agent!.client.state}, offline ${JSON.stringify(offline)}`); });
  const drainMs = Date.now() - t0;
  const upBytes = link.last().bytesUp - up0;
  const pace = (upBytes * 1000) / 8192;
  console.log(`  ${READINGS} readings: ${upBytes} B up in ${drainMs} ms (the link alone needs ${pace.toFixed(0)} ms at 8 KB/s)`);
  // The link set the pace: the burst queued there, and drained within a small factor of the
  // serialization time (measured 12-17 s for 7.6 s: the first publish's disco and node setup
  // cost round trips, and acks share the link).
  assert.ok(drainMs > 2000, `the burst really queued on the link (${drainMs} ms)`);
  assert.ok(drainMs < 2.5 * pace + 5000, `drained in ${drainMs} ms, the link needs ${pace.toFixed(0)} ms`);
  const s = agent.pipeline!.stats;
  assert.is(s.lost, 0);
  assert.is(s.rejected, 0);
  assert.is(s.published, READINGS, 'each reading published once (no resend after a false timeout)');
  await waitFor('outbox empty', () => (agent!.outbox?.pending ?? 0) === 0, 10_000);
  await waitFor('every stanza acknowledged', () => agent!.client.unackedCount === 0, 10_000);

  // Idle: the keepalive probes (SM <r/>) go out after 5 s of silence and come back 600 ms later.
  const down0 = link.last().bytesDown;
  await new Promise((r) => setTimeout(r, 12_000));
  assert.ok(link.last().bytesDown > down0, 'probes were answered while idle');
  assert.equal(offline, [], 'no reconnect');
  assert.equal(iqTimeouts, []);
  assert.is(link.traces.length, 1, 'one TCP connection for the whole test');
  assert.is(agent.client.state, 'online');
});

t.run();
