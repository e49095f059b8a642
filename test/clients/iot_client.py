#!/usr/bin/python3
# A machine reading and setting things with slixmpp 1.8.3's own IoT plugins (Debian
# python3-slixmpp; run with /usr/bin/python3): xep_0323 (sensor data, client side) and xep_0325
# (control, client side). Driven by JSON lines on stdin, answers JSON lines on stdout.
#
#   iot_client.py client JID PASSWORD PORT CAFILE
#     {"op":"read","to":J,"nodes":[..]|null,"fields":[..]|null,"flags":{"momentary":"true"}}
#         -> {"event":"read","results":[{result,nodeId,timestamp,fields,error_msg}],"ms"}
#            (collects callbacks until done / rejected / failure; "timeout" after 10 s)
#     {"op":"set","to":J,"fields":[[name,type,value]],"nodes":[..]|null}
#         -> {"event":"set","result":responseCode,"fields":[..],"error_msg"}
#     {"op":"setmsg","to":J,"fields":[[name,type,value]]}   (message, never answered) -> {"event":"setmsg"}
#     {"op":"getform","to":J}  -> {"event":"getform","fields":[{var,type,values,datatype}]} or error
#     {"op":"bench","to":J,"n":K,"nodes":..,"fields":..} -> {"event":"bench","ms":[..]}  (one readout at a time)
#     {"op":"burst","to":J,"n":K} -> {"event":"burst","counts":{result:count}}  (K readouts at once)
#     {"op":"quit"}
import asyncio
import sys
import time

from slixmpp import ClientXMPP
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream import ET
from jsonlines import commands, out

NS_CONTROL = 'urn:xmpp:iot:control'
NS_DATA = 'jabber:x:data'


class Machine(ClientXMPP):
    def __init__(self, jid, password, cafile):
        super().__init__(jid, password)
        self.ssl_context.load_verify_locations(cafile)
        self.register_plugin('xep_0030')
        self.register_plugin('xep_0323')
        self.register_plugin('xep_0325')
        self.add_event_handler('session_start', self.on_start)

    async def on_start(self, _):
        self.send_presence()
        out({'event': 'online', 'jid': str(self.boundjid)})

    def readout(self, c, timeout=10):
        """One xep_0323 request_data; a future of (results, ms) ending at done/rejected/failure."""
        fut = asyncio.get_event_loop().create_future()
        results = []
        t0 = time.perf_counter()

        def cb(from_jid=None, result=None, nodeId=None, timestamp=None, fields=None, error_msg=None):
            results.append({'result': result, 'nodeId': nodeId, 'timestamp': timestamp, 'fields': fields, 'error_msg': error_msg})
            if result in ('done', 'rejected', 'failure', 'cancelled') and not fut.done():
                fut.set_result((results, (time.perf_counter() - t0) * 1000))

        flags = c.get('flags') or {'momentary': 'true'}
        self['xep_0323'].request_data(self.boundjid.full, c['to'], cb, nodeIds=c.get('nodes'), fields=c.get('fields'), flags=flags)

        async def wait():
            try:
                return await asyncio.wait_for(fut, timeout)
            except asyncio.TimeoutError:
                results.append({'result': 'timeout'})
                return results, None
        return wait()

    async def set_(self, c):
        fut = asyncio.get_event_loop().create_future()

        def cb(from_jid=None, result=None, nodeIds=None, fields=None, error_msg=None):
            if not fut.done():
                fut.set_result({'event': 'set', 'result': result, 'fields': fields, 'error_msg': error_msg})

        fields = [tuple(f) for f in c['fields']]
        self['xep_0325'].set_request(self.boundjid.full, c['to'], cb, fields, nodeIds=c.get('nodes'))
        try:
            return await asyncio.wait_for(fut, 10)
        except asyncio.TimeoutError:
            return {'event': 'set', 'result': 'timeout'}

    async def getform(self, c):
        iq = self.Iq()
        iq['type'] = 'get'
        iq['to'] = c['to']
        ET.SubElement(iq.xml, '{%s}getForm' % NS_CONTROL)
        try:
            res = await iq.send(timeout=10)
        except IqError as e:
            return {'event': 'getform', 'error': {'condition': e.iq['error']['condition'], 'text': e.iq['error']['text']}}
        x = res.xml.find('{%s}x' % NS_DATA)
        fields = []
        for f in x.findall('{%s}field' % NS_DATA):
            v = f.find('{http://jabber.org/protocol/xdata-validate}validate')
            fields.append({'var': f.get('var'), 'type': f.get('type'), 'values': [e.text or '' for e in f.findall('{%s}value' % NS_DATA)],
                           'datatype': None if v is None else v.get('datatype')})
        return {'event': 'getform', 'title': x.findtext('{%s}title' % NS_DATA), 'fields': fields}

    async def run(self, c):
        op = c['op']
        if op == 'read':
            results, ms = await self.readout(c)
            return {'event': 'read', 'results': results, 'ms': ms}
        if op == 'set':
            return await self.set_(c)
        if op == 'setmsg':
            self['xep_0325'].set_command(self.boundjid.full, c['to'], [tuple(f) for f in c['fields']], nodeIds=c.get('nodes'))
            return {'event': 'setmsg'}
        if op == 'getform':
            return await self.getform(c)
        if op == 'bench':
            ms = []
            for _ in range(c['n']):
                results, t = await self.readout(c)
                if results[-1]['result'] != 'done':
                    return {'event': 'bench', 'error': results}
                ms.append(t)
            return {'event': 'bench', 'ms': ms}
        if op == 'burst':
            done = await asyncio.gather(*[self.readout(c, timeout=60) for _ in range(c['n'])])
            counts = {}
            for results, _ in done:
                k = results[-1]['result']
                counts[k] = counts.get(k, 0) + 1
            return {'event': 'burst', 'counts': counts}
        return {'event': 'error', 'message': 'unknown op %s' % op}


async def main(argv):
    jid, password, port, cafile = argv[2], argv[3], int(argv[4]), argv[5]
    xmpp = Machine(jid, password, cafile)
    xmpp.connect(('127.0.0.1', port))
    async for c in commands():
        try:
            out(await xmpp.run(c))
        except Exception as e:  # a test must see it, not hang
            out({'event': c['op'] if c['op'] != 'read' else 'read', 'exception': repr(e)})
    xmpp.disconnect()
    await asyncio.sleep(0.2)


if __name__ == '__main__':
    asyncio.get_event_loop().run_until_complete(main(sys.argv))
