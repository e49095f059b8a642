// XEP-0324 provisioning, thing side, without a socket: the XEP's own example stanzas (literal
// XML) for the questions the device asks and the answers it reads; then the module over a real
// Router with the real AccessStore, sensordata and control modules: a stranger's readout and set
// go to the provisioning server and are narrowed to what it grants; clearCache; friend/unfriend;
// an unanswered question is a refusal, logged.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AccessStore } from '../../agent/access-store';
import { configFromObject } from '../../agent/config';
import { createLogger } from '../../agent/log';
import type { ModuleContext } from '../../agent/module';
import { StanzaError } from '../../agent/session/stanza';
import { install as installControl } from '../../agent/xep/control';
import { AnswerCache, NS_PROVISIONING, cacheKey, install, parseAnswer, questionElement } from '../../agent/xep/provisioning';
import { install as installReadout } from '../../agent/xep/sensordata';
import { Element } from '../../agent/xml/element';
import { DriverHost } from '../../drivers/host';
import { createSimulatedDriver } from '../../drivers/simulated';
import { parseXml } from '../pubsub/xml';
import { waitFor } from '../session/_helpers';
import { testContext, type TestContext } from './_context';

/** Attributes sorted, whitespace dropped: two elements that mean the same print the same. */
function norm(el: Element, drop: string[] = []): string {
  const attrs = Object.entries(el.attrs).filter(([k]) => !drop.includes(k)).sort(([a], [b]) => a.localeCompare(b));
  const copy = new Element(el.name, el.xmlns, Object.fromEntries(attrs));
  for (const c of el.children) if (typeof c !== 'string') copy.children.push(parseXml(norm(c, drop)));
  return copy.toString();
}

const TOKENS = ['serviceToken', 'userToken', 'deviceToken'];

test('questions: the shapes of XEP-0324 isFriend, canRead (nodes, momentary) and canControl (parameters)', () => {
  // 'Friendship request accepted'
  assert.is(norm(questionElement('client1@example.org/phone', { question: 'friend' })), norm(parseXml(`<isFriend xmlns='urn:xmpp:iot:provisioning' jid='client1@example.org'/>`)));
  // 'Restricting nodes during read-out' (tokens are the caller's; xiota sends none)
  assert.is(norm(questionElement('primary@example.org/amr', { question: 'read', nodes: ['Device02', 'Device03'], kinds: ['momentary'] })), norm(parseXml(`
  <canRead xmlns='urn:xmpp:iot:provisioning' jid='primary@example.org' momentary='true' serviceToken='SERVICETOKEN1' userToken='USERTOKEN1'>
    <node nodeId='Device02'/>
    <node nodeId='Device03'/>
  </canRead>`), TOKENS));
  // 'Restricting parameters during control'
  assert.is(norm(questionElement('primary@example.org', { question: 'control', fields: ['DigitalOutput1', 'AnalogOutput1'] })), norm(parseXml(`
  <canControl xmlns='urn:xmpp:iot:provisioning' jid='primary@example.org' serviceToken='SERVICETOKEN1' userToken='user0001'>
    <parameter name='DigitalOutput1'/>
    <parameter name='AnalogOutput1'/>
  </canControl>`), TOKENS));
  // historicalDay is one flag to the server: its schema knows `historical` only
  assert.is(questionElement('a@b.org', { question: 'read', kinds: ['historicalDay'] }).attrs.historical, 'true');
});

