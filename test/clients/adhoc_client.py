#!/usr/bin/python3
# A person's client for the ad-hoc command tests and benchmark, written with slixmpp 1.8.3
# (Debian python3-slixmpp; run with /usr/bin/python3) and its xep_0050 plugin. Driven by JSON
# lines on stdin, answers JSON lines on stdout.
#
#   adhoc_client.py client JID PASSWORD PORT CAFILE
#     {"op":"list","to":J}                      -> {"event":"list","items":[{jid,node,name}]} (or "error")
#     {"op":"info","to":J,"node":N}             -> {"event":"info","identities":[..],"features":[..]}
#     {"op":"exec","to":J,"node":N,"action":A,"sessionid":S,"fields":{var:[values]}}
#         action "none" sends no action attribute (Profanity's submits); fields null: no form
#         -> {"event":"result","status","sessionid","actions","notes","form","ms"} or {"event":"result","error":{..}}
#     {"op":"bench","to":J,"node":N,"n":K,"gap_ms":G} -> {"event":"bench","ms":[..]}
#     {"op":"quit"}
#   adhoc_client.py bot JID PASSWORD PORT CAFILE RATE
#     the benchmark's anchor: a slixmpp bot doing the agent's job, publishing RATE readings/s to
#     its PEP node and answering the `status` command (xep_0050 responder) with a result form.
import asyncio
import sys
import time

from slixmpp import ClientXMPP
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream import ET
from jsonlines import commands, out

NS_COMMANDS = 'http://jabber.org/protocol/commands'
NS_DATA = 'jabber:x:data'
NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'
NS_PUBSUB = 'http://jabber.org/protocol/pubsub'
NS_SENSORDATA = 'urn:xmpp:iot:sensordata'


def q(ns, name):
    return '{%s}%s' % (ns, name)


def field_dict(f):
    d = {'var': f.get('var'), 'type': f.get('type'), 'label': f.get('label'),
         'values': [v.text or '' for v in f.findall(q(NS_DATA, 'value'))]}
    opts = f.findall(q(NS_DATA, 'option'))
    if opts:
        d['options'] = [o.findtext(q(NS_DATA, 'value')) for o in opts]
    v = f.find('{http://jabber.org/protocol/xdata-validate}validate')
    if v is not None:
        d['datatype'] = v.get('datatype')
        r = v.find('{http://jabber.org/protocol/xdata-validate}range')
        if r is not None:
            d['range'] = [r.get('min'), r.get('max')]
    return d


def form_dict(x):
    if x is None:
        return None
    rep = x.find(q(NS_DATA, 'reported'))
    return {
        'type': x.get('type'),
        'title': x.findtext(q(NS_DATA, 'title')),
        'instructions': [i.text or '' for i in x.findall(q(NS_DATA, 'instructions'))],
        'fields': [field_dict(f) for f in x.findall(q(NS_DATA, 'field'))],
        'reported': None if rep is None else [f.get('var') for f in rep.findall(q(NS_DATA, 'field'))],
        'items': [{f.get('var'): (f.findtext(q(NS_DATA, 'value')) or '') for f in it.findall(q(NS_DATA, 'field'))}
                  for it in x.findall(q(NS_DATA, 'item'))],
    }


def error_dict(e):
    err = e.iq.xml.find('{jabber:client}error')
    app = None
    if err is not None:
        for c in err:
            if not c.tag.startswith('{%s}' % NS_STANZAS):
                app = c.tag.split('}')[1]
    return {'condition': e.iq['error']['condition'], 'text': e.iq['error']['text'], 'type': e.iq['error']['type'], 'app': app}


class Person(ClientXMPP):
    def __init__(self, jid, password, cafile):
        super().__init__(jid, password)
        self.ssl_context.load_verify_locations(cafile)
        self.register_plugin('xep_0004')
        self.register_plugin('xep_0030')
        self.register_plugin('xep_0050')
        self.add_event_handler('session_start', self.on_start)

    async def on_start(self, _):
        self.send_presence()
        out({'event': 'online', 'jid': str(self.boundjid)})

    def submit_form(self, fields):
        form = self['xep_0004'].make_form(ftype='submit')
        for var, values in fields.items():
            form.add_field(var=var, value=values if len(values) != 1 else values[0])
        return form

    async def exec_(self, c):
        fields = c.get('fields')
        payload = self.submit_form(fields) if fields is not None else None
        action = c.get('action') or 'execute'
        t0 = time.perf_counter()
        try:
            if action == 'none':
                iq = self.Iq()
                iq['type'] = 'set'
                iq['to'] = c['to']
                iq['command']['node'] = c['node']
                if c.get('sessionid'):
                    iq['command']['sessionid'] = c['sessionid']
                if payload is not None:
                    iq['command'].append(payload)
                if 'action' in iq['command'].xml.attrib:
                    del iq['command'].xml.attrib['action']
                res = await iq.send(timeout=10)
            else:
                res = await self['xep_0050'].send_command(c['to'], c['node'], action=action, payload=payload,
                                                          sessionid=c.get('sessionid'), timeout=10)
        except IqError as e:
            return {'event': 'result', 'error': error_dict(e), 'ms': (time.perf_counter() - t0) * 1000}
        except IqTimeout:
            return {'event': 'result', 'error': {'condition': 'timeout'}}
        ms = (time.perf_counter() - t0) * 1000
        cmd = res.xml.find(q(NS_COMMANDS, 'command'))
        acts = cmd.find(q(NS_COMMANDS, 'actions'))
        return {
            'event': 'result', 'ms': ms,
            'status': cmd.get('status'), 'sessionid': cmd.get('sessionid'), 'node': cmd.get('node'),
            'actions': None if acts is None else {'execute': acts.get('execute'), 'list': [a.tag.split('}')[1] for a in acts]},
            'notes': [{'type': n.get('type'), 'text': n.text} for n in cmd.findall(q(NS_COMMANDS, 'note'))],
            'form': form_dict(cmd.find(q(NS_DATA, 'x'))),
        }

    async def run(self, c):
        op = c['op']
        if op == 'list':
            try:
                res = await self['xep_0050'].get_commands(c['to'], timeout=10)
            except IqError as e:
                return {'event': 'list', 'error': error_dict(e)}
            items = [dict(i.attrib) for i in res.xml.find('{http://jabber.org/protocol/disco#items}query')]
            return {'event': 'list', 'items': items}
        if op == 'info':
            try:
                res = await self['xep_0030'].get_info(c['to'], node=c.get('node'), timeout=10)
            except IqError as e:
                return {'event': 'info', 'error': error_dict(e)}
            return {'event': 'info', 'identities': [list(i) for i in res['disco_info']['identities']],
                    'features': list(res['disco_info']['features'])}
        if op == 'exec':
            return await self.exec_(c)
        if op == 'bench':
            ms = []
            for _ in range(c['n']):
                r = await self.exec_({'to': c['to'], 'node': c['node']})
                if r.get('status') != 'completed':
                    return {'event': 'bench', 'error': r}
                ms.append(r['ms'])
                await asyncio.sleep(c.get('gap_ms', 0) / 1000)
            return {'event': 'bench', 'ms': ms}
        return {'event': 'error', 'message': 'unknown op %s' % op}


