import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LineSplitter, parseKeyValueLine, mapJson, mapFields, type MappedField } from '../../drivers/lines';
import { parseNmea, nmeaChecksum, nmeaCoordinate } from '../../drivers/nmea';
import { parseSerialLine, formatSetLine } from '../../drivers/serial';
import { coerceValue, getPath, checkValue } from '../../drivers/values';

const GGA = '$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47';
const RMC = '$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A';
const VTG = '$GPVTG,054.7,T,034.4,M,005.5,N,010.2,K*48';

test('NMEA checksum and coordinates', () => {
  assert.is(nmeaChecksum('GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,'), 0x47);
  assert.ok(Math.abs(nmeaCoordinate('4807.038', 'N')! - 48.1173) < 1e-9);
  assert.ok(Math.abs(nmeaCoordinate('01131.000', 'W')! + 11.516666666) < 1e-6);
  assert.is(nmeaCoordinate('48x7', 'N'), undefined);
  assert.is(nmeaCoordinate('4807.038', 'Q'), undefined);
});

test('NMEA GGA, RMC, VTG, talkers and refusals', () => {
  const gga = parseNmea(GGA);
  assert.ok(gga.ok);
  if (gga.ok) {
    assert.is(gga.fix.fix, 'gps');
    assert.is(gga.fix.satellites, 8);
    assert.is(gga.fix.altitude, 545.4);
    assert.is(gga.fix.hdop, 0.9);
    assert.ok(Math.abs(gga.fix.longitude! - 11.516666) < 1e-5);
  }
  const rmc = parseNmea(RMC + '\r\n');
  assert.ok(rmc.ok && Math.abs(rmc.fix.speed! - 22.4 * 1.852) < 1e-9 && rmc.fix.course === 84.4);
  const vtg = parseNmea(VTG);
  assert.ok(vtg.ok && vtg.fix.speed === 10.2);
  const body = 'GNRMC,123519,V,,,,,,,230394,,';
  const noFix = parseNmea(`$${body}*${nmeaChecksum(body).toString(16).toUpperCase().padStart(2, '0')}`);
  assert.equal(noFix, { ok: true, fix: { type: 'RMC', fix: 'none' } });
  const bad = parseNmea(GGA.replace('*47', '*48'));
  assert.ok(!bad.ok && /checksum mismatch: sentence says 48, computed 47/.test(bad.error));
  const noSum = parseNmea('$GPGGA,123519,4807.038,N');
  assert.ok(!noSum.ok && /without checksum/.test(noSum.error));
  assert.ok(!parseNmea('\u0000\u00ff garbage').ok);
  const gsv = parseNmea('$GPGSV,1,1,00*79');
  assert.ok(gsv.ok && gsv.fix.type === 'GSV');
});

test('LineSplitter: CRLF, lines split across chunks, UTF-8 split mid-character, overlong lines', () => {
  const lines: string[] = [];
  const over: number[] = [];
  const s = new LineSplitter((l) => lines.push(l), (n) => over.push(n), 16);
  s.push(Buffer.from('a=1\r\nb='));
  s.push(Buffer.from('2\n\n'));
  const euro = Buffer.from('t=€\n');
  s.push(euro.subarray(0, 3));
  s.push(euro.subarray(3));
  s.push(Buffer.alloc(40, 0xfe));
  s.push(Buffer.from('\nok=1\n'));
  assert.equal(lines, ['a=1', 'b=2', 't=€', 'ok=1']);
  assert.equal(over, [40]);
});

test('key=value lines', () => {
  assert.equal([...parseKeyValueLine('temp=21.5 hum=40')!], [['temp', '21.5'], ['hum', '40']]);
  assert.equal([...parseKeyValueLine('temp=21.5,hum=40;state=ON')!], [['temp', '21.5'], ['hum', '40'], ['state', 'ON']]);
  assert.equal([...parseKeyValueLine('name="living room" t:3')!], [['name', 'living room'], ['t', '3']]);
  assert.is(parseKeyValueLine('just words here'), undefined);
  assert.is(parseKeyValueLine(''), undefined);
});