test('answers: the XEP\'s responses read as grants, narrowed to what was asked', () => {
  const ns = NS_PROVISIONING;
  assert.equal(parseAnswer(parseXml(`<isFriendResponse xmlns='${ns}' jid='client1@example.org' result='true'/>`), { question: 'friend' }), { allowed: true });
  assert.equal(parseAnswer(parseXml(`<isFriendResponse xmlns='${ns}' jid='client2@example.org' result='false'/>`), { question: 'friend' }), { allowed: false });
  assert.equal(parseAnswer(parseXml(`<canReadResponse xmlns='${ns}' jid='primary@example.org' momentary='true' result='false'/>`), { question: 'read' }), { allowed: false });
  assert.equal(parseAnswer(parseXml(`
  <canReadResponse xmlns='${ns}' jid='primary@example.org' momentary='true' result='true'>
    <node nodeId='Device02'/>
  </canReadResponse>`), { question: 'read', nodes: ['Device02', 'Device03'] }), { allowed: true, nodes: ['Device02'] });
  assert.equal(parseAnswer(parseXml(`
  <canReadResponse xmlns='${ns}' jid='primary@example.org' momentary='true' result='true'>
    <field name='Energy'/>
    <field name='Power'/>
  </canReadResponse>`), { question: 'read' }), { allowed: true, fields: ['Energy', 'Power'] });
  assert.equal(parseAnswer(parseXml(`
  <canControlResponse xmlns='${ns}' jid='primary@example.org' result='true'>
    <parameter name='DigitalOutput1'/>
    <parameter name='DigitalOutput2'/>
  </canControlResponse>`), { question: 'control', fields: ['DigitalOutput1', 'DigitalOutput2', 'AnalogOutput1'] }), { allowed: true, fields: ['DigitalOutput1', 'DigitalOutput2'] });
  assert.equal(parseAnswer(parseXml(`<canControlResponse xmlns='${ns}' jid='primary@example.org' result='false'/>`), { question: 'control' }), { allowed: false });
  // a node granted that was not asked for is ignored; nothing left = refused
  assert.equal(parseAnswer(parseXml(`<canReadResponse xmlns='${ns}' jid='p@e.org' result='true'><node nodeId='Other'/></canReadResponse>`), { question: 'read', nodes: ['Device02'] }), { allowed: false });
  // the wrong answer, or no result, is an error (the module refuses on it)
  assert.instance(parseAnswer(parseXml(`<canReadResponse xmlns='${ns}' jid='p@e.org'/>`), { question: 'read' }), StanzaError);
  assert.instance(parseAnswer(parseXml(`<isFriendResponse xmlns='${ns}' jid='p@e.org' result='true'/>`), { question: 'read' }), StanzaError);
});

test('cache: least recently used go first; clear by JID or all; the key ignores order', () => {
  const c = new AnswerCache(2);
  const k1 = cacheKey('a@x.org/r', { question: 'read', nodes: ['n2', 'n1'] });
  assert.is(k1, cacheKey('A@x.org', { question: 'read', nodes: ['n1', 'n2'] }));
  c.set(k1, { allowed: true });
  c.set(cacheKey('b@x.org', {}), { allowed: false });
  c.get(k1); // a is now the most recent
  c.set(cacheKey('c@x.org', {}), { allowed: true });
  assert.ok(c.get(k1));
  assert.is(c.get(cacheKey('b@x.org', {})), undefined);
  c.clear('c@x.org');
  assert.is(c.size, 1);
  c.clear();
  assert.is(c.size, 0);
});

interface Rig { t: TestContext; access: AccessStore; host: DriverHost; logs: string[]; prov: ReturnType<typeof install> }

async function rig(timeoutS = 10): Promise<Rig> {
  const t = testContext('plc@example.org');
  const logs: string[] = [];
  (t.ctx as { log: ModuleContext['log'] }).log = createLogger({ level: 'debug', json: true, write: (l) => logs.push(l) });
  const access = new AccessStore({ policy: { owners: ['owner@example.org'], controllers: [], readers: [], strangers: 'refuse' }, self: 'plc@example.org' });
  const driver = createSimulatedDriver('sim', {
    seed: 1, pollIntervalMs: 600_000,
    things: [
      { id: 'Meter', fields: [
        { name: 'Energy', type: 'numeric', unit: 'kWh', precision: 1, waveform: 'constant', initial: 12.5 },
        { name: 'Power', type: 'numeric', unit: 'W', precision: 0, waveform: 'constant', initial: 240 },
        { name: 'Secret', type: 'numeric', precision: 0, waveform: 'constant', initial: 7 },
      ] },
      { id: 'Relays', fields: [
        { name: 'DigitalOutput1', type: 'boolean', writable: true, initial: false },
        { name: 'DigitalOutput2', type: 'boolean', writable: true, initial: false },
      ] },
    ],
  });
  const host = new DriverHost({ drivers: [driver] });
  await host.start();
  const prov = install(t.ctx, { config: { service: 'provisioning.example.org', timeoutS, cacheSize: 100, fallback: 'refuse' }, access });
  installReadout(t.ctx, { drivers: host, access, things: () => host.things(), latest: () => host.latestReadings(), now: () => Date.now() });
  installControl(t.ctx, { drivers: host, access, things: () => host.things(), latest: () => host.latestReadings() });
  return { t, access, host, logs, prov };
}

