#!/usr/bin/python3
# A XEP-0324 provisioning server or a XEP-0347 Thing Registry, played as an XEP-0114 component
# or as an ordinary account (XEP-0324 'Provisioning server hosted as a client': it approves the
# device's subscription and follows back) on a real Prosody with slixmpp 1.8.3 (Debian python3-slixmpp; run with /usr/bin/python3). A
# fixture, not a mock of xiota: it speaks the XEPs' stanzas as their examples show them and
# knows nothing of the agent. Driven by JSON lines on stdin, reports JSON lines on stdout.
#
#   iot_services.py provisioning|registry COMPONENT_JID SECRET COMPONENT_PORT
#   iot_services.py provisioning|registry ACCOUNT_JID PASSWORD C2S_PORT CA_FILE
#   provisioning:
#     {"op":"rules","rules":{JID:{"friend":bool,"read":{"result":bool,"nodes":[..],"fields":[..]},"control":{...}}}}
#     {"op":"silent","on":bool}        never answer questions (an unreachable server)
#     {"op":"clearCache","to":JID}     -> {"event":"clearCache","type":"result"|"error"}
#     {"op":"unfriend"|"friend","to":JID,"jid":JID}  -> {"event":op}
#     reports {"event":"question","name":"canRead","jid":..,"xml":..} for each question
#     {"op":"reply","xml":XML|null}   answer every question with this payload instead (bad input; null: rules again)
#     {"op":"message","to":JID,"xml":XML}  send a message holding this payload -> {"event":"message"}
#   registry:
#     reports {"event":"register"|"update"|"unregister","from":..,"tags":{..},"selfOwned":bool,"nodeId":..,"sourceId":..}
#             {"event":"mine"|"disown"|"remove","from":..,"result":..}
#     {"op":"reply","xml":XML|null}   answer register/update with this payload (bad input)
#     {"op":"push","to":JID,"xml":XML} an iq set holding this payload -> {"event":"push","type":..,"condition":..}
#   both: {"op":"quit"}; {"event":"online"} once connected (an account: {"event":"subscribed","jid":..}
#   when the device's subscription was approved).
import asyncio
import os
import secrets
import sys
import xml.etree.ElementTree as ET

from slixmpp import ClientXMPP, ComponentXMPP
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'clients'))
from jsonlines import commands, out  # noqa: E402

NS_PROV = 'urn:xmpp:iot:provisioning'
NS_DISCO = 'urn:xmpp:iot:discovery'
NS_INFO = 'http://jabber.org/protocol/disco#info'
NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'


def bare(jid):
    return str(jid).split('/')[0].lower()


def el(tag, ns, **attrs):
    e = ET.Element('{%s}%s' % (ns, tag))
    for k, v in attrs.items():
        e.set(k, v)
    return e


def key_of(frm, p):
    # XEP-0347 'Registering Thing behind Concentrator': the thing is the JID with nodeId, sourceId
    return (frm, p.get('nodeId') or '', p.get('sourceId') or '')


def node_attrs(e, key):
    if key[1]:
        e.set('nodeId', key[1])
    if key[2]:
        e.set('sourceId', key[2])
    return e