test('JSON path mapping: Tasmota, zigbee2mqtt, arrays, scale, missing and wrong values', () => {
  assert.is(getPath({ StatusSNS: { BME280: { Temperature: 21.3 } } }, 'StatusSNS.BME280.Temperature'), 21.3);
  assert.is(getPath({ a: [{ b: 1 }, { b: 2 }] }, 'a.1.b'), 2);
  assert.is(getPath({ a: 1 }, 'a.b'), undefined);
  assert.is(getPath({}, 'constructor'), undefined, 'no prototype lookups');
  const fields: MappedField[] = [
    { name: 'temperature', type: 'numeric', path: 'StatusSNS.BME280.Temperature', precision: 1 },
    { name: 'power', type: 'boolean', path: 'POWER' },
    { name: 'tenths', type: 'numeric', path: 'raw', scale: 0.1 },
    { name: 'missing', type: 'numeric', path: 'nope' },
    { name: 'bad', type: 'numeric', path: 'Bad' },
  ];
  assert.equal(mapJson({ StatusSNS: { BME280: { Temperature: 21.34 } }, POWER: 'ON', raw: 215, Bad: 'n/a' }, fields), [
    { field: 'temperature', value: 21.3 },
    { field: 'power', value: true },
    { field: 'tenths', value: 21.5 },
    { field: 'bad', error: 'Bad: expected a number, got "n/a"' },
  ]);
  assert.equal(mapFields((k) => ({ t: '20.5' } as Record<string, string>)[k], [{ name: 'temperature', type: 'numeric', path: 't' }]), [{ field: 'temperature', value: 20.5 }]);
});

test('coerceValue is lenient on text, checkValue strict', () => {
  assert.equal(coerceValue('21.5', { name: 'x', type: 'numeric' }), { ok: true, value: 21.5 });
  assert.equal(coerceValue('OFF', { name: 'x', type: 'boolean' }), { ok: true, value: false });
  assert.equal(coerceValue('AUTO', { name: 'x', type: 'enum', values: ['auto'] }), { ok: true, value: 'auto' });
  assert.equal(coerceValue('2.5', { name: 'x', type: 'int' }).ok, false);
  assert.equal(coerceValue('0x10', { name: 'x', type: 'numeric' }).ok, false);
  assert.equal(coerceValue('', { name: 'x', type: 'numeric' }).ok, false);
  assert.equal(checkValue('21.5', { name: 'x', type: 'numeric' }).ok, false);
});

test('parseSerialLine and formatSetLine per protocol', () => {
  const f: MappedField[] = [{ name: 'temperature', type: 'numeric', path: 't' }, { name: 'relay', type: 'boolean', writable: true }];
  assert.equal(parseSerialLine('kv', 't=21.5 relay=1', f), { ok: true, values: [{ field: 'temperature', value: 21.5 }, { field: 'relay', value: true }] });
  assert.equal(parseSerialLine('json', '{"t":20,"relay":false}', f), { ok: true, values: [{ field: 'temperature', value: 20 }, { field: 'relay', value: false }] });
  assert.ok(!parseSerialLine('json', '{"t":', f).ok);
  assert.ok(!parseSerialLine('json', '[1,2]', f).ok);
  assert.ok(!parseSerialLine('json', '{"other":1}', f).ok);
  assert.ok(!parseSerialLine('kv', 'hello', f).ok);
  const g = parseSerialLine('nmea', GGA, []);
  assert.ok(g.ok && g.values.some((v) => v.field === 'latitude' && v.value === 48.1173));
  assert.is(formatSetLine('json', { name: 'relay', type: 'boolean', path: 'out.relay' }, true), '{"out":{"relay":true}}\n');
  assert.is(formatSetLine('kv', { name: 'relay', type: 'boolean' }, false), 'relay=0\n');
  assert.is(formatSetLine('kv', { name: 'msg', type: 'string' }, 'a b'), 'msg="a b"\n');
});

test.run();
