// xiota-test: exclusive (timing/CPU sensitive: test/run.ts runs it with nothing beside it)
// Driver faults seen end to end: one Agent runs a good simulated driver next to drivers that
// throw from sample(), hang inside it, return garbage, and fail to start. Through to PubSub on a
// real Prosody: the good thing's items keep coming with correct values, failed fields travel
// as XEP-0323 `missing`/`error` fields (never a made-up value), the session stays online, each
// fault is logged naming driver/thing/field, a hung driver is reported once, and nothing
// escapes as an unhandled rejection.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../agent/agent';
import { configFromObject } from '../../agent/config';
import { createLogger } from '../../agent/log';
import { createSimulatedDriver } from '../../drivers/simulated';
import type { Driver, Reading, ThingSpec } from '../../drivers/types';
import { itemsIq, parseItems } from '../../agent/xep/pubsub';
import { fieldsToReadings, parseFields } from '../../agent/xep/sensordata-fields';
import { startProsody, type ProsodyServer } from '../../scripts/local-prosody';
import type { XmppClient } from '../../agent/session/client';
import { clientFor, waitFor } from '../session/_helpers';

const t = suite('faults: drivers');
let srv: ProsodyServer;
let dir: string;
const escaped: unknown[] = [];
const onEscape = (e: unknown) => escaped.push(e);

t.before(async () => {
  process.on('unhandledRejection', onEscape);
  process.on('uncaughtException', onEscape);
  srv = await startProsody({ users: [{ user: 'dev', password: 'devpass' }, { user: 'watcher', password: 'watchpass' }] });
  dir = mkdtempSync(join(tmpdir(), 'xiota-faults-drivers-'));
});
t.after(async () => {
  await srv?.stop();
  rmSync(dir, { recursive: true, force: true });
  process.off('unhandledRejection', onEscape);
  process.off('uncaughtException', onEscape);
});