class Bot(ClientXMPP):
    """The anchor: what a person would write with slixmpp to do the agent's job."""

    def __init__(self, jid, password, cafile, rate):
        super().__init__(jid, password)
        self.ssl_context.load_verify_locations(cafile)
        self.register_plugin('xep_0004')
        self.register_plugin('xep_0030')
        self.register_plugin('xep_0050')
        self.rate = rate
        self.latest = {'temperature': 20.0, 'at': time.time()}
        self.add_event_handler('session_start', self.on_start)

    async def on_start(self, _):
        self.send_presence()
        self['xep_0050'].add_command(node='status', name='Status of all things', handler=self.status)
        out({'event': 'online', 'jid': str(self.boundjid)})
        asyncio.ensure_future(self.publish_loop())

    def status(self, iq, session):
        form = self['xep_0004'].make_form(ftype='result', title='Status')
        age = time.time() - self.latest['at']
        form.add_field(var='room.temperature', ftype='text-single', label='room temperature (°C)',
                       value='%.2f °C, %d s ago' % (self.latest['temperature'], age))
        form.add_reported('thing', label='Thing')
        form.add_reported('field', label='Field')
        form.add_reported('value', label='Value')
        form.add_item({'thing': 'room', 'field': 'temperature', 'value': '%.2f' % self.latest['temperature']})
        session['payload'] = form
        session['next'] = None
        session['has_next'] = False
        return session

    async def publish_loop(self):
        i = 0
        t0 = time.perf_counter()
        while True:
            i += 1
            v = 20.0 + (i % 100) / 10.0
            self.latest = {'temperature': v, 'at': time.time()}
            iq = self.Iq()
            iq['type'] = 'set'
            pubsub = ET.SubElement(iq.xml, q(NS_PUBSUB, 'pubsub'))
            pub = ET.SubElement(pubsub, q(NS_PUBSUB, 'publish'), {'node': 'xiota/room'})
            item = ET.SubElement(pub, q(NS_PUBSUB, 'item'), {'id': str(i)})
            fields = ET.SubElement(item, q(NS_SENSORDATA, 'fields'))
            node = ET.SubElement(fields, q(NS_SENSORDATA, 'node'), {'nodeId': 'room'})
            ts = ET.SubElement(node, q(NS_SENSORDATA, 'timestamp'), {'value': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())})
            ET.SubElement(ts, q(NS_SENSORDATA, 'numeric'), {'name': 'temperature', 'value': '%.2f' % v, 'unit': '°C', 'momentary': 'true', 'automaticReadout': 'true'})
            try:
                iq.send(callback=lambda _r: None)
            except Exception:
                pass
            delay = t0 + i / self.rate - time.perf_counter()
            await asyncio.sleep(max(0, delay))


async def main_client(argv):
    jid, password, port, cafile = argv[2], argv[3], int(argv[4]), argv[5]
    xmpp = Person(jid, password, cafile)
    xmpp.connect(('127.0.0.1', port))
    async for c in commands():
        out(await xmpp.run(c))
    xmpp.disconnect()
    await asyncio.sleep(0.2)


async def main_bot(argv):
    jid, password, port, cafile, rate = argv[2], argv[3], int(argv[4]), argv[5], float(argv[6])
    xmpp = Bot(jid, password, cafile, rate)
    xmpp.connect(('127.0.0.1', port))
    async for _ in commands():
        pass
    xmpp.disconnect()
    await asyncio.sleep(0.2)


if __name__ == '__main__':
    mode = sys.argv[1]
    asyncio.get_event_loop().run_until_complete(main_client(sys.argv) if mode == 'client' else main_bot(sys.argv))
