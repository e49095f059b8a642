// The chat interface end to end: the module on a real XmppClient against a real Prosody, a
// DriverHost with simulated things (and a slow one), history from the thing's PEP node, and
// people on slixmpp (test/clients/chat_client.py) as owner, controller, reader and stranger.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AccessStore } from '../../agent/access-store';
import { MemoryAlertSwitch } from '../../agent/alerts/switch';
import { hostDevice } from '../../agent/chat/device';
import { silentLogger } from '../../agent/log';
import { ModuleHost } from '../../agent/module';
import { NodePublisher } from '../../agent/publish/publisher';
import { XmppClient } from '../../agent/session/client';
import { Element, x } from '../../agent/xml/element';
import { install as installChat, NOT_AUTHORIZED, NS_RECEIPTS } from '../../agent/xep/chat';
import { Disco } from '../../agent/xep/disco';
import { readingToFields } from '../../agent/xep/sensordata-fields';
import { DriverHost } from '../../drivers/host';
import { SimulatedDriver } from '../../drivers/simulated';
import type { Driver, Reading, ThingSpec, Value } from '../../drivers/types';
import { startProsody, type ProsodyServer } from '../../scripts/local-prosody';
import { PyClient } from '../chat/_slixmpp';

const t = suite('chat');
let srv: ProsodyServer;
let dev: XmppClient;
let host: DriverHost;
let modules: ModuleHost;
const people: Record<string, PyClient> = {};
let DEV = '';

/** A sensor that answers when told to: `delayMs` on every sample and set. */
class SlowDriver implements Driver {
  readonly kind = 'test-slow';
  readonly id = 'slow';
  readonly pollIntervalMs = 3_600_000;
  delayMs = 0;
  heater = false;
  private readonly spec: ThingSpec = { id: 'cellar', fields: [{ name: 'temp', type: 'numeric', unit: '°C', precision: 1 }, { name: 'heater', type: 'boolean', writable: true }] };
  things(): ThingSpec[] { return [this.spec]; }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  private wait(): Promise<void> { return new Promise((r) => setTimeout(r, this.delayMs)); }
  async sample(): Promise<Reading[]> {
    await this.wait();
    return [{ thing: 'cellar', timestamp: Date.now(), values: [{ field: 'temp', value: 10.5 }, { field: 'heater', value: this.heater }] }];
  }
  async set(_thing: string, _field: string, value: Value): Promise<void> {
    await this.wait();
    this.heater = value === true;
  }
}
const slow = new SlowDriver();

const sim = new SimulatedDriver('sim', {
  pollIntervalMs: 1000,
  things: [{ id: 'greenhouse', name: 'Greenhouse', fields: [
    { name: 'temperature', type: 'numeric', unit: '°C', precision: 1, min: 18, max: 26 },
    { name: 'humidity', type: 'numeric', unit: '%', precision: 0, min: 40, max: 60 },
    { name: 'fan', type: 'boolean', writable: true },
    { name: 'target', type: 'numeric', unit: '°C', precision: 1, writable: true, initial: 20 },
    { name: 'mode', type: 'enum', values: ['auto', 'manual'], writable: true },
  ] }],
});
const NODE = (thing: string) => `urn:xiota:thing:${thing}`;
/** Scripted people ask faster than fingers: a wider limit than the default, still far below a flood. */
const RATE = { burst: 60, perSecond: 20 };
const HISTORY = [21.1, 21.2, 21.3, 21.4, 21.5]; // oldest first, one a minute, the newest 1 min ago

