// XEP-0323 historical readouts from the history store, without a socket: literal `<req>` stanzas
// into the sensordata module over a real Router, a real DriverHost and a real store on disk
// seeded with a day of readings; what comes out: historical* flags per period (the spec's
// example: an hourly value at 00:00 is also historicalDay), mean under the field's name and
// "name, Min"/"name, Max" as peaks, from/to honoured, momentary + historical in one answer,
// 10,000 values streamed as bounded messages, and a readout past the limit saying what it cut.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessStore } from '../../agent/access-store';
import { HistoryStore, type HistoryReader } from '../../agent/history/store';
import { historicalPlan, streamHistorical } from '../../agent/iot/history-readout';
import { MAX_FIELDS_PER_MESSAGE, parseReq, type ReadoutRequest } from '../../agent/iot/readout';
import { install, NS_SENSORDATA } from '../../agent/xep/sensordata';
import type { Element } from '../../agent/xml/element';
import { DriverHost } from '../../drivers/host';
import { createSimulatedDriver } from '../../drivers/simulated';
import { parseXml } from '../pubsub/xml';
import { testContext } from '../xep/_context';
import { waitFor } from '../session/_helpers';

const DAY0 = Date.UTC(2026, 10, 30); // Monday 2026-11-30 00:00 UTC
const CLIENT = 'client@example.org/amr';
const root = mkdtempSync(join(tmpdir(), 'xiota-hread-'));
const hosts: DriverHost[] = [];
const stores: HistoryStore[] = [];
test.after.each(async () => { for (const h of hosts.splice(0)) await h.stop(); for (const s of stores.splice(0)) await s.close(); });
test.after(() => rmSync(root, { recursive: true, force: true }));

/** A store with one reading every 10 s for a day: temperature = hour of day + minute/100, door flips every minute. */
async function seeded(): Promise<{ store: HistoryStore; clock: { t: number } }> {
  const clock = { t: DAY0 };
  const store = await HistoryStore.open({ dir: mkdtempSync(join(root, 's-')), now: () => clock.t, timers: false });
  stores.push(store);
  for (let i = 0; i < 8640; i++) {
    clock.t = DAY0 + i * 10_000;
    const d = new Date(clock.t);
    store.append({ thing: 'gh', timestamp: clock.t, values: [{ field: 'temperature', value: d.getUTCHours() + d.getUTCMinutes() / 100 }, { field: 'open', value: d.getUTCMinutes() % 2 === 0 }] });
    if (i % 360 === 0) { await store.tick(); await store.flush(); }
  }
  clock.t = DAY0 + 86_400_000 + 10_000; // the day has closed
  await store.tick();
  await store.flush();
  return { store, clock };
}

async function setup(maxHistoricalValues?: number, wrap?: (s: HistoryReader) => HistoryReader) {
  const { store, clock } = await seeded();
  const t = testContext('device@example.org');
  t.clock.t = clock.t;
  const host = new DriverHost({ sampleTimeoutMs: 300, drivers: [createSimulatedDriver('sim', { pollIntervalMs: 3_600_000, things: [{ id: 'gh', fields: [
    { name: 'temperature', type: 'numeric', unit: '°C', precision: 2, waveform: 'constant', initial: 21.5 },
    { name: 'open', type: 'boolean', initial: false },
  ] }] }, { now: () => t.clock.t })] });
  await host.start();
  hosts.push(host);
  const access = new AccessStore({ policy: { owners: [], controllers: [], readers: ['client@example.org'], strangers: 'refuse' } });
  install(t.ctx, { drivers: host, access, things: () => host.things(), latest: () => host.latestReadings(), now: () => t.clock.t, history: wrap ? wrap(store) : store, maxHistoricalValues });
  const read = async (seqnr: string, attrs: string, body = '') => {
    await t.router.dispatch(parseXml(`<iq type='get' from='${CLIENT}' id='${seqnr}'><req xmlns='urn:xmpp:iot:sensordata' seqnr='${seqnr}' ${attrs}>${body}</req></iq>`));
    await waitFor(`done ${seqnr}`, () => t.sent.some((s) => s.name === 'message' && s.getChild('done', NS_SENSORDATA)?.attrs.seqnr === seqnr), 10_000, 10);
    // As the reader gets them: the stored values' messages are built as text.
    return t.sent.filter((s) => s.name === 'message').map((s) => parseXml(s.toString())).flatMap((s) => s.elements.filter((e) => e.xmlns === NS_SENSORDATA && e.attrs.seqnr === seqnr));
  };
  return { read, store, t };
}

function stamps(msgs: Element[]): Element[] {
  return msgs.filter((m) => m.name === 'fields').flatMap((m) => m.getChildren('node').flatMap((n) => n.getChildren('timestamp')));
}

