#!/usr/bin/python3
# A person's XMPP client that follows a device: presence subscriptions (RFC 6121 3), the
# device's presence status, and its PEP items (XEP-0060/0163). slixmpp 1.8.3 (Debian
# python3-slixmpp; run with /usr/bin/python3), with its default roster settings: like most
# clients it approves a subscription request from a contact it asked to follow.
# Commands are JSON lines on stdin, events JSON lines on stdout.
#
#   follower.py JID PASSWORD PORT CAFILE
#     -> {"event":"online"}
#     {"op":"subscribe","to":J}            presence subscribe to J
#     {"op":"get_items","to":J,"node":N}   -> {"event":"got_items","node":N,"ok":bool,"count":n,"error":cond}
#     {"op":"sub_node","to":J,"node":N}    -> {"event":"sub_node","ok":bool,"error":cond}
#     {"op":"quit"}
#   Events as they come:
#     {"event":"presence","type":T,"from":J}       subscribe / subscribed / unsubscribe / unsubscribed
#     {"event":"status","from":J,"show":S,"status":T}   available presence from J
#     {"event":"message","from":J,"body":B}
#     {"event":"item","from":J,"node":N,"id":I}    a PubSub event notification item
import asyncio
import sys

from slixmpp import ClientXMPP
from slixmpp.exceptions import IqError, IqTimeout
from jsonlines import commands, out

NS_PUBSUB_EVENT = 'http://jabber.org/protocol/pubsub#event'


def bare(jid):
    return str(jid).split('/')[0].lower()


class Follower(ClientXMPP):
    def __init__(self, jid, password, cafile):
        super().__init__(jid, password)
        self.ssl_context.load_verify_locations(cafile)
        self.register_plugin('xep_0030')
        self.register_plugin('xep_0060')
        self.add_event_handler('session_start', self.on_start)
        self.add_event_handler('message', self.on_message)
        # slixmpp's 'message' event needs a <body>; PubSub notifications come through xep_0060.
        self.add_event_handler('pubsub_publish', self.on_publish)
        for t in ('subscribe', 'subscribed', 'unsubscribe', 'unsubscribed'):
            self.add_event_handler('presence_' + t, self.on_sub_presence)
        # slixmpp names an available presence with <show/> by its show ('presence_away'):
        # take them all from the generic event.
        self.add_event_handler('presence', self.on_available)

    async def on_start(self, _):
        await self.get_roster()
        self.send_presence()
        out({'event': 'online'})

    def on_sub_presence(self, p):
        out({'event': 'presence', 'type': p['type'], 'from': bare(p['from'])})

    def on_available(self, p):
        if bare(p['from']) == bare(self.boundjid):
            return
        kind = p['type']
        if kind in ('subscribe', 'subscribed', 'unsubscribe', 'unsubscribed', 'error', 'probe'):
            return
        out({'event': 'status', 'from': str(p['from']), 'type': 'unavailable' if kind == 'unavailable' else 'available', 'show': p['show'], 'status': p['status']})

    def on_publish(self, msg):
        items = msg.xml.find('{%s}event/{%s}items' % (NS_PUBSUB_EVENT, NS_PUBSUB_EVENT))
        if items is not None:
            for it in items.findall('{%s}item' % NS_PUBSUB_EVENT):
                out({'event': 'item', 'from': bare(msg['from']), 'node': items.get('node'), 'id': it.get('id')})

    def on_message(self, msg):
        if msg.xml.find('{%s}event' % NS_PUBSUB_EVENT) is not None:
            return
        if msg['body']:
            out({'event': 'message', 'from': bare(msg['from']), 'type': msg['type'], 'body': msg['body']})

    async def get_items(self, to, node):
        try:
            res = await self['xep_0060'].get_items(to, node, timeout=10)
            items = res.xml.findall('.//{http://jabber.org/protocol/pubsub}item')
            out({'event': 'got_items', 'node': node, 'ok': True, 'count': len(items), 'error': None})
        except IqError as e:
            out({'event': 'got_items', 'node': node, 'ok': False, 'count': 0, 'error': e.condition})
        except IqTimeout:
            out({'event': 'got_items', 'node': node, 'ok': False, 'count': 0, 'error': 'timeout'})

    async def sub_node(self, to, node):
        try:
            await self['xep_0060'].subscribe(to, node, timeout=10)
            out({'event': 'sub_node', 'node': node, 'ok': True, 'error': None})
        except IqError as e:
            out({'event': 'sub_node', 'node': node, 'ok': False, 'error': e.condition})
        except IqTimeout:
            out({'event': 'sub_node', 'node': node, 'ok': False, 'error': 'timeout'})


async def run_commands(xmpp, done):
    async for cmd in commands():
        op = cmd.get('op')
        if op == 'subscribe':
            xmpp.send_presence(pto=cmd['to'], ptype='subscribe')
        elif op == 'get_items':
            asyncio.ensure_future(xmpp.get_items(cmd['to'], cmd['node']))
        elif op == 'sub_node':
            asyncio.ensure_future(xmpp.sub_node(cmd['to'], cmd['node']))
    xmpp.disconnect()
    done.set_result(True)


def main():
    jid, password, port, cafile = sys.argv[1:5]
    xmpp = Follower(jid, password, cafile)
    xmpp.connect(('127.0.0.1', int(port)))
    loop = asyncio.get_event_loop()
    done = loop.create_future()
    asyncio.ensure_future(run_commands(xmpp, done))
    loop.run_until_complete(done)
    loop.run_until_complete(asyncio.sleep(0.2))


if __name__ == '__main__':
    main()
