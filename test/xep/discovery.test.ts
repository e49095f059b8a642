// XEP-0347 discovery, thing side, without a socket: the XEP's own example stanzas (literal XML)
// for registration and what the registry says; the claim string of the XEP, the iotdisco: URI;
// then the module over a real Router with the real AccessStore and a state directory: register,
// claimed (the owner is in access.json), KEY emptied, disowned (new KEY, registered again),
// removed, a claim from someone else refused; the config's tag rules.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessStore } from '../../agent/access-store';
import { claimMain } from '../../agent/cli/claim';
import { configFromObject } from '../../agent/config';
import {
  claimString, iotDiscoUri, metaTags, parseIotDiscoUri, parseRegistryPush, readDiscoveryState, registerElement, unregisterElement, updateElement, writeDiscoveryState, type MetaTag,
} from '../../agent/iot/discovery-meta';
import { nodeRefOf, reconcileThings, tagsHash, thingTags, withNode, type DiscoveryStateExt } from '../../agent/iot/discovery-things';
import { install } from '../../agent/xep/discovery';
import { Element } from '../../agent/xml/element';
import { parseXml } from '../pubsub/xml';
import { waitFor } from '../session/_helpers';
import { testContext } from './_context';

function norm(el: Element): string {
  const attrs = Object.entries(el.attrs).sort(([a], [b]) => a.localeCompare(b));
  const copy = new Element(el.name, el.xmlns, Object.fromEntries(attrs));
  for (const c of el.children) if (typeof c !== 'string') copy.children.push(parseXml(norm(c)));
  return copy.toString();
}

const SPEC_TAGS: MetaTag[] = [
  { name: 'SN', value: '394872348732948723' }, { name: 'MAN', value: 'www.ktc.se' }, { name: 'MODEL', value: 'IMC' },
  { name: 'V', value: 1.2 }, { name: 'KEY', value: '4857402340298342' },
];

test('register and update: the shapes of XEP-0347 Register Thing, self-owned, Update Meta Data', () => {
  assert.is(norm(registerElement(SPEC_TAGS, false)), norm(parseXml(`
      <register xmlns='urn:xmpp:iot:discovery'>
          <str name='SN' value='394872348732948723'/>
          <str name='MAN' value='www.ktc.se'/>
          <str name='MODEL' value='IMC'/>
          <num name='V' value='1.2'/>
          <str name='KEY' value='4857402340298342'/>
      </register>`)));
  assert.is(registerElement(SPEC_TAGS, true).attrs.selfOwned, 'true');
  assert.is(norm(updateElement([{ name: 'KEY', value: '' }, { name: 'CLASS', value: 'PLC' }, { name: 'LON', value: -71.519722 }, { name: 'LAT', value: -33.008055 }])), norm(parseXml(`
      <update xmlns='urn:xmpp:iot:discovery'>
          <str name='KEY' value=''/>
          <str name='CLASS' value='PLC'/>
          <num name='LON' value='-71.519722'/>
          <num name='LAT' value='-33.008055'/>
      </update>`)));
});