class Mixin:
    def setup(self, kind):
        self.kind = kind
        self.rules = {}
        self.silent = False
        self.raw_reply = None
        # registry: (bare thing JID, nodeId, sourceId) -> {full, tags, claimed_by, public, self_owned}
        self.things = {}
        self.register_handler(Callback('iot iq', MatchXPath('{%s}iq' % self.default_ns), self.on_iq))

    # XEP-0114: a component stamps 'from' on what it originates. Prosody fills a missing one in;
    # ejabberd 23.01 does not: such a stanza was lost and the component unreachable afterwards.
    def raw(self):
        return ET.fromstring(self.raw_reply) if self.raw_reply else None

    def error(self, iq, condition, etype='cancel'):
        r = iq.reply(clear=True)
        r['type'] = 'error'
        e = ET.SubElement(r.xml, '{%s}error' % self.default_ns)
        e.set('type', etype)
        ET.SubElement(e, '{%s}%s' % (NS_STANZAS, condition))
        r.send()

    def result(self, iq, payload=None):
        r = iq.reply(clear=True)
        if payload is not None:
            r.xml.append(payload)
        r.send()

    def on_iq(self, iq):
        if iq['type'] not in ('get', 'set'):
            return
        payload = next(iter(iq.xml), None)
        if payload is None:
            return self.error(iq, 'bad-request', 'modify')
        ns = payload.tag[1:].partition('}')[0]
        if self.account and ns not in (NS_INFO, NS_PROV, NS_DISCO):
            return  # roster pushes and the like: slixmpp's own handlers
        if payload.tag == '{%s}query' % NS_INFO:
            q = el('query', NS_INFO)
            q.append(el('identity', NS_INFO, category='component', type='generic', name=self.kind))
            q.append(el('feature', NS_INFO, var=NS_INFO))
            q.append(el('feature', NS_INFO, var=NS_PROV if self.kind == 'provisioning' else NS_DISCO))
            return self.result(iq, q)
        ns, _, name = payload.tag[1:].partition('}')
        if self.kind == 'provisioning' and ns == NS_PROV:
            return self.question(iq, name, payload)
        if self.kind == 'registry' and ns == NS_DISCO:
            return asyncio.ensure_future(self.registry(iq, name, payload))
        self.error(iq, 'service-unavailable')

    # XEP-0324 'Friendships', 'Device Read-out', 'Device Control'
    def question(self, iq, name, q):
        jid = bare(q.get('jid', ''))
        out({'event': 'question', 'name': name, 'jid': jid, 'from': str(iq['from']), 'xml': ET.tostring(q, encoding='unicode')})
        if self.silent:
            return
        if self.raw_reply is not None:
            return self.result(iq, self.raw())
        rule = self.rules.get(jid, {})
        if name == 'isFriend':
            r = el('isFriendResponse', NS_PROV, jid=jid, result='true' if rule.get('friend') else 'false')
        elif name in ('canRead', 'canControl'):
            grant = rule.get('read' if name == 'canRead' else 'control') or {'result': False}
            r = el(name + 'Response', NS_PROV, jid=jid, result='true' if grant.get('result') else 'false')
            for k in ('momentary', 'historical', 'all'):
                if q.get(k):
                    r.set(k, q.get(k))
            if grant.get('result'):
                for n in grant.get('nodes') or []:
                    r.append(el('node', NS_PROV, nodeId=n))
                for f in grant.get('fields') or []:
                    r.append(el('field' if name == 'canRead' else 'parameter', NS_PROV, name=f))
        else:
            return self.error(iq, 'feature-not-implemented')
        self.result(iq, r)

    # XEP-0347: the registry's side of register, update, unregister, mine, disown, remove
    async def registry(self, iq, name, p):
        frm = bare(iq['from'])
        key = key_of(frm, p)
        tags = {t.get('name').upper(): (t.tag.endswith('}num'), t.get('value')) for t in p if t.tag.endswith('}str') or t.tag.endswith('}num')}
        numeric = sorted(k for k, (n, _) in tags.items() if n)
        if name == 'register':
            out({'event': 'register', 'from': str(iq['from']), 'tags': {k: v for k, (_, v) in tags.items()}, 'numeric': numeric, 'selfOwned': p.get('selfOwned') == 'true', 'nodeId': key[1], 'sourceId': key[2]})
            if self.raw_reply is not None:
                return self.result(iq, self.raw())
            t = self.things.get(key)
            if t and t['claimed_by']:
                t['full'] = str(iq['from'])  # 'Registration response when alrady claimed': no meta data updated
                return self.result(iq, node_attrs(el('claimed', NS_DISCO, jid=t['claimed_by']), key))
            self_owned = p.get('selfOwned') == 'true'
            self.things[key] = {'full': str(iq['from']), 'tags': tags, 'claimed_by': frm if self_owned else None, 'public': True, 'self_owned': self_owned}
            return self.result(iq)
        if name == 'update':
            t = self.things.get(key)
            out({'event': 'update', 'from': str(iq['from']), 'tags': {k: v for k, (_, v) in tags.items()}, 'nodeId': key[1]})
            if self.raw_reply is not None:
                return self.result(iq, self.raw())
            if not t:
                return self.error(iq, 'item-not-found')
            if not t['claimed_by']:
                return self.result(iq, el('disowned', NS_DISCO))
            t['tags'].update(tags)
            return self.result(iq)
        if name == 'unregister':
            self.things.pop(key, None)
            out({'event': 'unregister', 'from': str(iq['from']), 'nodeId': key[1], 'sourceId': key[2]})
            return self.result(iq)
        if name == 'mine':
            # XEP-0347: EXACTLY the same meta data, order free, not claimed by somebody else
            match = next((j for j, t in self.things.items() if t['tags'] == tags and (not t['claimed_by'] or t['claimed_by'] == frm)), None)
            if not match:
                out({'event': 'mine', 'from': frm, 'result': 'item-not-found'})
                return self.error(iq, 'item-not-found')
            t = self.things[match]
            public = p.get('public') != 'false'
            t['claimed_by'], t['public'] = frm, public
            push = self.Iq(sto=t['full'], stype='set', sfrom=self.boundjid)
            c = node_attrs(el('claimed', NS_DISCO, jid=frm), match)
            if not public:
                c.set('public', 'false')
            push.xml.append(c)
            try:
                await push.send(timeout=10)
            except (IqError, IqTimeout) as e:
                out({'event': 'mine', 'from': frm, 'result': 'thing did not ack: %r' % e})
            out({'event': 'mine', 'from': frm, 'result': 'claimed', 'thing': match[0], 'nodeId': match[1]})
            return self.result(iq, node_attrs(el('claimed', NS_DISCO, jid=match[0]), match))
        if name in ('disown', 'remove'):
            target = key_of(bare(p.get('jid', '')), p)
            t = self.things.get(target)
            if not t or t['claimed_by'] != frm:
                out({'event': name, 'from': frm, 'result': 'item-not-found'})
                return self.error(iq, 'item-not-found')
            push = self.Iq(sto=t['full'], stype='set', sfrom=self.boundjid)
            push.xml.append(node_attrs(el('disowned' if name == 'disown' else 'removed', NS_DISCO), target))
            try:
                await push.send(timeout=10)
            except (IqError, IqTimeout) as e:
                out({'event': name, 'from': frm, 'result': 'not-allowed', 'why': repr(e)})
                return self.error(iq, 'not-allowed')  # 'Failure to disown Thing - Offline'
            if name == 'disown':
                # 'Thing disowned': unclaimed, tags gone, a random KEY so nobody guesses it
                t['claimed_by'], t['tags'] = None, {'KEY': (False, secrets.token_hex(16))}
            else:
                self.things.pop(target, None)
            out({'event': name, 'from': frm, 'result': 'ok'})
            return self.result(iq)
        self.error(iq, 'feature-not-implemented')

    async def run(self, c):
        op = c['op']
        if op == 'rules':
            self.rules = {bare(k): v for k, v in c['rules'].items()}
            return {'event': 'rules'}
        if op == 'silent':
            self.silent = bool(c['on'])
            return {'event': 'silent'}
        if op == 'clearCache':
            iq = self.Iq(sto=c['to'], stype='set', sfrom=self.boundjid)
            iq.xml.append(el('clearCache', NS_PROV))
            try:
                r = await iq.send(timeout=10)
                return {'event': 'clearCache', 'type': r['type'], 'xml': str(r)}
            except (IqError, IqTimeout) as e:
                return {'event': 'clearCache', 'type': 'error', 'why': repr(e)}
        if op in ('friend', 'unfriend'):
            m = self.Message(sto=c['to'], sfrom=self.boundjid)
            m.xml.append(el(op, NS_PROV, jid=c['jid']))
            m.send()
            return {'event': op}
        if op == 'things':
            return {'event': 'things', 'things': {'|'.join(j): {'claimed_by': t['claimed_by'], 'tags': {k: v for k, (_, v) in t['tags'].items()}} for j, t in self.things.items()}}
        if op == 'reply':
            self.raw_reply = c.get('xml')
            return {'event': 'reply'}
        if op == 'message':
            m = self.Message(sto=c['to'], sfrom=self.boundjid)
            m.xml.append(ET.fromstring(c['xml']))
            m.send()
            return {'event': 'message'}
        if op == 'push':
            iq = self.Iq(sto=c['to'], stype='set', sfrom=self.boundjid)
            iq.xml.append(ET.fromstring(c['xml']))
            try:
                r = await iq.send(timeout=10)
                return {'event': 'push', 'type': r['type']}
            except IqError as e:
                return {'event': 'push', 'type': 'error', 'condition': e.iq['error']['condition'], 'text': e.iq['error']['text']}
            except IqTimeout:
                return {'event': 'push', 'type': 'timeout'}
        return {'event': 'error', 'why': 'unknown op %s' % op}