/** Waits for the module's next question to the provisioning server. */
async function nextQuestion(t: TestContext, name: string) {
  await waitFor(`a ${name} question`, () => t.iqs.some((q) => q.req.elements[0]?.name === name));
  const i = t.iqs.findIndex((q) => q.req.elements[0]?.name === name);
  return t.iqs.splice(i, 1)[0]!;
}

test('readout by a stranger: canRead goes to the server; only the granted fields are sent (Restricting fields during read-out)', async () => {
  const { t, host } = await rig();
  try {
    const done = t.router.dispatch(parseXml(`<iq type='get' from='primary@example.org/amr' to='plc@example.org' id='15'>
      <req xmlns='urn:xmpp:iot:sensordata' momentary='true' seqnr='3'/></iq>`));
    const q = await nextQuestion(t, 'canRead');
    assert.is(q.req.attrs.to, 'provisioning.example.org');
    assert.is(q.req.attrs.type, 'get');
    assert.is(norm(q.req.elements[0]!), norm(parseXml(`<canRead xmlns='urn:xmpp:iot:provisioning' jid='primary@example.org' momentary='true'/>`)));
    q.resolve(parseXml(`<iq type='result' from='provisioning.example.org' to='plc@example.org/plc' id='16'>
      <canReadResponse xmlns='urn:xmpp:iot:provisioning' jid='primary@example.org' momentary='true' result='true'>
        <field name='Energy'/><field name='Power'/>
      </canReadResponse></iq>`));
    await done;
    await waitFor('the readout', () => t.sent.some((s) => s.getChild('done', 'urn:xmpp:iot:sensordata')));
    const accepted = t.sent.find((s) => s.name === 'iq' && s.attrs.id === '15')!;
    assert.is(accepted.attrs.type, 'result');
    const text = t.sent.filter((s) => s.name === 'message').map(String).join('');
    assert.match(text, /name="Energy"/);
    assert.match(text, /name="Power"/);
    assert.not.match(text, /Secret/);
  } finally { t.unload(); await host.stop(); }
});

test('readout refused by the server: the XEP-0323 rejection, and the answer is cached (no second question)', async () => {
  const { t, host, prov } = await rig();
  try {
    const req = (id: string, seq: string) => parseXml(`<iq type='get' from='primary@example.org/amr' to='plc@example.org' id='${id}'><req xmlns='urn:xmpp:iot:sensordata' momentary='true' seqnr='${seq}'/></iq>`);
    const first = t.router.dispatch(req('11', '1'));
    const q = await nextQuestion(t, 'canRead');
    q.resolve(parseXml(`<iq type='result' id='12'><canReadResponse xmlns='urn:xmpp:iot:provisioning' jid='primary@example.org' momentary='true' result='false'/></iq>`));
    await first;
    const err = t.sent.find((s) => s.attrs.id === '11')!;
    assert.is(err.attrs.type, 'error');
    assert.ok(err.getChild('error')?.getChild('forbidden'));
    assert.ok(err.getChild('rejected', 'urn:xmpp:iot:sensordata'));
    await t.router.dispatch(req('13', '2'));
    assert.is(t.sent.find((s) => s.attrs.id === '13')?.attrs.type, 'error');
    assert.is(prov.asked(), 1);
    // XEP-0324 'Clear cache' from the server: acknowledged, and the next readout asks again
    await t.router.dispatch(parseXml(`<iq type='set' from='provisioning.example.org' to='plc@example.org' id='23'><clearCache xmlns='urn:xmpp:iot:provisioning'/></iq>`));
    const ack = t.sent.find((s) => s.attrs.id === '23')!;
    assert.is(norm(ack), norm(parseXml(`<iq type='result' to='provisioning.example.org' id='23'><clearCacheResponse xmlns='urn:xmpp:iot:provisioning'/></iq>`)));
    assert.is(prov.cache.size, 0);
    void t.router.dispatch(req('14', '3'));
    await nextQuestion(t, 'canRead');
    assert.is(prov.asked(), 2);
    // clearCache from anyone else: refused, cache untouched
    await t.router.dispatch(parseXml(`<iq type='set' from='mallory@example.org/x' id='24'><clearCache xmlns='urn:xmpp:iot:provisioning'/></iq>`));
    assert.is(t.sent.find((s) => s.attrs.id === '24')?.attrs.type, 'error');
  } finally { t.unload(); await host.stop(); }
});