test('things behind a concentrator: XEP-0347 Register Thing behind Concentrator, unregister, the node a push is about; tags hash, reconcile', () => {
  const ref = { nodeId: 'imc1', sourceId: 'MeteringTopology' };
  assert.is(norm(withNode(registerElement(SPEC_TAGS, false), ref)), norm(parseXml(`
      <register xmlns='urn:xmpp:iot:discovery' nodeId='imc1' sourceId='MeteringTopology'>
          <str name='SN' value='394872348732948723'/>
          <str name='MAN' value='www.ktc.se'/>
          <str name='MODEL' value='IMC'/>
          <num name='V' value='1.2'/>
          <str name='KEY' value='4857402340298342'/>
      </register>`)));
  assert.is(norm(withNode(unregisterElement(), ref)), norm(parseXml(`<unregister xmlns='urn:xmpp:iot:discovery' nodeId='imc1' sourceId='MeteringTopology'/>`)));
  assert.is(norm(unregisterElement()), norm(parseXml(`<unregister xmlns='urn:xmpp:iot:discovery'/>`)));
  assert.equal(nodeRefOf(parseXml(`<removed xmlns='urn:xmpp:iot:discovery' nodeId='imc1' sourceId='MeteringTopology'/>`)), ref);
  assert.is(nodeRefOf(parseXml(`<removed xmlns='urn:xmpp:iot:discovery'/>`)), undefined);
  // KEY changes on its own; any other tag changes the hash
  assert.is(tagsHash(SPEC_TAGS), tagsHash(SPEC_TAGS.map((t) => (t.name === 'KEY' ? { ...t, value: '' } : t))));
  assert.is.not(tagsHash(SPEC_TAGS), tagsHash(SPEC_TAGS.map((t) => (t.name === 'MODEL' ? { ...t, value: 'IMC2' } : t))));
  assert.is.not(tagsHash([{ name: 'V', value: 1 }]), tagsHash([{ name: 'V', value: '1' }]));
  // a thing's tags: the gateway's with its own NAME, then its KEY
  assert.equal(thingTags({ MAN: 'x', NAME: 'gateway' }, { id: 'imc1', name: 'Meter 1' }, 'k'), [{ name: 'MAN', value: 'x' }, { name: 'NAME', value: 'Meter 1' }, { name: 'KEY', value: 'k' }]);
  const prev = { imc1: { sourceId: 'MeteringTopology', key: 'a'.repeat(32), state: 'claimed' as const, owner: 'o@x' } };
  const next = reconcileThings(prev, [{ nodeId: 'imc1', sourceId: 'MeteringTopology' }, { nodeId: 'imc2', sourceId: 'MeteringTopology' }]);
  assert.equal(next.imc1, prev.imc1);
  assert.is(next.imc2!.state, 'unregistered');
  assert.match(next.imc2!.key, /^[0-9a-f]{32}$/);
});

test('claim string: exactly the XEP\'s example; the iotdisco: URI reads back', () => {
  assert.is(claimString(SPEC_TAGS), 'IoTDisco;SN:394872348732948723;MAN:www.ktc.se;MODEL:IMC;#V:1.2;KEY:4857402340298342');
  // XEP-0347: ';' and '\' in values are escaped with '\'
  assert.is(claimString([{ name: 'NAME', value: 'a;b\\c' }]), 'IoTDisco;NAME:a\\;b\\\\c');
  const uri = iotDiscoUri(SPEC_TAGS, 'discovery.example.org');
  assert.is(uri, 'iotdisco:SN=394872348732948723;MAN=www.ktc.se;MODEL=IMC;#V=1.2;KEY=4857402340298342;R=discovery.example.org');
  const back = parseIotDiscoUri(iotDiscoUri([{ name: 'NAME', value: 'a;b=c d' }, ...SPEC_TAGS]));
  assert.equal(back.tags, [{ name: 'NAME', value: 'a;b=c d' }, ...SPEC_TAGS]);
});

test('what the registry says: claimed (public unless public=false), removed, disowned', () => {
  assert.equal(parseRegistryPush(parseXml(`<claimed xmlns='urn:xmpp:iot:discovery' jid='owner@example.org'/>`)), { kind: 'claimed', owner: 'owner@example.org', public: true });
  assert.equal(parseRegistryPush(parseXml(`<claimed xmlns='urn:xmpp:iot:discovery' jid='owner@example.org' public='false'/>`)), { kind: 'claimed', owner: 'owner@example.org', public: false });
  assert.equal(parseRegistryPush(parseXml(`<removed xmlns='urn:xmpp:iot:discovery'/>`)), { kind: 'removed' });
  assert.equal(parseRegistryPush(parseXml(`<disowned xmlns='urn:xmpp:iot:discovery'/>`)), { kind: 'disowned' });
  assert.is(parseRegistryPush(parseXml(`<claimed xmlns='urn:xmpp:iot:discovery' jid='not a jid'/>`)), undefined);
  assert.is(parseRegistryPush(parseXml(`<claimed xmlns='urn:other' jid='owner@example.org'/>`)), undefined);
});