t.before(async () => {
  srv = await startProsody();
  for (const u of ['dev', 'owner', 'ctl', 'reader', 'stranger', 'visitor', 'flooder']) await srv.register(u, `${u}pass`);
  DEV = `dev@${srv.host}`;
  dev = new XmppClient({ jid: DEV, resource: 'gw', credentials: { username: 'dev', password: 'devpass' }, server: { host: '127.0.0.1', port: srv.c2sPort }, tls: { caFile: srv.caFile }, iqTimeoutMs: 5000 });
  await dev.connectOnce();
  dev.send(x('presence', null, x('priority', null, '1'))); // so messages to the bare JID reach us
  host = new DriverHost({ drivers: [sim, slow], log: silentLogger, sampleTimeoutMs: 10_000 });
  await host.start();
  await host.readOnce();
  // History: readings on the greenhouse PEP node, as the pipeline publishes them.
  const thing = sim.things()[0]!;
  const pub = new NodePublisher({ iq: (req, ms) => dev.iq(req, ms), config: { maxItems: 100, persistItems: true, accessModel: 'presence' } });
  const now = Date.now();
  for (let i = 0; i < HISTORY.length; i++) {
    const ts = now - (HISTORY.length - i) * 60_000;
    await pub.publish(NODE('greenhouse'), `h${i}`, readingToFields({ thing: 'greenhouse', timestamp: ts, values: [{ field: 'temperature', value: HISTORY[i]! }, { field: 'fan', value: false }] }, thing));
  }
  access = new AccessStore({
    policy: { owners: [`owner@${srv.host}`], controllers: [`ctl@${srv.host}`], readers: [`reader@${srv.host}`, `flooder@${srv.host}`], strangers: 'refuse' },
    self: DEV,
  });
  modules = new ModuleHost(dev, new Disco(), silentLogger);
  modules.load('chat', (m) => installChat(m, {
    device: hostDevice({
      drivers: host, iq: (req, ms) => m.iq(req, ms), nodeOf: (th) => ({ node: NODE(th) }),
      rangeOf: (th, f) => (th === 'greenhouse' && f === 'target' ? { min: 5, max: 30 } : undefined),
    }),
    access,
    alerts: new MemoryAlertSwitch(),
    rate: RATE,
  }));
  const logins = await Promise.all(['owner', 'ctl', 'reader', 'stranger', 'visitor', 'flooder'].map((u) => PyClient.start(srv, u, `${u}pass`)));
  for (const c of logins) people[c.jid.split('@')[0]!] = c;
});

t.after(async () => {
  await Promise.all(Object.values(people).map((p) => p.close()));
  modules?.unloadAll();
  await host?.stop();
  await dev?.stop().catch(() => undefined);
  await srv?.stop();
});

let access: AccessStore;
const ask = (who: string, body: string, timeout?: number) => people[who]!.text(DEV, body, timeout);
/** assert.match that shows the answer it got. */
function expectMatch(actual: string, re: RegExp, msg?: string): void {
  assert.ok(re.test(actual), `${msg ? msg + ': ' : ''}expected ${re} to match:\n${actual}`);
}

t('owner: help and # list every command, with the things', async () => {
  const h = await ask('owner', 'help');
  for (const c of ['status', 'read [thing|thing.field]', 'set thing.field value', 'history thing.field', 'alerts [on|off]', 'ping', 'allow JID [reader|controller]', 'deny JID', 'revoke JID', 'who']) assert.ok(h.includes(c), `help lists ${c}:\n${h}`);
  assert.match(h, /Things: cellar, greenhouse|Things: greenhouse, cellar/);
  assert.is(await ask('owner', '#'), h);
  assert.is(await ask('owner', '!HELP'), h);
  expectMatch(await ask('owner', 'help set'), /^set thing\.field value: .*\nWritable: .*greenhouse\.fan \(on or off\).*greenhouse\.target \(a number in °C from 5 to 30\)/s);
});