test('set by a stranger: canControl with the parameters; only the granted one is set and named in setResponse', async () => {
  const { t, host } = await rig();
  try {
    const done = t.router.dispatch(parseXml(`<iq type='set' from='primary@example.org/amr' to='plc@example.org' id='21'>
      <set xmlns='urn:xmpp:iot:control' xml:lang='en'>
        <boolean name='DigitalOutput1' value='true'/>
        <boolean name='DigitalOutput2' value='true'/>
      </set></iq>`));
    const q = await nextQuestion(t, 'canControl');
    assert.is(norm(q.req.elements[0]!), norm(parseXml(`<canControl xmlns='urn:xmpp:iot:provisioning' jid='primary@example.org'>
      <parameter name='DigitalOutput1'/><parameter name='DigitalOutput2'/></canControl>`)));
    q.resolve(parseXml(`<iq type='result' id='22'><canControlResponse xmlns='urn:xmpp:iot:provisioning' jid='primary@example.org' result='true'>
      <parameter name='DigitalOutput1'/></canControlResponse></iq>`));
    await done;
    const res = t.sent.find((s) => s.attrs.id === '21')!;
    assert.is(res.attrs.type, 'result');
    assert.is(norm(res.elements[0]!), norm(parseXml(`<setResponse xmlns='urn:xmpp:iot:control' responseCode='OK'><parameter name='DigitalOutput1'/></setResponse>`)));
    const relays = await host.readThing('Relays');
    assert.is(relays?.values.find((v) => v.field === 'DigitalOutput1')?.value, true);
    assert.is(relays?.values.find((v) => v.field === 'DigitalOutput2')?.value, false);
  } finally { t.unload(); await host.stop(); }
});

test('set refused by the server: InsufficientPrivileges, nothing changes', async () => {
  const { t, host } = await rig();
  try {
    const done = t.router.dispatch(parseXml(`<iq type='set' from='primary@example.org/amr' id='17'><set xmlns='urn:xmpp:iot:control'><boolean name='DigitalOutput2' value='true'/></set></iq>`));
    const q = await nextQuestion(t, 'canControl');
    q.resolve(parseXml(`<iq type='result' id='18'><canControlResponse xmlns='urn:xmpp:iot:provisioning' jid='primary@example.org' result='false'/></iq>`));
    await done;
    const res = t.sent.find((s) => s.attrs.id === '17')!;
    assert.is(res.attrs.type, 'error');
    assert.is(res.getChild('setResponse', 'urn:xmpp:iot:control')?.attrs.responseCode, 'InsufficientPrivileges');
    assert.is((await host.readThing('Relays'))?.values.find((v) => v.field === 'DigitalOutput2')?.value, false);
  } finally { t.unload(); await host.stop(); }
});

test('the server does not answer: refused (fails closed), logged with the question; owners never ask', async () => {
  const { t, host, logs, access } = await rig();
  try {
    const done = t.router.dispatch(parseXml(`<iq type='get' from='primary@example.org/amr' id='31'><req xmlns='urn:xmpp:iot:sensordata' momentary='true' seqnr='9'/></iq>`));
    const q = await nextQuestion(t, 'canRead');
    q.reject(new Error('no reply to iq within 10000 ms'));
    await done;
    assert.is(t.sent.find((s) => s.attrs.id === '31')?.attrs.type, 'error');
    const line = logs.find((l) => l.includes('provisioning server did not answer'));
    assert.ok(line, logs.join('\n'));
    assert.match(line!, /canRead/);
    assert.match(line!, /primary@example.org/);
    // not cached: the next question asks again
    assert.is((access.decide('primary@example.org', 'read')).delegate, true);
    // an owner is decided locally, no question
    const before = t.iqs.length;
    assert.is((await access.check('owner@example.org/phone', 'control')).allowed, true);
    assert.is(t.iqs.length, before);
  } finally { t.unload(); await host.stop(); }
});