class Service(Mixin, ComponentXMPP):
    account = False

    def __init__(self, kind, jid, secret, port):
        ComponentXMPP.__init__(self, jid, secret, '127.0.0.1', port)
        self.setup(kind)
        self.add_event_handler('session_start', lambda _: out({'event': 'online'}))


class AccountService(Mixin, ClientXMPP):
    account = True

    def __init__(self, kind, jid, password, ca_file):
        ClientXMPP.__init__(self, jid, password)
        self.ca_certs = ca_file
        self.setup(kind)
        # RFC 6121 3.1.4 / 3.1.5: approve whoever asks and follow back (a provisioning server's friendship)
        self.roster.auto_authorize = True
        self.roster.auto_subscribe = True
        self.add_event_handler('session_start', self.started)
        self.add_event_handler('presence_subscribed', lambda p: out({'event': 'subscribed', 'jid': bare(p['from'])}))

    async def started(self, _):
        await self.get_roster()
        self.send_presence()
        out({'event': 'online'})


async def main(argv):
    kind, jid, secret, port = argv[1], argv[2], argv[3], int(argv[4])
    if '@' in jid:
        svc = AccountService(kind, jid, secret, argv[5])
    else:
        svc = Service(kind, jid, secret, port)
    svc.connect(('127.0.0.1', port)) if '@' in jid else svc.connect('127.0.0.1', port)
    async for c in commands():
        try:
            out(await svc.run(c))
        except Exception as e:  # a test must see it, not hang
            out({'event': c['op'], 'exception': repr(e)})
    svc.disconnect()
    await asyncio.sleep(0.2)


if __name__ == '__main__':
    asyncio.get_event_loop().run_until_complete(main(sys.argv))