test('historicalHour: 24 hourly values newest first, the 00:00 one also historicalDay, mean + Min/Max peaks', async () => {
  const { read } = await setup();
  const msgs = await read('1', "historicalHour='true'", "<field name='temperature'/>");
  const ts = stamps(msgs);
  assert.is(ts.length, 24);
  assert.is(ts[0]!.attrs.value, '2026-11-30T23:00:00Z');
  assert.is(ts[23]!.attrs.value, '2026-11-30T00:00:00Z');
  const [avg, min, max] = ts[0]!.elements;
  assert.equal([avg!.name, avg!.attrs.name, avg!.attrs.historicalHour, avg!.attrs.momentary, avg!.attrs.unit], ['numeric', 'temperature', 'true', undefined, '°C']);
  assert.is(avg!.attrs.value, '23.30'); // 23 + mean(0..59)/100 = 23.295, 2 decimals
  assert.equal([min!.attrs.name, min!.attrs.peak, min!.attrs.value], ['temperature, Min', 'true', '23.00']);
  assert.equal([max!.attrs.name, max!.attrs.value], ['temperature, Max', '23.59']);
  assert.is(ts[23]!.elements[0]!.attrs.historicalDay, 'true');
  assert.is(ts[0]!.elements[0]!.attrs.historicalDay, undefined);
  // The last fields message ends it (slixmpp), and <done/> follows (the spec).
  assert.is(msgs[msgs.length - 2]!.attrs.done, 'true');
  assert.is(msgs[msgs.length - 1]!.name, 'done');
});

test('from/to bound the values; historicalMinute of a boolean gives its last value; historicalDay is one day (also a week start)', async () => {
  const { read } = await setup();
  const m = stamps(await read('2', "historicalMinute='true' from='2026-11-30T12:00:00Z' to='2026-11-30T12:04:00Z'", "<field name='open'/>"));
  assert.equal(m.map((t) => t.attrs.value), ['12:04', '12:03', '12:02', '12:01', '12:00'].map((hm) => `2026-11-30T${hm}:00Z`));
  assert.equal(m.map((t) => t.elements[0]!.attrs.value), ['true', 'false', 'true', 'false', 'true']);
  assert.equal(m[4]!.elements.map((e) => e.attrs.name), ['open']);
  assert.is(m[4]!.elements[0]!.attrs.historicalHour, 'true');
  const d = stamps(await read('3', "historicalDay='true'", "<field name='temperature'/>"));
  assert.is(d.length, 1);
  const f = d[0]!.elements[0]!.attrs;
  assert.equal([f.historicalDay, f.historicalWeek, f.historicalMonth], ['true', 'true', undefined]);
});

test('momentary and historical in one readout: momentary first, history after, one done', async () => {
  const { read } = await setup();
  const msgs = await read('4', "momentary='true' historicalHour='true' from='2026-11-30T22:00:00Z'");
  const ts = stamps(msgs);
  assert.is(ts[0]!.elements[0]!.attrs.momentary, 'true');
  assert.equal(ts.slice(1).map((t) => t.attrs.value), ['2026-11-30T23:00:00Z', '2026-11-30T22:00:00Z']);
  assert.equal(msgs.filter((m) => m.attrs.done === 'true').length, 1);
  assert.is(msgs[msgs.length - 2]!.attrs.done, 'true');
});

test('raw values (historicalSecond/Other): 8,640 timestamps x 2 fields stream in messages of at most 100 fields', async () => {
  const { read } = await setup();
  const msgs = await read('5', "historicalOther='true'");
  const fields = msgs.filter((m) => m.name === 'fields');
  const counts = fields.map((f) => stamps([f]).reduce((k, t) => k + t.elements.length, 0));
  assert.is(counts.reduce((a, b) => a + b, 0), 10_000, 'the default limit: 10,000 values');
  assert.ok(Math.max(...counts) <= MAX_FIELDS_PER_MESSAGE, String(Math.max(...counts)));
  // The limit was reached: the answer says so, and where to go on from.
  const note = fields[fields.length - 1]!.getChildren('error').map((e) => e.text()).join(' ');
  assert.match(note, /history truncated: at most 10000 values per readout \(raw values\); for older values ask again with to='2026-11-30T\d\d:\d\d:\d\d.\d{3}Z'/);
});

test('a small limit: what was cut is named in the answer; a bare req (no history named) gets no history', async () => {
  const { read } = await setup(30);
  const msgs = await read('6', "historicalMinute='true'", "<field name='temperature'/>");
  assert.is(stamps(msgs).length, 30);
  assert.match(msgs.map((m) => m.getChildren('error').map((e) => e.text()).join('')).join(''), /at most 30 values per readout \(minute values\); for older values ask again with to='2026-11-30T23:29:59.999Z'/);
  const bare = stamps(await read('7', ''));
  assert.ok(bare.every((t) => t.elements.every((e) => e.attrs.momentary === 'true')), 'momentary only');
});

test('XEP-0326 addressing (nodeId with the data source, sourceId) reads history the same way', async () => {
  const { read } = await setup();
  const ts = stamps(await read('8', "historicalDay='true'", "<node nodeId='gh' sourceId='sim'/><field name='temperature'/>"));
  assert.is(ts.length, 1);
  assert.is(ts[0]!.elements[0]!.attrs.historicalDay, 'true');
});