test('friend and unfriend from the server are acted on; from anyone else ignored', async () => {
  const { t, host, prov, access } = await rig();
  try {
    const p = access.check('client2@example.org', 'read', { question: 'friend' });
    (await nextQuestion(t, 'isFriend')).resolve(parseXml(`<iq type='result' id='9'><isFriendResponse xmlns='urn:xmpp:iot:provisioning' jid='client2@example.org' result='true'/></iq>`));
    assert.is((await p).allowed, true);
    assert.is(prov.cache.size, 1);
    await t.router.dispatch(parseXml(`<message from='mallory@example.org/x' to='plc@example.org'><unfriend xmlns='urn:xmpp:iot:provisioning' jid='client2@example.org'/></message>`));
    assert.is(prov.cache.size, 1);
    assert.not.ok(t.sent.some((s) => s.name === 'presence'));
    await t.router.dispatch(parseXml(`<message from='provisioning.example.org' to='plc@example.org'><unfriend xmlns='urn:xmpp:iot:provisioning' jid='client2@example.org'/></message>`));
    assert.is(prov.cache.size, 0);
    assert.ok(t.sent.some((s) => s.name === 'presence' && s.attrs.to === 'client2@example.org' && s.attrs.type === 'unsubscribed'));
    await t.router.dispatch(parseXml(`<message from='provisioning.example.org' to='plc@example.org'><friend xmlns='urn:xmpp:iot:provisioning' jid='client3@example.org'/></message>`));
    assert.ok(t.sent.some((s) => s.name === 'presence' && s.attrs.to === 'client3@example.org' && s.attrs.type === 'subscribe'));
  } finally { t.unload(); await host.stop(); }
});

test('access: what the local policy leaves to the provisioning server, and what it never does', async () => {
  const access = new AccessStore({ policy: { owners: ['owner@example.org'], controllers: [], readers: ['reader@example.org'], strangers: 'refuse' }, self: 'dev@example.org' });
  // without a provisioning server nothing is delegated: the lists decide
  assert.is(access.decide('stranger@example.org', 'read').delegate, undefined);
  let partial = false;
  const off = access.delegateTo({
    cached: () => (partial ? { allowed: true, fields: ['Energy'] } : undefined),
    ask: async () => ({ allowed: true }),
  });
  assert.is(access.decide('stranger@example.org', 'read').delegate, true);
  assert.is(access.decide('reader@example.org', 'control').delegate, true); // more than the lists give
  assert.is(access.decide('reader@example.org', 'read').delegate, undefined); // the lists allow it
  assert.is(access.decide('stranger@example.org', 'alerts').delegate, undefined); // owners' things stay local
  assert.is(access.decide('stranger@example.org', 'admin').delegate, undefined);
  assert.is(access.decide('provisioning.example.org', 'read').delegate, undefined); // not an account
  await access.deny('denied@example.org', 'owner@example.org');
  assert.is(access.decide('denied@example.org', 'read').delegate, undefined); // an owner's no is final
  assert.equal(await access.check('stranger@example.org/x', 'control'), { allowed: true, role: 'controller', action: 'control', jid: 'stranger@example.org', delegate: false, by: 'provisioning' });
  // a cached partial grant does not pass where the caller cannot narrow it (chat, sync callers)
  partial = true;
  assert.is(access.decide('stranger@example.org', 'read').allowed, false);
  off();
  assert.is(access.decide('stranger@example.org', 'read').delegate, undefined);
});

test('access: a registry-claimed owner is an owner; owners\' run-time decisions cannot touch it', async () => {
  const access = new AccessStore({ policy: { owners: [], controllers: [], readers: [], strangers: 'refuse' } });
  await access.addOwner('Claimer@Example.org');
  assert.is(access.roleOf('claimer@example.org/phone'), 'owner');
  assert.ok(access.decide('claimer@example.org', 'alerts').allowed);
  assert.equal(access.ownerJids(), ['claimer@example.org']);
  assert.ok(access.list().some((e) => e.jid === 'claimer@example.org' && e.source === 'claimed'));
  await access.deny('claimer@example.org').then(() => assert.unreachable('denied an owner'), (e: Error) => assert.match(e.message, /Thing Registry claim/));
  await access.removeOwner('claimer@example.org');
  assert.is(access.roleOf('claimer@example.org'), 'stranger');
});

