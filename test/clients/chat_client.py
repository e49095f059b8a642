#!/usr/bin/python3
# A person's XMPP client for the chat tests and the chat benchmark, written with slixmpp 1.8.3
# (Debian python3-slixmpp; run with /usr/bin/python3). Driven by JSON lines on stdin, answers
# JSON lines on stdout.
#
#   chat_client.py client JID PASSWORD PORT CAFILE
#     {"op":"ask","to":J,"body":B,"timeout":5,"receipt":true}  send, wait for the next message from J
#         -> {"event":"answer","body":..,"ms":..,"receipt":bool}  (ms: send to answer, at this client)
#     {"op":"send","to":J,"body":B,"mfrom":F}                    send without waiting (mfrom: forge 'from')
#     {"op":"flood","to":J,"body":B,"n":1000}                   send n messages at once -> {"event":"flooded"}
#     {"op":"collect","ms":500}    messages received so far (after ms) -> {"event":"collected","messages":[..]}
#     {"op":"bench","to":J,"body":B,"n":N,"gap_ms":G}  N asks one after another -> {"event":"bench","ms":[..]}
#     {"op":"quit"}
#   chat_client.py bot JID PASSWORD PORT CAFILE RATE
#     the benchmark's anchor: a slixmpp bot doing the agent's job, publishing RATE readings/s to
#     its PEP node and answering `status` in chat with the latest values.
import asyncio
import math
import sys
import time

from slixmpp import ClientXMPP
from slixmpp.xmlstream import ET
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath
from jsonlines import commands, out

NS_RECEIPTS = 'urn:xmpp:receipts'
NS_PUBSUB = 'http://jabber.org/protocol/pubsub'
NS_SENSORDATA = 'urn:xmpp:iot:sensordata'


def bare(jid):
    return str(jid).split('/')[0].lower()


class Person(ClientXMPP):
    def __init__(self, jid, password, cafile):
        super().__init__(jid, password)
        self.ssl_context.load_verify_locations(cafile)
        self.inbox = []
        self.waiter = None
        self.receipts = set()
        self.add_event_handler('session_start', self.on_start)
        self.add_event_handler('message', self.on_message)
        # slixmpp's 'message' event fires only for messages with a body: receipts need their own.
        self.register_handler(Callback('receipt', MatchXPath('{jabber:client}message/{%s}received' % NS_RECEIPTS), self.on_message))
        self.ready = asyncio.get_event_loop().create_future()

    async def on_start(self, _):
        self.send_presence()
        if not self.ready.done():
            self.ready.set_result(True)

    def on_message(self, msg):
        rec = msg.xml.find('{%s}received' % NS_RECEIPTS)
        if rec is not None:
            self.receipts.add(rec.get('id'))
            return
        entry = {'from': str(msg['from']), 'type': msg['type'], 'body': msg['body'], 'at': time.perf_counter()}
        if msg['type'] == 'error':
            entry['error'] = msg['error']['condition']
        if self.waiter and not self.waiter.done() and self.waiter.to == bare(msg['from']) and (msg['body'] or msg['type'] == 'error'):
            self.waiter.set_result(entry)  # an answer asked for is not collected again
            return
        self.inbox.append(entry)

    def send_body(self, to, body, mfrom=None, receipt=False):
        m = self.make_message(mto=to, mbody=body, mtype='chat')
        if mfrom:
            m['from'] = mfrom
        m['id'] = self.new_id()
        if receipt:
            m.xml.append(ET.Element('{%s}request' % NS_RECEIPTS))
        m.send()
        return m['id']

    async def ask(self, to, body, timeout=5.0, receipt=False):
        fut = asyncio.get_event_loop().create_future()
        fut.to = bare(to)
        self.waiter = fut
        t0 = time.perf_counter()
        mid = self.send_body(to, body, receipt=receipt)
        try:
            entry = await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            return {'event': 'answer', 'body': None, 'ms': None, 'timeout': True, 'receipt': mid in self.receipts}
        finally:
            self.waiter = None
        ms = (entry['at'] - t0) * 1000
        if receipt:
            # The receipt travels before the answer; give a late one a moment.
            for _ in range(20):
                if mid in self.receipts:
                    break
                await asyncio.sleep(0.01)
        return {'event': 'answer', 'body': entry['body'], 'type': entry['type'], 'error': entry.get('error'),
                'ms': ms, 'receipt': mid in self.receipts}