t('owner: status and ? give every value with units and age; read by thing, field and field?', async () => {
  const s = await ask('owner', 'status');
  assert.match(s, /^Greenhouse \(greenhouse\), (just now|\d+ s ago):$/m);
  assert.match(s, /^temperature: \d+\.\d °C$/m);
  assert.match(s, /^humidity: \d+ %$/m);
  assert.match(s, /^fan: off \(settable\)$/m);
  assert.match(s, /^mode: auto \(settable\)$/m);
  assert.match(s, /^cellar, .*:\ntemp: 10\.5 °C\nheater: off \(settable\)$/m);
  assert.is((await ask('owner', '?')).split('\n')[1], s.split('\n')[1]);
  expectMatch(await ask('owner', 'read greenhouse.temperature'), /^greenhouse\.temperature: \d+\.\d °C, (just now|\d s ago)$/);
  expectMatch(await ask('owner', 'temperature?'), /^greenhouse\.temperature: \d+\.\d °C, (just now|\d s ago)$/);
  expectMatch(await ask('owner', 'Greenhouse.Humidity?'), /^greenhouse\.humidity: \d+ %, /);
  expectMatch(await ask('owner', 'read greenhouse'), /^Greenhouse \(greenhouse\), .*\ntemperature: /);
  expectMatch(await ask('owner', 'read cellar.nothing'), /no thing or field `cellar\.nothing`; things here: /);
});

t('owner: set in three spellings echoes the value; wrong types and out-of-range values change nothing', async () => {
  assert.is(await ask('owner', 'set greenhouse.fan on'), 'greenhouse.fan is now on (was off)');
  expectMatch(await ask('owner', 'fan?'), /^greenhouse\.fan: on, /);
  assert.is(await ask('owner', 'target:=21,5'), 'greenhouse.target is now 21.5 °C (was 20.0 °C)');
  assert.is(await ask('owner', 'greenhouse.mode=Manual'), 'greenhouse.mode is now manual (was auto)');
  expectMatch(await ask('owner', 'set greenhouse.target 99'), /greenhouse\.target takes a number in °C from 5 to 30; 99 is out of range/);
  expectMatch(await ask('owner', 'set greenhouse.target warm'), /takes a number in °C from 5 to 30, not `warm`: type `set greenhouse\.target 5`/);
  expectMatch(await ask('owner', 'set greenhouse.fan maybe'), /greenhouse\.fan takes on or off, not `maybe`/);
  expectMatch(await ask('owner', 'set greenhouse.mode turbo'), /one of auto, manual/);
  expectMatch(await ask('owner', 'set greenhouse.temperature 5'), /read-only; writable here: greenhouse\.fan, greenhouse\.target, greenhouse\.mode/);
  expectMatch(await ask('owner', 'set greenhouse on'), /`greenhouse` is a thing: name one of its fields/);
  expectMatch(await ask('owner', 'target?'), /^greenhouse\.target: 21\.5 °C/, 'the refused sets changed nothing');
  expectMatch(await ask('owner', 'mode?'), /^greenhouse\.mode: manual/);
});

t('owner: history from the PubSub node by count and by duration', async () => {
  const h3 = await ask('owner', 'history greenhouse.temperature 3');
  expectMatch(h3, /^greenhouse\.temperature, 3 values \(newest first\):\n\d+ s ago: 21\.5 °C\n(\d+ s|2 min) ago: 21\.4 °C\n\d+ (min|s) ago: 21\.3 °C$/);
  // The newest item is 1 min old (plus the seconds the tests took so far), the next 2 min.
  expectMatch(await ask('owner', 'history temperature 100s'), /^greenhouse\.temperature, 1 value in the last 100 s:\n\d+ s ago: 21\.5 °C$/);
  expectMatch(await ask('owner', 'history temperature 1h'), /^greenhouse\.temperature, 5 values in the last 60 min:\n(.*\n){4}.*21\.1 °C$/);
  expectMatch(await ask('owner', 'history greenhouse.humidity 5'), /^greenhouse\.humidity: no values/);
  expectMatch(await ask('owner', 'history greenhouse.temperature 500'), /the count must be 1 to 100/);
});