test('the module: register, claimed -> owner (persisted) and KEY emptied, disowned -> new KEY and registered again, removed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xiota-disco-'));
  const t = testContext('thing@example.org');
  try {
    const access = new AccessStore({ policy: { owners: [], controllers: [], readers: [], strangers: 'refuse' }, self: 'thing@example.org', dir });
    const d = install(t.ctx, { config: { enabled: true, registry: 'discovery.example.org', selfOwned: false, registerThings: false, tags: { SN: '394872348732948723', MAN: 'www.ktc.se', MODEL: 'IMC', V: 1.2 } }, access, stateDir: dir });
    const key = d.state().key;
    assert.match(key, /^[0-9a-f]{32}$/);
    t.online();
    await waitFor('register', () => t.iqs.length === 1);
    const reg = t.iqs.shift()!;
    assert.is(reg.req.attrs.to, 'discovery.example.org');
    assert.is(reg.req.attrs.type, 'set');
    assert.is(norm(reg.req.elements[0]!), norm(registerElement(metaTags({ SN: '394872348732948723', MAN: 'www.ktc.se', MODEL: 'IMC', V: 1.2 }, key), false)));
    reg.resolve(parseXml(`<iq type='result' from='discovery.example.org' to='thing@example.org/imc' id='1'/>`));
    await d.settled();
    assert.is(d.state().state, 'registered');

    // a claim from someone else than the registry: refused, nothing changes
    await t.router.dispatch(parseXml(`<iq type='set' from='mallory@example.org/x' to='thing@example.org/imc' id='99'><claimed xmlns='urn:xmpp:iot:discovery' jid='mallory@example.org'/></iq>`));
    assert.is(t.sent.find((s) => s.attrs.id === '99')?.attrs.type, 'error');
    assert.is(access.roleOf('mallory@example.org'), 'stranger');

    // XEP-0347 'Ownership claimed'
    await t.router.dispatch(parseXml(`<iq type='set' from='discovery.example.org' to='thing@example.org/imc' id='5'><claimed xmlns='urn:xmpp:iot:discovery' jid='owner@example.org'/></iq>`));
    const ack = t.sent.find((s) => s.attrs.id === '5')!;
    assert.is(norm(ack), norm(parseXml(`<iq type='result' to='discovery.example.org' id='5'/>`)));
    assert.is(access.roleOf('owner@example.org/phone'), 'owner');
    assert.ok(access.decide('owner@example.org', 'control').allowed);
    assert.ok(access.ownerJids().includes('owner@example.org'));
    assert.equal(JSON.parse(readFileSync(join(dir, 'access.json'), 'utf8')).owners, ['owner@example.org']);
    assert.ok(t.sent.some((s) => s.name === 'presence' && s.attrs.to === 'owner@example.org' && s.attrs.type === 'subscribed'));
    assert.equal(readDiscoveryState(dir)?.state, 'claimed');
    // public claim: the KEY is emptied in the registry (XEP-0347 'KEY tag')
    t.advance(1);
    await waitFor('update', () => t.iqs.length === 1);
    const upd = t.iqs.shift()!;
    assert.is(upd.req.elements[0]!.name, 'update');
    assert.is(upd.req.elements[0]!.getChildren('str').find((e) => e.attrs.name === 'KEY')?.attrs.value, '');
    upd.resolve(parseXml(`<iq type='result' from='discovery.example.org' id='8'/>`));
    await d.settled();
    assert.is(readDiscoveryState(dir)?.keyCleared, true);

    // a restart: the owner is still an owner (access.json)
    const again = new AccessStore({ policy: { owners: [], controllers: [], readers: [], strangers: 'refuse' }, dir });
    await again.load();
    assert.is(again.roleOf('owner@example.org'), 'owner');

    // XEP-0347 'Thing disowned in registry by owner'
    await t.router.dispatch(parseXml(`<iq type='set' from='discovery.example.org' to='thing@example.org/imc' id='12'><disowned xmlns='urn:xmpp:iot:discovery'/></iq>`));
    assert.is(t.sent.find((s) => s.attrs.id === '12')?.attrs.type, 'result');
    assert.is(access.roleOf('owner@example.org'), 'stranger');
    assert.ok(t.sent.some((s) => s.name === 'presence' && s.attrs.to === 'owner@example.org' && s.attrs.type === 'unsubscribed'));
    const newKey = d.state().key;
    assert.is.not(newKey, key);
    t.advance(1);
    await waitFor('register again', () => t.iqs.length === 1);
    const reg2 = t.iqs.shift()!;
    assert.is(reg2.req.elements[0]!.name, 'register');
    assert.is(reg2.req.elements[0]!.getChildren('str').find((e) => e.attrs.name === 'KEY')?.attrs.value, newKey);
    // XEP-0347 'Registration response when already claimed': the owner comes with the answer
    reg2.resolve(parseXml(`<iq type='result' from='discovery.example.org' id='1'><claimed xmlns='urn:xmpp:iot:discovery' jid='second@example.org' public='false'/></iq>`));
    await d.settled();
    assert.is(access.roleOf('second@example.org'), 'owner');
    assert.is(d.state().public, false);

    // XEP-0347 'Thing removed from registry by owner'
    await t.router.dispatch(parseXml(`<iq type='set' from='discovery.example.org' id='7'><removed xmlns='urn:xmpp:iot:discovery'/></iq>`));
    assert.is(t.sent.find((s) => s.attrs.id === '7')?.attrs.type, 'result');
    assert.is(d.state().state, 'removed');
    t.online(); // a new session: a removed thing sends nothing more
    await d.settled();
    assert.is(t.iqs.length, 0);
  } finally {
    t.unload();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('self-owned: registers with selfOwned=true every session; no owner is added', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xiota-disco-'));
  const t = testContext('thing@example.org');
  try {
    const access = new AccessStore({ policy: { owners: [], controllers: [], readers: [], strangers: 'refuse' }, dir });
    const d = install(t.ctx, { config: { enabled: true, registry: 'discovery.example.org', selfOwned: true, registerThings: false, tags: { MAN: 'www.ktc.se' } }, access, stateDir: dir });
    for (let i = 0; i < 2; i++) {
      t.online();
      await waitFor('register', () => t.iqs.length === 1);
      const reg = t.iqs.shift()!;
      assert.is(reg.req.elements[0]!.attrs.selfOwned, 'true');
      reg.resolve(parseXml(`<iq type='result' from='discovery.example.org' id='2'/>`));
      await d.settled();
      assert.is(d.state().state, 'self-owned');
    }
    assert.equal(access.ownerJids(), []);
  } finally {
    t.unload();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('registry auto: found among the server\'s components by disco (XEP-0347 Determining Support)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xiota-disco-'));
  const t = testContext('thing@example.org');
  try {
    const access = new AccessStore({ policy: { owners: [], controllers: [], readers: [], strangers: 'refuse' } });
    const d = install(t.ctx, { config: { enabled: true, registry: 'auto', selfOwned: false, registerThings: false, tags: {} }, access, stateDir: dir });
    t.online();
    await waitFor('items', () => t.iqs.length === 1);
    const items = t.iqs.shift()!;
    assert.is(items.req.attrs.to, 'example.org');
    items.resolve(parseXml(`<iq type="result" id="15" from="example.org"><query xmlns="http://jabber.org/protocol/disco#items">
      <item jid="pubsub.example.org"/><item jid="discovery.example.org" name="Registro de cosas"/></query></iq>`));
    await waitFor('info 1', () => t.iqs.length === 1);
    const i1 = t.iqs.shift()!;
    assert.is(i1.req.attrs.to, 'pubsub.example.org');
    i1.resolve(parseXml(`<iq type='result'><query xmlns='http://jabber.org/protocol/disco#info'><feature var='http://jabber.org/protocol/pubsub'/></query></iq>`));
    await waitFor('info 2', () => t.iqs.length === 1);
    const i2 = t.iqs.shift()!;
    assert.is(i2.req.attrs.to, 'discovery.example.org');
    i2.resolve(parseXml(`<iq type='result' from='discovery.example.org' id='16'><query xmlns='http://jabber.org/protocol/disco#info'><feature var='urn:xmpp:iot:discovery'/></query></iq>`));
    await waitFor('register', () => t.iqs.length === 1);
    assert.is(t.iqs[0]!.req.attrs.to, 'discovery.example.org');
    assert.is(d.registry(), 'discovery.example.org');
  } finally {
    t.unload();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('xiota claim: the URI and a QR code; no discovery section is a clear error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xiota-claim-'));
  try {
    const run = (yaml: string, args: string[] = []) => {
      const file = join(dir, 'x.yaml');
      writeFileSync(file, yaml);
      const out: string[] = [];
      const code = claimMain(['--config', file, ...args], { out: (s) => out.push(s), err: (s) => out.push(s), env: {} });
      return { code, text: out.join('\n') };
    };
    const base = `account: { jid: dev@example.org, password: x }\noutbox: { dir: ${join(dir, 'state', 'outbox')} }\n`;
    const none = run(base);
    assert.is(none.code, 2);
    assert.match(none.text, /no discovery: section; add one/);
    const ok = run(base + 'discovery: { registry: registry.example.org, tags: { MAN: example.com, SN: "7" } }\n');
    assert.is(ok.code, 0, ok.text);
    const key = readDiscoveryState(join(dir, 'state'))!.key;
    assert.match(ok.text, new RegExp(`iotdisco:MAN=example.com;SN=7;KEY=${key};R=registry.example.org`));
    assert.match(ok.text, /█/); // the QR code
    assert.match(ok.text, new RegExp(`IoTDisco;MAN:example.com;SN:7;KEY:${key}`));
    // the same KEY on every run (kept in the state directory)
    assert.match(run(base + 'discovery: { registry: registry.example.org, tags: { MAN: example.com } }\n', ['--no-qr']).text, new RegExp(`KEY=${key}`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a claimed thing at start: the same tags send nothing, changed tags are sent as an update (KEY stays empty)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xiota-disco-'));
  const A = { MAN: 'www.ktc.se', MODEL: 'IMC' };
  writeDiscoveryState(dir, { version: 1, key: 'b'.repeat(32), state: 'claimed', owner: 'owner@example.org', public: true, registry: 'discovery.example.org', keyCleared: true, tagsHash: tagsHash(metaTags(A, '')) } as DiscoveryStateExt);
  const access = new AccessStore({ policy: { owners: [], controllers: [], readers: [], strangers: 'refuse' }, self: 'thing@example.org', dir });
  const start = (tags: Record<string, string | number>) => {
    const t = testContext('thing@example.org');
    const d = install(t.ctx, { config: { enabled: true, registry: 'discovery.example.org', selfOwned: false, registerThings: false, tags }, access, stateDir: dir });
    t.online();
    return { t, d };
  };
  try {
    const same = start(A);
    await same.d.settled();
    assert.is(same.t.iqs.length, 0);
    same.t.unload();
    const changed = start({ ...A, MODEL: 'IMC-2', LAT: -33.008055 });
    await waitFor('update', () => changed.t.iqs.length === 1);
    const upd = changed.t.iqs.shift()!;
    assert.is(upd.req.elements[0]!.name, 'update');
    assert.is(upd.req.elements[0]!.getChildren('str').find((e) => e.attrs.name === 'MODEL')?.attrs.value, 'IMC-2');
    assert.is(upd.req.elements[0]!.getChildren('num').find((e) => e.attrs.name === 'LAT')?.attrs.value, '-33.008055');
    assert.is(upd.req.elements[0]!.getChildren('str').find((e) => e.attrs.name === 'KEY')?.attrs.value, '');
    upd.resolve(parseXml(`<iq type='result' from='discovery.example.org' id='3'/>`));
    await changed.d.settled();
    assert.is((readDiscoveryState(dir) as DiscoveryStateExt).tagsHash, tagsHash(metaTags({ ...A, MODEL: 'IMC-2', LAT: -33.008055 }, '')));
    changed.t.unload();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('config: tags per XEP-0347 Meta Tags (location ranges); KEY is the device\'s; an account registry is taken, a full JID is not', () => {
  const base = { account: { jid: 'dev@example.org', password: 'x' } };
  const ok = configFromObject({ ...base, discovery: { tags: { MAN: 'example.com', V: 1.2, Floor: 3 } } });
  assert.equal(ok.errors, []);
  assert.equal(ok.config!.discovery, { enabled: true, registry: 'auto', selfOwned: false, registerThings: false, tags: { MAN: 'example.com', V: 1.2, Floor: 3 } });
  const msgs = (o: unknown) => configFromObject({ ...base, discovery: o }).errors.map((e) => `${e.path}: ${e.message}`).join('\n');
  assert.match(msgs({ tags: { KEY: 'x' } }), /KEY is made by the device/);
  assert.match(msgs({ tags: { V: '1.2' } }), /V is a numeric tag/);
  assert.match(msgs({ tags: { SN: 42 } }), /SN is a string tag/);
  assert.match(msgs({ tags: { 'a b': 'x' } }), /white space/);
  assert.match(msgs({ tags: { NAME: 'x'.repeat(129) } }), /at most 128/);
  assert.is(msgs({ registry: 'registry@example.org' }), '');
  assert.match(msgs({ registry: 'registry@example.org/res' }), /has a resource: give the registry's bare JID/);
  assert.match(msgs({ registry: 'not a jid' }), /is not a component address/);
  assert.match(msgs({ tags: { LAT: 91 } }), /LAT is 91; .*-90 to 90/);
  assert.match(msgs({ tags: { LON: -180.5 } }), /LON is -180.5; .*-180 to 180/);
  assert.is(msgs({ tags: { LAT: -33.008055, LON: -71.519722, ALT: 120, CITY: 'Valparaíso', ROOM: '2' } }), '');
  assert.match(msgs({ register_things: 'yes' }), /register_things/);
});

test.run();