test('many historical readouts at once: all answered, at most two built at a time (memory stays bounded)', async () => {
  let inFlight = 0;
  let most = 0;
  const { read } = await setup(2000, (s) => ({
    rollups: s.rollups,
    query: async (q) => {
      most = Math.max(most, ++inFlight);
      try { return await s.query(q); } finally { inFlight--; }
    },
  }));
  const all = await Promise.all(Array.from({ length: 10 }, (_, i) => read(`m${i}`, "historicalOther='true'")));
  for (const msgs of all) assert.is(stamps(msgs).reduce((k, t) => k + t.elements.length, 0), 2000);
  assert.ok(most <= 2, `${most} built at once`);
});

test('historicalPlan: every historical type asked -> one resolution by span; specific types -> those periods', () => {
  const now = DAY0;
  const r = (attrs: string) => parseReq(parseXml(`<req xmlns='urn:xmpp:iot:sensordata' seqnr='1' ${attrs}/>`)) as ReadoutRequest;
  assert.equal(historicalPlan(r("historical='true'"), true, now), { periods: ['minute'], from: now - 86_400_000, to: now });
  assert.equal(historicalPlan(r("historical='true' from='2026-11-29T23:00:00Z'"), true, now).periods, ['raw']);
  assert.equal(historicalPlan(r("historical='true' from='2026-01-01T00:00:00Z'"), true, now).periods, ['hour']);
  assert.equal(historicalPlan(r("historicalSecond='true' historicalOther='true' historicalDay='true'"), true, now).periods, ['raw', 'day']);
  assert.equal(historicalPlan(r(''), false, now).periods, []);
});



test('10,000 values stream: the first message leaves while the rest are built, and a cancel stops the rest', async () => {
  const { t } = await setup();
  const ofSeq = () => t.sent.filter((s) => s.name === 'message').map((s) => parseXml(s.toString()))
    .flatMap((s) => s.elements.filter((e) => e.xmlns === NS_SENSORDATA && e.attrs.seqnr === 's1'));
  await t.router.dispatch(parseXml(`<iq type='get' from='${CLIENT}' id='s1'><req xmlns='urn:xmpp:iot:sensordata' seqnr='s1' historicalOther='true'/></iq>`));
  await waitFor('the first fields', () => ofSeq().some((e) => e.name === 'fields'), 5000, 1);
  await t.router.dispatch(parseXml(`<iq type='get' from='${CLIENT}' id='c1'><cancel xmlns='urn:xmpp:iot:sensordata' seqnr='s1'/></iq>`));
  const cancelled = t.sent.find((s) => s.attrs.id === 'c1');
  assert.ok(cancelled?.getChild('cancelled', NS_SENSORDATA), 'cancel answered while the readout streams');
  await new Promise((r) => setTimeout(r, 300));
  const msgs = ofSeq();
  assert.ok(msgs.length < 100, `${msgs.length} messages after the cancel: it should have stopped`);
  assert.not.ok(msgs.some((e) => e.name === 'done' || e.attrs.done === 'true'), 'a cancelled readout gets no end');
});

test('stored values built as text: names, units and seqnr with XML specials come out well-formed and intact', async () => {
  const thing = { id: `a&b "q"`, fields: [{ name: `t<1>'`, type: 'numeric' as const, unit: '°C & more', precision: 1 }, { name: 'mode', type: 'string' as const }] };
  const rows = (field: string) => field === 'mode'
    ? [{ ts: DAY0 + 1500, value: 'x<y' }, { ts: DAY0, value: 'a&b' }]
    : [{ ts: DAY0 + 1500, value: 1.25 }, { ts: DAY0, value: 2 }];
  const reader: HistoryReader = { rollups: [], query: async (q) => ({ rows: rows(q.field), truncated: false, source: 'raw' }) };
  const got: Element[] = [];
  const req = parseReq(parseXml(`<req xmlns='urn:xmpp:iot:sensordata' seqnr='7&lt;' historicalOther='true' historicalSecond='true'/>`)) as ReadoutRequest;
  await streamHistorical(req.seqnr, req, true, [thing], reader, { ends: true, now: DAY0 + 5000, emit: async (p) => { got.push(parseXml(p.toString())); } });
  assert.is(got.length, 1);
  const f = got[0]!;
  assert.equal([f.attrs.seqnr, f.attrs.done], ['7<', 'true']);
  const node = f.getChild('node')!;
  assert.is(node.attrs.nodeId, `a&b "q"`);
  const ts = node.getChildren('timestamp');
  assert.equal(ts.map((t) => t.attrs.value), ['2026-11-30T00:00:01.500Z', '2026-11-30T00:00:00Z']);
  assert.equal(ts[0]!.elements.map((e) => [e.name, e.attrs.name, e.attrs.value, e.attrs.unit]), [['numeric', `t<1>'`, '1.3', '°C & more'], ['string', 'mode', 'x<y', undefined]]);
  assert.equal([ts[0]!.elements[0]!.attrs.historicalOther, ts[1]!.elements[0]!.attrs.historicalSecond, ts[1]!.elements[0]!.attrs.historicalMinute], ['true', 'true', 'true']);
});

test.run();
