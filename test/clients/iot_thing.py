#!/usr/bin/python3
# A remote thing served by slixmpp 1.8.3's own device plugins (Debian python3-slixmpp; run with
# /usr/bin/python3): xep_0323 (readout) and xep_0325 (control), for the tests of xiota's IoT
# *client* (agent/iot/remote.ts). Nodes:
#   room    sensor fields temperature (numeric °C), humidity (numeric %), fan (boolean), with
#           three historicalHour temperatures; control fields fan (boolean), setpoint (double),
#           label (string), color (color)
#   broken  every readout fails ("sensor bus timeout")
#   silent  never answers a readout (the plugin's own timeout is 60 s)
# Both plugins run unthreaded: slixmpp's asyncio stream is not thread-safe (see iot_device.py).
#
#   iot_thing.py JID PASSWORD PORT CAFILE
#     -> {"event":"online","jid":...}; {"event":"set","node":...,"fields":[[name,type,value],...]}
#        {"event":"values","fan":...,"setpoint":...,...} after {"op":"values"}; {"op":"quit"} ends it
import asyncio
import sys

from slixmpp import ClientXMPP
from slixmpp.plugins.xep_0323.device import Device as SensorDevice
from slixmpp.plugins.xep_0325.device import Device as ControlDevice
from jsonlines import commands, out


class Room(SensorDevice):
    def __init__(self, control):
        super().__init__('room')
        self.control = control
        self._add_field(name='temperature', typename='numeric', unit='°C')
        self._add_field(name='humidity', typename='numeric', unit='%')
        self._add_field(name='fan', typename='boolean')
        for ts, v in (('2026-12-01T10:00:00', '20.5'), ('2026-12-01T11:00:00', '21.0'), ('2026-12-01T12:00:00', '21.5')):
            self._add_field_timestamp_data('temperature', ts, v, flags={'historicalHour': 'true', 'automaticReadout': 'true'})

    def refresh(self, fields):
        fan = self.control._get_field_value('fan')
        self._add_field_momentary_data('temperature', '22.50', flags={'automaticReadout': 'true'})
        self._add_field_momentary_data('humidity', '41', flags={'automaticReadout': 'true'})
        self._add_field_momentary_data('fan', 'true' if fan in ('true', '1') else 'false', flags={'automaticReadout': 'true'})


class Broken(SensorDevice):
    def __init__(self):
        super().__init__('broken')
        self._add_field(name='level', typename='numeric', unit='m')

    def request_fields(self, fields, flags, session, callback):
        callback(session, result='error', nodeId=self.nodeId, timestamp_block=None, error_msg='sensor bus timeout')


class Silent(SensorDevice):
    def __init__(self):
        super().__init__('silent')
        self._add_field(name='x', typename='numeric', unit='')

    def request_fields(self, fields, flags, session, callback):
        pass


class Actuators(ControlDevice):
    def __init__(self):
        super().__init__('room')
        self._add_control_field('fan', 'boolean', 'false')
        self._add_control_field('setpoint', 'double', '20.0')
        self._add_control_field('label', 'string', '')
        self._add_control_field('color', 'color', '000000')

    def set_control_fields(self, fields, session, callback):
        out({'event': 'set', 'node': self.nodeId, 'fields': [list(f) for f in fields]})
        return super().set_control_fields(fields, session, callback)


class Thing(ClientXMPP):
    def __init__(self, jid, password, cafile):
        super().__init__(jid, password)
        self.ssl_context.load_verify_locations(cafile)
        self.register_plugin('xep_0030')
        self.register_plugin('xep_0323', {'threaded': False})
        self.register_plugin('xep_0325')
        self.actuators = Actuators()
        self['xep_0323'].register_node(nodeId='room', device=Room(self.actuators), commTimeout=10)
        self['xep_0323'].register_node(nodeId='broken', device=Broken(), commTimeout=10)
        self['xep_0323'].register_node(nodeId='silent', device=Silent(), commTimeout=60)
        self['xep_0325'].register_node(nodeId='room', device=self.actuators, commTimeout=10)
        self.add_event_handler('session_start', self.on_start)

    async def on_start(self, _):
        self.send_presence()
        out({'event': 'online', 'jid': str(self.boundjid)})


async def main(argv):
    jid, password, port, cafile = argv[1], argv[2], int(argv[3]), argv[4]
    xmpp = Thing(jid, password, cafile)
    xmpp.connect(('127.0.0.1', port))
    async for c in commands():
        if c.get('op') == 'values':
            out({'event': 'values', **{k: v['value'] for k, v in xmpp.actuators.control_fields.items()}})
    xmpp.disconnect()
    await asyncio.sleep(0.2)


if __name__ == '__main__':
    asyncio.get_event_loop().run_until_complete(main(sys.argv))