t('owner: alerts on/off, ping, receipts (XEP-0184)', async () => {
  expectMatch(await ask('owner', 'alerts'), /^alerts are on for you/);
  assert.is(await ask('owner', 'alerts off'), 'alerts are now off for you');
  expectMatch(await ask('owner', 'alerts'), /^alerts are off for you/);
  assert.is(await ask('owner', 'alerts on'), 'alerts are now on for you');
  const a = await people.owner!.ask(DEV, 'ping', { receipt: true });
  assert.is(a.body, 'pong');
  assert.ok(a.receipt, `the receipt request was answered\n${people.owner!.py.stderr()}`);
});

t('owner: allow, revoke, deny and who go through the access store', async () => {
  assert.is(await ask('owner', `allow visitor@${srv.host}`), `visitor@${srv.host} is now a reader`);
  expectMatch(await ask('visitor', 'status'), /^temperature: /m, 'an allowed reader reads');
  expectMatch(await ask('visitor', 'set greenhouse.fan off'), new RegExp(`^${NOT_AUTHORIZED}$`));
  const who = await ask('owner', 'who');
  assert.match(who, new RegExp(`^owners: owner@${srv.host}$`, 'm'));
  assert.match(who, new RegExp(`^controllers: ctl@${srv.host}$`, 'm'));
  assert.match(who, new RegExp(`^readers: .*visitor@${srv.host} \\(allowed by chat\\)`, 'm'));
  // The owner of one thing behind the gateway (a registry claim) is listed with the thing.
  await access.addThingOwner(`erin@${srv.host}`, 'greenhouse', `registry.${srv.host}`);
  assert.match(await ask('owner', 'who'), new RegExp(`^owners of single things: erin@${srv.host} \\(greenhouse\\)$`, 'm'));
  await access.removeThingOwner('greenhouse');
  assert.is(await ask('owner', `revoke visitor@${srv.host}`), `visitor@${srv.host}: what they were given is taken back (now: stranger)`);
  const after = await people.visitor!.ask(DEV, 'status', { timeout: 1500 });
  assert.ok(after.body === null || after.body === NOT_AUTHORIZED, `revoked: no value (${after.body})`);
  assert.is(await ask('owner', `deny reader@${srv.host}`), `reader@${srv.host} is refused`);
  expectMatch(await ask('owner', 'who'), new RegExp(`^refused: reader@${srv.host}$`, 'm'));
  const refused = await people.reader!.ask(DEV, 'status', { timeout: 1500 });
  assert.ok(refused.body === null || refused.body === NOT_AUTHORIZED, `denied: no value (${refused.body})`);
  expectMatch(await ask('owner', `revoke reader@${srv.host}`), /what they were given is taken back \(now: stranger\)/);
  assert.is(await ask('owner', `allow reader@${srv.host}`), `reader@${srv.host} is now a reader`);
  expectMatch(await ask('owner', `allow owner@${srv.host} owner`), /config file/);
  expectMatch(await ask('owner', 'allow bob'), /not a JID like bob@example\.org/);
});