class Bot(ClientXMPP):
    """The anchor: what a person would write with slixmpp to do the agent's job."""

    def __init__(self, jid, password, cafile, rate):
        super().__init__(jid, password)
        self.ssl_context.load_verify_locations(cafile)
        self.rate = rate
        self.latest = {'temperature': (20.0, time.time())}
        self.add_event_handler('session_start', self.on_start)
        self.add_event_handler('message', self.on_message)

    async def on_start(self, _):
        self.send_presence()
        out({'event': 'online'})
        asyncio.ensure_future(self.publish_loop())

    async def publish_loop(self):
        i = 0
        t0 = time.perf_counter()
        while True:
            i += 1
            value = round(20 + 5 * math.sin(i / 50), 2)
            now = time.time()
            self.latest['temperature'] = (value, now)
            iq = self.Iq(stype='set')
            pubsub = ET.SubElement(iq.xml, '{%s}pubsub' % NS_PUBSUB)
            publish = ET.SubElement(pubsub, '{%s}publish' % NS_PUBSUB, node='urn:xiota:thing:bench')
            item = ET.SubElement(publish, '{%s}item' % NS_PUBSUB, id='i%d' % i)
            fields = ET.SubElement(item, '{%s}fields' % NS_SENSORDATA)
            node = ET.SubElement(fields, '{%s}node' % NS_SENSORDATA, nodeId='bench')
            ts = ET.SubElement(node, '{%s}timestamp' % NS_SENSORDATA, value=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(now)))
            ET.SubElement(ts, '{%s}numeric' % NS_SENSORDATA, name='temperature', value=str(value), unit='°C', momentary='true', automaticReadout='true')
            iq.send(callback=lambda _r: None)
            delay = t0 + i / self.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)

    def on_message(self, msg):
        if msg['type'] not in ('chat', 'normal') or not msg['body']:
            return
        if msg['body'].strip().lower() == 'status':
            value, at = self.latest['temperature']
            body = 'bench, %d s ago:\ntemperature: %.2f °C' % (time.time() - at, value)
        else:
            body = 'type status'
        msg.reply(body).send()


async def client_main(argv):
    jid, password, port, cafile = argv
    xmpp = Person(jid, password, cafile)
    xmpp.connect(('127.0.0.1', int(port)))
    await asyncio.wait_for(xmpp.ready, 20)
    out({'event': 'online', 'jid': str(xmpp.boundjid)})
    async for cmd in commands():
        op = cmd['op']
        if op == 'ask':
            out(await xmpp.ask(cmd['to'], cmd['body'], cmd.get('timeout', 5), cmd.get('receipt', False)))
        elif op == 'send':
            xmpp.send_body(cmd['to'], cmd['body'], mfrom=cmd.get('mfrom'))
            out({'event': 'sent'})
        elif op == 'flood':
            t0 = time.perf_counter()
            for i in range(cmd['n']):
                xmpp.send_body(cmd['to'], cmd['body'])
                if i % 50 == 49:
                    await asyncio.sleep(0)  # let slixmpp write what it has
            out({'event': 'flooded', 'n': cmd['n'], 'ms': (time.perf_counter() - t0) * 1000})
        elif op == 'collect':
            await asyncio.sleep(cmd.get('ms', 0) / 1000)
            msgs = [{k: v for k, v in m.items() if k != 'at'} for m in xmpp.inbox]
            xmpp.inbox = []
            out({'event': 'collected', 'messages': msgs})
        elif op == 'bench':
            ms = []
            for _ in range(cmd['n']):
                a = await xmpp.ask(cmd['to'], cmd['body'], cmd.get('timeout', 5))
                ms.append(a['ms'])
                await asyncio.sleep(cmd.get('gap_ms', 0) / 1000)
            xmpp.inbox = []
            out({'event': 'bench', 'ms': ms})
        else:
            out({'event': 'error', 'error': 'unknown op %s' % op})
    xmpp.disconnect()
    out({'event': 'bye'})


def main():
    mode = sys.argv[1]
    if mode == 'client':
        asyncio.get_event_loop().run_until_complete(client_main(sys.argv[2:6]))
    elif mode == 'bot':
        jid, password, port, cafile, rate = sys.argv[2:7]
        xmpp = Bot(jid, password, cafile, float(rate))
        xmpp.connect(('127.0.0.1', int(port)))
        xmpp.process(forever=True)
    else:
        raise SystemExit('usage: chat_client.py client|bot JID PASSWORD PORT CAFILE [RATE]')


if __name__ == '__main__':
    main()