const POLL = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Garbage of every kind a buggy driver can produce; field `n` stays good so items keep coming. */
class JunkDriver implements Driver {
  readonly kind = 'junk';
  readonly pollIntervalMs = POLL;
  n = 0;
  constructor(readonly id: string) {}
  things(): ThingSpec[] {
    return [{ id: 'jk', fields: [{ name: 'n', type: 'int' }, { name: 'v', type: 'numeric', unit: '°C' }, { name: 'b', type: 'boolean' }, { name: 'w', type: 'numeric', unit: 'V' }] }];
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async sample(): Promise<Reading[]> {
    const k = ++this.n;
    return [
      { thing: 'jk', timestamp: Date.now(), values: [
        { field: 'n', value: k },
        { field: 'v', value: 'hot' },
        { field: 'b', value: 7 },
        { field: 'w', value: NaN },
        { field: 'bogus', value: 1 },
      ] },
      { thing: 'ghost', timestamp: Date.now(), values: [{ field: 'n', value: k }] },
      42 as unknown as Reading,
      null as unknown as Reading,
    ];
  }
}

/** A driver whose device is missing: start() throws every time. */
class BrokenDriver implements Driver {
  readonly kind = 'i2c';
  readonly pollIntervalMs = POLL;
  attempts = 0;
  constructor(readonly id: string) {}
  things(): ThingSpec[] {
    return [{ id: 'bk', fields: [{ name: 'pressure', type: 'numeric', unit: 'hPa' }] }];
  }
  async start(): Promise<void> {
    this.attempts++;
    throw new Error('cannot open /dev/i2c-9: no such device');
  }
  async stop(): Promise<void> {}
  async sample(): Promise<Reading[]> {
    throw new Error('sample() of a driver that never started');
  }
}

interface LogLine { level: string; msg: string; driver?: string; thing?: string; field?: string; message?: string; component?: string }

function query(w: XmppClient, node: string) {
  return w.iq(itemsIq(`dev@${srv.host}`, node), 10_000).then(parseItems);
}

t('throwing, hanging, garbage and unstartable drivers next to a good one, through to PubSub', async () => {
  const r = configFromObject({
    account: { jid: `dev@${srv.host}`, password: 'devpass' },
    server: { host: '127.0.0.1', port: srv.c2sPort },
    tls: { ca_file: srv.caFile },
    outbox: { dir: join(dir, 'outbox'), flush_interval_ms: 10 },
    pubsub: { access_model: 'open', max_items: 1000 },
    publish: { deadband: 0, min_interval_s: 0 },
  });
  assert.equal(r.errors, []);
  // The good thing is a noise-free ramp, so each item's value follows from its own timestamp.
  const RAMP = { min: 10, max: 30, periodS: 5, precision: 2 };
  const good = createSimulatedDriver('good', {
    seed: 7,
    pollIntervalMs: POLL,
    things: [
      { id: 'room', fields: [{ name: 'temperature', type: 'numeric', unit: '°C', waveform: 'ramp', ...RAMP }] },
      { id: 'mixed', fields: [
        { name: 'level', type: 'numeric', unit: 'cm', waveform: 'ramp', ...RAMP },
        { name: 'nan', type: 'numeric', unit: 'cm' },
        { name: 'dead', type: 'numeric', unit: 'cm' },
      ] },
    ],
    faults: [{ thing: 'mixed', field: 'nan', mode: 'garbage' }, { thing: 'mixed', field: 'dead', mode: 'error' }],
  });
  const thrower = createSimulatedDriver('thrower', { seed: 1, pollIntervalMs: POLL, things: [{ id: 'th', fields: [{ name: 'x', type: 'numeric', unit: '' }] }], faults: [{ thing: 'th', field: 'x', mode: 'throw' }] });
  const hanger = createSimulatedDriver('hanger', { seed: 2, pollIntervalMs: POLL, things: [{ id: 'hg', fields: [{ name: 'y', type: 'numeric', unit: '' }, { name: 'z', type: 'int' }] }], faults: [{ thing: 'hg', field: 'y', mode: 'hang' }] });
  const junk = new JunkDriver('junk');
  const broken = new BrokenDriver('broken');

  const logs: LogLine[] = [];
  const log = createLogger({ level: 'debug', json: true, write: (line) => logs.push(JSON.parse(line) as LogLine) });
  const agent = new Agent({ config: r.config!, credentials: { password: 'devpass', source: 'password', warnings: [] }, drivers: [good, thrower, hanger, junk, broken], log, retryDelayMs: 50 });
  let offline = 0;
  agent.client.on('offline', () => offline++);
  const watcher = clientFor(srv, 'watcher', 'watchpass', { resource: 'w', maxStanzaBytes: 16 * 1024 * 1024 });
  try {
    const t0 = Date.now();
    await agent.start();
    await waitFor('agent online', () => agent.client.state === 'online');
    await sleep(3500);
    const tEnd = Date.now();
    assert.is(agent.client.state, 'online', 'the session stayed up');
    assert.is(offline, 0, 'the session never went offline');
    assert.is(agent.drivers.state('good'), 'running');
    assert.is(agent.drivers.state('junk'), 'running');
    assert.ok(['retrying', 'starting'].includes(agent.drivers.state('broken')!), `broken driver keeps retrying (${agent.drivers.state('broken')})`);
    // Prosody's file store rewrites a node's items on each publish: on a loaded machine draining
    // 1000-item nodes takes a while; what matters is that it drains, not how fast.
    await waitFor('outbox drained', () => agent.pipeline!.idle, 40_000).catch((e: Error) => {
      const tail = logs.filter((l) => l.component === 'publish').slice(-8);
      throw new Error(`${e.message}; pending ${agent.outbox!.pending}; publish log: ${JSON.stringify(tail)}`);
    });
    await watcher.connectOnce();

    // Good thing: an item per poll (the ramp always moves), values right for their timestamps.
    const room = (await query(watcher, 'urn:xiota:room')).flatMap((it) => fieldsToReadings(it.payload!));
    const expected = (ts: number) => {
      const p = RAMP.periodS * 1000;
      return RAMP.min + (RAMP.max - RAMP.min) * ((ts % p) / p);
    };
    const polls = (tEnd - t0) / POLL;
    assert.ok(room.length >= polls * 0.6, `room items ${room.length} for ~${Math.round(polls)} polls`);
    for (const rd of room) {
      const v = rd.values[0]!;
      assert.is(v.field, 'temperature');
      assert.is(typeof v.value, 'number', `room value ${JSON.stringify(v)}`);
      assert.ok(Math.abs((v.value as number) - expected(rd.timestamp)) <= 0.0051, `temperature ${v.value} at ${rd.timestamp}, expected ${expected(rd.timestamp)}`);
    }
    // Items kept coming after the hang was reported and through the whole run.
    const hangAt = logs.find((l) => l.driver === 'hanger' && /did not return from sample/.test(l.msg));
    assert.ok(hangAt, 'hang reported');
    const newest = Math.max(...room.map((rd) => rd.timestamp));
    assert.ok(newest >= tEnd - 1000, `newest room item ${tEnd - newest} ms before the end`);

    // A thing with good and failed fields: the failed ones are flagged missing+error, no value.
    const mixed = (await query(watcher, 'urn:xiota:mixed')).flatMap((it) => parseFields(it.payload!));
    assert.ok(mixed.length >= polls * 0.6, `mixed items ${mixed.length}`);
    for (const m of mixed) {
      const by = new Map(m.fields.map((f) => [f.field, f]));
      assert.ok(Math.abs((by.get('level')!.value as number) - expected(m.timestamp)) <= 0.0051, `level ${by.get('level')!.value}`);
      for (const name of ['nan', 'dead']) {
        const f = by.get(name)!;
        assert.is(f.value, undefined, `${name} carries no value`);
        assert.ok(f.flags.includes('missing') && f.flags.includes('error'), `${name} flags ${f.flags}`);
      }
      assert.match(by.get('nan')!.error!, /field "mixed\/nan" expected a finite number, got NaN/);
      assert.is(by.get('dead')!.error, 'simulated sensor failure');
    }

    // Thrower: every field of its thing in error, with the driver's message.
    const th = (await query(watcher, 'urn:xiota:th')).flatMap((it) => parseFields(it.payload!));
    assert.ok(th.length >= 1, 'thrower has an item');
    for (const it of th) for (const f of it.fields) {
      assert.is(f.value, undefined);
      assert.ok(f.flags.includes('error'));
      assert.match(f.error!, /driver thrower failed to sample: simulated fault: th\/x throws/);
    }

    // Hanger: its fields in error (first "did not return", then "not answering"), never a value.
    const hg = (await query(watcher, 'urn:xiota:hg')).flatMap((it) => parseFields(it.payload!));
    assert.ok(hg.length >= 1, 'hanger has an item');
    for (const it of hg) {
      assert.equal(it.fields.map((f) => f.field).sort(), ['y', 'z']);
      for (const f of it.fields) {
        assert.is(f.value, undefined);
        assert.match(f.error!, /driver hanger (did not return from sample\(\) within 100 ms|is not answering)/);
      }
    }

    // Junk: the good field keeps its exact values; wrong types are field errors; the unknown
    // field and the undeclared thing are dropped (logged), never published.
    const jk = (await query(watcher, 'urn:xiota:jk')).flatMap((it) => parseFields(it.payload!));
    assert.ok(jk.length >= polls * 0.6, `junk items ${jk.length}`);
    const ns = jk.map((it) => it.fields.find((f) => f.field === 'n')!.value as number);
    assert.ok(ns.every((n, i) => Number.isInteger(n) && (i === 0 || n > ns[i - 1]!)), `n values ${ns.slice(0, 10)}`);
    for (const it of jk) {
      const by = new Map(it.fields.map((f) => [f.field, f]));
      assert.equal([...by.keys()].sort(), ['b', 'n', 'v', 'w'], 'bogus field not published');
      assert.match(by.get('v')!.error!, /field "jk\/v" expected a number, got "hot"/);
      assert.match(by.get('b')!.error!, /field "jk\/b" expected a boolean, got 7/);
      assert.match(by.get('w')!.error!, /field "jk\/w" expected a finite number, got NaN/);
      for (const k of ['v', 'b', 'w']) assert.is(by.get(k)!.value, undefined);
    }
    for (const node of ['urn:xiota:ghost', 'urn:xiota:bk']) {
      const err = await query(watcher, node).then(() => undefined, (e: Error) => e);
      assert.ok(err, `no node ${node}`);
    }

    // Logs: each fault names its driver (and thing/field where it has one).
    const warns = logs.filter((l) => l.level === 'warn' && l.component === 'drivers');
    const of = (driver: string, re: RegExp) => warns.filter((l) => l.driver === driver && re.test(l.msg));
    assert.ok(of('thrower', /^driver thrower failed to sample: simulated fault: th\/x throws$/).length >= 2, 'thrower logged');
    assert.is(warns.filter((l) => l.driver === 'hanger').length, 1, `hanger reported once: ${JSON.stringify(warns.filter((l) => l.driver === 'hanger'))}`);
    assert.match(of('hanger', /./)[0]!.msg, /^driver hanger did not return from sample\(\) within 100 ms$/);
    const nan = of('good', /field "mixed\/nan" expected a finite number, got NaN/);
    assert.ok(nan.length >= 2 && nan.every((l) => l.thing === 'mixed' && l.field === 'nan'), 'garbage field logged with thing and field');
    assert.ok(of('junk', /field "jk\/v" expected a number, got "hot"/).every((l) => l.thing === 'jk' && l.field === 'v'));
    assert.ok(of('junk', /sent unknown field "bogus" for thing "jk"/).length >= 2, 'unknown field logged');
    assert.ok(of('junk', /produced a reading for unknown thing "ghost"; it declares jk/).length >= 2, 'undeclared thing logged');
    assert.ok(of('junk', /produced 42 instead of a reading/).length >= 1, 'non-reading logged');
    const starts = of('broken', /^driver broken \(i2c\) failed to start: cannot open \/dev\/i2c-9: no such device; retrying in \d+ ms$/);
    assert.ok(starts.length >= 2 && starts.length === broken.attempts, `start failures logged per attempt (${starts.length}, ${broken.attempts} attempts)`);
    // Each fault is logged once, by the driver host; the agent passes it on to its modules
    // (presence, alerts) without logging it again (issue 8 review: it was logged twice).
    assert.is(logs.filter((l) => l.msg === 'driver fault').length, 0, 'no second log line per fault');
    assert.is(logs.filter((l) => l.level === 'error').length, 0, `no error-level lines: ${JSON.stringify(logs.filter((l) => l.level === 'error').slice(0, 3))}`);
    console.log(`drivers faults: ${Math.round(polls)} polls, items room=${room.length} mixed=${mixed.length} jk=${jk.length} th=${th.length} hg=${hg.length}; broken start attempts ${broken.attempts}; ${warns.length} driver warnings`);
  } finally {
    await agent.stop();
    await watcher.stop();
  }
  assert.equal(escaped, [], 'no unhandled rejection or exception');
});

t.run();