t('reader: reads, gets a short help without set or admin; set and admin are refused, once', async () => {
  const h = await ask('reader', 'help');
  assert.ok(h.includes('status') && h.includes('history'));
  for (const c of ['set ', 'allow', 'revoke', 'who', 'alerts']) assert.not.ok(h.includes(c), `a reader's help has no ${c}:\n${h}`);
  expectMatch(await ask('reader', 'temperature?'), /^greenhouse\.temperature: /);
  expectMatch(await ask('reader', 'history greenhouse.temperature 1'), /21\.5 °C/);
  const fanBefore = await ask('owner', 'fan?');
  const refused = await people.reader!.ask(DEV, 'set greenhouse.fan off', { timeout: 3000 });
  assert.ok(refused.body === null || refused.body === NOT_AUTHORIZED, `set refused (${refused.body})`);
  assert.is((await ask('owner', 'fan?')).split(',')[0], fanBefore.split(',')[0], 'nothing changed');
  // A second refusal within 30 s is not answered (rate-limited), but reading still works.
  const again = await people.reader!.ask(DEV, `allow stranger@${srv.host}`, { timeout: 800 });
  assert.is(again.body, null);
  assert.is(await ask('reader', 'ping'), 'pong');
  expectMatch(await ask('reader', 'reboot'), /^I don't know `reboot`\. You can type: help, status, read, history, ping /);
});

t('controller: sets, but no admin', async () => {
  expectMatch(await ask('ctl', 'set greenhouse.fan off'), /^greenhouse\.fan is now off/);
  assert.is(await ask('ctl', `allow stranger@${srv.host}`), NOT_AUTHORIZED);
});

t('stranger: one "not authorized", no value, no receipt, whatever it sends (forged from too)', async () => {
  const s = people.stranger!;
  const a = await s.ask(DEV, 'status', { receipt: true });
  assert.is(a.body, NOT_AUTHORIZED);
  assert.not.ok(a.receipt, 'no receipt to a stranger (XEP-0184 security considerations)');
  for (const body of ['help', 'read greenhouse.temperature', 'set greenhouse.fan on', 'history greenhouse.temperature', 'who', 'x'.repeat(100 * 1024)]) await s.sendRaw(DEV, body);
  await s.sendRaw(DEV, 'status', `owner@${srv.host}`);
  await s.sendRaw(DEV, 'status', `owner@${srv.host}/phone`);
  await s.sendRaw(DEV, 'status', 'owner@evil.example');
  const got = await s.collect(1500);
  const bodies = got.filter((m) => m.type !== 'error').map((m) => m.body);
  assert.equal(bodies, [], `nothing more answered: ${JSON.stringify(got).slice(0, 400)}`);
  expectMatch(await ask('owner', 'fan?'), /^greenhouse\.fan: off/, 'the stranger changed nothing');
});

t('forged and ignored stanzas reaching the agent: refused or ignored, never answered with a value', async () => {
  const sent: Element[] = [];
  const realSend = dev.send.bind(dev);
  dev.send = (el: Element) => { sent.push(el); };
  try {
    const msg = (attrs: Record<string, string>, ...kids: Element[]) => dev.router.dispatch(x('message', { xmlns: 'jabber:client', ...attrs }, ...kids));
    const body = (s: string) => x('body', null, s);
    await msg({ from: `owner@${srv.host}.evil.org/x`, type: 'chat' }, body('status'));
    await msg({ from: `owner@evil.${srv.host}/x`, type: 'chat' }, body('status'));
    await new Promise((r) => setTimeout(r, 50));
    assert.is(sent.length, 2, 'two refusals');
    for (const el of sent) assert.is(el.getChildText('body'), NOT_AUTHORIZED);
    sent.length = 0;
    const owner = `owner@${srv.host}/phone`;
    await msg({ from: owner, type: 'error' }, body('status'));
    await msg({ from: owner, type: 'groupchat' }, body('status'));
    await msg({ from: owner, type: 'headline' }, body('status'));
    await msg({ from: owner, type: 'chat' }, x('active', { xmlns: 'http://jabber.org/protocol/chatstates' }));
    await msg({ from: owner, type: 'chat', id: 'r1' }, x('received', { xmlns: NS_RECEIPTS, id: 'x' }));
    await msg({ from: `${DEV}/other`, type: 'chat' }, body('status'));
    await msg({ from: `owner@${srv.host}`, type: 'chat' }, x('received', { xmlns: 'urn:xmpp:carbons:2' }, x('forwarded', { xmlns: 'urn:xmpp:forward:0' }, x('message', { xmlns: 'jabber:client', type: 'chat' }, body('status')))));
    await msg({ type: 'chat' }, body('status'));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(sent.map((s) => s.toString()), [], 'error, groupchat, headline, bodiless, our own, carbons and from-less messages are not answered');
  } finally {
    dev.send = realSend;
  }
});

t('junk from the owner: 100 KB, binary-looking text, control characters, / commands', async () => {
  expectMatch(await ask('owner', 'x'.repeat(100 * 1024)), /too long \(over 4096 bytes\)/);
  expectMatch(await ask('owner', '\u00ff\u00fe\ufffd\u2028\u0600 \u{1F600}'), /^I don't know .*You can type: help, status, read, set, history, ping, alerts, allow, deny, revoke, who/s);
  expectMatch(await ask('owner', '\u200Bstatus\uFEFF'), /^Greenhouse/);
  expectMatch(await ask('owner', '/status'), /no leading \//);
  expectMatch(await ask('owner', 'set'), /set needs a field and a value: type `set thing\.field value`/);
});

t('a slow sensor: read answers within the deadline with the last value; a slow set reports later', async () => {
  slow.delayMs = 4000;
  const t0 = Date.now();
  const [r, fast] = await Promise.all([
    people.owner!.ask(DEV, 'read cellar.temp', { timeout: 6000 }),
    (async () => { await new Promise((res) => setTimeout(res, 200)); return people.ctl!.ask(DEV, 'read greenhouse.temperature'); })(),
  ]);
  assert.match(r.body ?? '', /^cellar\.temp: the sensor did not answer within 2 s; last value: 10\.5 °C, \d+ (s|min) ago$/);
  assert.ok(r.ms! >= 1900 && r.ms! < 3500, `answered at the deadline (${r.ms} ms)`);
  assert.match(fast.body ?? '', /^greenhouse\.temperature: /);
  assert.ok(fast.ms! < 1000, `another thing is read at once meanwhile (${fast.ms} ms)`);
  await new Promise((res) => setTimeout(res, Math.max(0, 4500 - (Date.now() - t0)))); // the slow sample ends
  const s = await people.owner!.ask(DEV, 'set cellar.heater on', { timeout: 6000 });
  assert.match(s.body ?? '', /^cellar\.heater: the device has not confirmed within 2 s; I will tell you when it does$/);
  const later = await people.owner!.collect(3500);
  assert.ok(later.some((m) => /^cellar\.heater is now on \(the device took [45] s\)$/.test(m.body)), JSON.stringify(later));
  slow.delayMs = 0;
});

t('a flood of 1,000 messages from one reader: the owner\'s ping stays quick, the flood is cut, the flooder recovers', async () => {
  const f = people.flooder!;
  const floodDone = f.flood(DEV, 'status', 1000);
  const pings: number[] = [];
  for (let i = 0; i < 20; i++) {
    const a = await people.owner!.ask(DEV, 'ping');
    assert.is(a.body, 'pong');
    pings.push(a.ms!);
    await new Promise((r) => setTimeout(r, 50));
  }
  const floodMs = await floodDone;
  const got = await f.collect(2000);
  pings.sort((a, b) => a - b);
  const p50 = pings[10]!;
  const max = pings[19]!;
  console.log(`[chat flood] 1000 messages sent in ${floodMs.toFixed(0)} ms; flooder got ${got.length} answers; owner ping during the flood p50 ${p50.toFixed(1)} ms, max ${max.toFixed(1)} ms`);
  assert.ok(max < 500, `ping stays quick under the flood (max ${max.toFixed(1)} ms)`);
  const allowed = RATE.burst + RATE.perSecond * (floodMs / 1000 + 2.5) + 1;
  assert.ok(got.length <= allowed, `the flood was cut: ${got.length} answers to 1000 messages (at most ${allowed.toFixed(0)})`);
  assert.ok(got.some((m) => m.body.startsWith('too many messages')), 'the flooder is told once');
  assert.is(got.filter((m) => m.body.startsWith('too many messages')).length, 1);
  await new Promise((r) => setTimeout(r, 4000));
  assert.is(await ask('flooder', 'ping'), 'pong', 'answered again after the flood');
});

t('unload removes the handler and the receipts feature: no more answers', async () => {
  modules.unloadAll();
  const a = await people.owner!.ask(DEV, 'ping', { timeout: 1000 });
  assert.ok(a.body === null || a.type === 'error', `no chat answer after unload (${a.body})`);
});

t.run();
