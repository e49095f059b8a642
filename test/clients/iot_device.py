#!/usr/bin/python3
# The readout benchmark's anchor: a thing served by slixmpp 1.8.3's own xep_0323 device plugin
# (Debian python3-slixmpp; run with /usr/bin/python3), with the fields the xiota side serves:
# node 'room' with temperature (numeric °C), humidity (numeric %) and fan (boolean), refreshed
# on every readout as a driver would sample them. The plugin runs with threaded=False: its
# default (True) answers each readout from a thread of its own, and slixmpp's asyncio stream is
# not thread-safe (here the fields never left: the reader timed out after `accepted`).
#
#   iot_device.py JID PASSWORD PORT CAFILE   -> {"event":"online","jid":...}; stdin {"op":"quit"} ends it
import asyncio
import os
import sys

from slixmpp import ClientXMPP
from slixmpp.plugins.xep_0323.device import Device
from jsonlines import commands, out

THREADED = os.environ.get("IOT_DEVICE_THREADED") == "1"  # the benchmark runs it unthreaded


class Room(Device):
    def __init__(self):
        super().__init__('room')
        self._add_field(name='temperature', typename='numeric', unit='°C')
        self._add_field(name='humidity', typename='numeric', unit='%')
        self._add_field(name='fan', typename='boolean')
        self.i = 0

    def refresh(self, fields):
        # A fresh sample on every readout, as xiota's simulated driver gives one.
        self.i += 1
        self._add_field_momentary_data('temperature', '%.2f' % (20 + (self.i % 100) / 10), flags={'automaticReadout': 'true'})
        self._add_field_momentary_data('humidity', '%.0f' % (50 + self.i % 10), flags={'automaticReadout': 'true'})
        self._add_field_momentary_data('fan', 'true' if self.i % 2 else 'false', flags={'automaticReadout': 'true'})


class Thing(ClientXMPP):
    def __init__(self, jid, password, cafile):
        super().__init__(jid, password)
        self.ssl_context.load_verify_locations(cafile)
        self.register_plugin('xep_0030')
        self.register_plugin('xep_0323', {'threaded': THREADED})
        self['xep_0323'].register_node(nodeId='room', device=Room(), commTimeout=10)
        self.add_event_handler('session_start', self.on_start)

    async def on_start(self, _):
        self.send_presence()
        out({'event': 'online', 'jid': str(self.boundjid)})


async def main(argv):
    jid, password, port, cafile = argv[1], argv[2], int(argv[3]), argv[4]
    xmpp = Thing(jid, password, cafile)
    xmpp.connect(('127.0.0.1', port))
    async for _ in commands():
        pass
    xmpp.disconnect()
    await asyncio.sleep(0.2)


if __name__ == '__main__':
    asyncio.get_event_loop().run_until_complete(main(sys.argv))