test('fallback local: an unanswered question is the access: block\'s decision (by local), logged as such; a client-account service gets a subscription and its questions go to its full JID', async () => {
  const t = testContext('plc@example.org');
  const logs: string[] = [];
  (t.ctx as { log: ModuleContext['log'] }).log = createLogger({ level: 'debug', json: true, write: (l) => logs.push(l) });
  const access = new AccessStore({ policy: { owners: ['owner@example.org'], controllers: [], readers: [], strangers: 'ask_owners' } });
  install(t.ctx, { config: { service: 'prov@example.org', timeoutS: 10, cacheSize: 100, fallback: 'local' }, access });
  try {
    await t.router.dispatch(parseXml(`<presence from='prov@example.org/svc'/>`));
    const d = access.check('stranger@example.org', 'read', { question: 'friend' });
    const q = await nextQuestion(t, 'isFriend');
    assert.is(q.req.attrs.to, 'prov@example.org/svc');
    q.reject(new Error('no reply to iq within 10000 ms'));
    const dec = await d;
    assert.equal([dec.allowed, dec.by, dec.unanswered], [false, 'local', true]);
    assert.ok(logs.find((l) => l.includes('did not answer; the access: block decides (fallback: local)')), logs.join('\n'));
    // its own subscription request is approved, not asked about (the friendship XEP-0324 needs)
    await t.router.dispatch(parseXml(`<presence from='prov@example.org/svc' type='subscribe'/>`));
    assert.ok(t.sent.some((s) => s.name === 'presence' && s.attrs.to === 'prov@example.org' && s.attrs.type === 'subscribed'));
    assert.is(t.iqs.length, 0);
    // offline: questions go to the bare JID, whose server answers with an error (unanswered)
    await t.router.dispatch(parseXml(`<presence from='prov@example.org/svc' type='unavailable'/>`));
    void access.check('other@example.org', 'read');
    assert.is((await nextQuestion(t, 'canRead')).req.attrs.to, 'prov@example.org');
  } finally { t.unload(); }
});

test('a flood of strangers: at most maxInFlight questions on their way, the rest refused', async () => {
  const t = testContext('plc@example.org');
  const access = new AccessStore({ policy: { owners: [], controllers: [], readers: [], strangers: 'refuse' } });
  install(t.ctx, { config: { service: 'provisioning.example.org', timeoutS: 10, cacheSize: 100, fallback: 'refuse' }, access, maxInFlight: 3 });
  try {
    const answers = Array.from({ length: 10 }, (_, i) => access.check(`s${i}@example.org`, 'read'));
    await waitFor('3 questions', () => t.iqs.length === 3);
    const refused = await Promise.all(answers.slice(3));
    assert.ok(refused.every((d) => !d.allowed && d.unanswered));
    for (const q of t.iqs.splice(0)) q.resolve(parseXml(`<iq type='result'><canReadResponse xmlns='urn:xmpp:iot:provisioning' jid='${q.req.elements[0]!.attrs.jid}' result='true'/></iq>`));
    assert.ok((await Promise.all(answers.slice(0, 3))).every((d) => d.allowed));
  } finally { t.unload(); }
});

test('config: provisioning takes a component address or an account; a full JID and an unknown fallback are refused with the reason', () => {
  const base = { account: { jid: 'dev@example.org', password: 'x' } };
  const ok = configFromObject({ ...base, provisioning: { service: 'provisioning.example.org' } });
  assert.equal(ok.errors, []);
  assert.equal(ok.config!.provisioning, { service: 'provisioning.example.org', timeoutS: 10, cacheSize: 1000, fallback: 'refuse' });
  assert.is(configFromObject(base).config!.provisioning, undefined);
  const jid = configFromObject({ ...base, provisioning: { service: 'prov@example.org', fallback: 'local' } });
  assert.equal(jid.errors, []);
  assert.is(jid.config!.provisioning!.fallback, 'local');
  const full = configFromObject({ ...base, provisioning: { service: 'prov@example.org/x' } });
  assert.match(full.errors.map((e) => e.message).join('\n'), /has a resource/);
  const fb = configFromObject({ ...base, provisioning: { service: 'p.example.org', fallback: 'allow' } });
  assert.match(fb.errors.map((e) => `${e.path}: ${e.message}`).join('\n'), /fallback.*refuse.*local/);
  const typo = configFromObject({ ...base, provisioning: { service: 'p.example.org', timeout: 5 } });
  assert.match(typo.errors.map((e) => e.message).join('\n'), /unknown key "timeout"/);
});

test.run();
