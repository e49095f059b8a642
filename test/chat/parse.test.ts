// The chat grammar on many inputs: every command and shortcut, case, the `!` prefix, and
// junk (100 KB bodies, binary, control characters, unknown words, bad arguments).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fc from 'fast-check';
import { MAX_BODY_BYTES, parseCommand, parseHistoryWindow, type Command, type Parsed } from '../../agent/chat/parse';

function cmd(body: string): Command {
  const p = parseCommand(body);
  if (!p.ok) throw new Error(`expected a command from ${JSON.stringify(body)}, got error: ${p.error}`);
  return p.command;
}
function err(body: string): Extract<Parsed, { ok: false }> {
  const p = parseCommand(body);
  if (p.ok) throw new Error(`expected an error from ${JSON.stringify(body)}, got ${JSON.stringify(p.command)}`);
  return p;
}

test('every command by its word, any case, with or without !', () => {
  assert.equal(cmd('help'), { name: 'help' });
  assert.equal(cmd('Help'), { name: 'help' });
  assert.equal(cmd('!HELP'), { name: 'help' });
  assert.equal(cmd('  ! help  '), { name: 'help' });
  assert.equal(cmd('help set'), { name: 'help', topic: 'set' });
  assert.equal(cmd('status'), { name: 'status' });
  assert.equal(cmd('Status'), { name: 'status' });
  assert.equal(cmd('read'), { name: 'read' });
  assert.equal(cmd('read greenhouse'), { name: 'read', target: 'greenhouse' });
  assert.equal(cmd('Read greenhouse.temperature'), { name: 'read', target: 'greenhouse.temperature' });
  assert.equal(cmd('get greenhouse.temperature'), { name: 'read', target: 'greenhouse.temperature' });
  assert.equal(cmd('set greenhouse.fan on'), { name: 'set', target: 'greenhouse.fan', value: 'on' });
  assert.equal(cmd('set greenhouse.mode manual mode'), { name: 'set', target: 'greenhouse.mode', value: 'manual mode' });
  assert.equal(cmd('set greenhouse.fan=on'), { name: 'set', target: 'greenhouse.fan', value: 'on' });
  assert.equal(cmd('set greenhouse.fan := on'), { name: 'set', target: 'greenhouse.fan', value: 'on' });
  assert.equal(cmd('set greenhouse.target to 21.5'), { name: 'set', target: 'greenhouse.target', value: '21.5' });
  assert.equal(cmd('history greenhouse.temperature'), { name: 'history', target: 'greenhouse.temperature', count: 10 });
  assert.equal(cmd('history greenhouse.temperature 5'), { name: 'history', target: 'greenhouse.temperature', count: 5 });
  assert.equal(cmd('history greenhouse.temperature 10m'), { name: 'history', target: 'greenhouse.temperature', durationMs: 600_000 });
  assert.equal(cmd('history greenhouse.temperature 2 h'), { name: 'history', target: 'greenhouse.temperature', durationMs: 7_200_000 });
  assert.equal(cmd('history t.f 1d'), { name: 'history', target: 't.f', durationMs: 86_400_000 });
  assert.equal(cmd('alerts'), { name: 'alerts' });
  assert.equal(cmd('alerts on'), { name: 'alerts', on: true });
  assert.equal(cmd('Alerts OFF'), { name: 'alerts', on: false });
  assert.equal(cmd('ping'), { name: 'ping' });
  assert.equal(cmd('allow bob@example.org'), { name: 'allow', jid: 'bob@example.org', role: 'reader' });
  assert.equal(cmd('allow Bob@Example.org/phone controller'), { name: 'allow', jid: 'bob@example.org', role: 'controller' });
  assert.equal(cmd('deny carol@example.org'), { name: 'deny', jid: 'carol@example.org' });
  assert.equal(cmd('revoke carol@example.org'), { name: 'revoke', jid: 'carol@example.org' });
  assert.equal(cmd('who'), { name: 'who' });
});

test('shortcuts: # ? thing.field? field:=value thing.field=value', () => {
  assert.equal(cmd('#'), { name: 'help' });
  assert.equal(cmd('##'), { name: 'help' });
  assert.equal(cmd('?'), { name: 'status' });
  assert.equal(cmd('??'), { name: 'status' });
  assert.equal(cmd('greenhouse.temperature?'), { name: 'read', target: 'greenhouse.temperature' });
  assert.equal(cmd('temperature ?'), { name: 'read', target: 'temperature' });
  assert.equal(cmd('!temperature?'), { name: 'read', target: 'temperature' });
  assert.equal(cmd('fan:=on'), { name: 'set', target: 'fan', value: 'on' });
  assert.equal(cmd('fan := off'), { name: 'set', target: 'fan', value: 'off' });
  assert.equal(cmd('greenhouse.fan=on'), { name: 'set', target: 'greenhouse.fan', value: 'on' });
  assert.equal(cmd('status greenhouse'), { name: 'read', target: 'greenhouse' }, 'status NAME reads NAME');
});

test('errors say what to type instead', () => {
  assert.match(err('/help').error, /no leading \/.*`help`/);
  assert.match(err('').error, /`help`/);
  assert.match(err('!').error, /`help`/);
  assert.match(err('set').error, /`set thing\.field value`/);
  assert.match(err('set greenhouse.fan').error, /`set thing\.field value`/);
  assert.match(err('fan:=').error, /no value after `=`.*`fan:=VALUE`/);
  assert.match(err('history').error, /`history thing\.field/);
  assert.match(err('history t.f 0').error, /1 to 100/);
  assert.match(err('history t.f 1000').error, /1 to 100/);
  assert.match(err('history t.f soon').error, /neither a count nor a duration/);
  assert.match(err('history t.f 99d').error, /1 s to 30 d/);
  assert.match(err('alerts maybe').error, /on or off/);
  assert.match(err('allow').error, /needs a JID.*allow bob@example\.org/);
  assert.match(err('allow bob').error, /not a JID/);
  assert.match(err('allow @example.org').error, /not a JID/);
  assert.match(err('allow bob@example.org owner').error, /config file/);
  assert.match(err('allow bob@example.org king').error, /no role/);
  assert.match(err('deny').error, /needs a JID/);
  assert.match(err('revoke a@b c@d').error, /one JID/);
  assert.match(err('read a b').error, /one name/);
  assert.match(err('status now please').error, /no arguments/);
  assert.match(err('help a b').error, /one command/);
});

test('unknown words: an error naming the word, marked unknown', () => {
  const e = err('reboot now');
  assert.is(e.unknown, 'reboot');
  assert.match(e.error, /don't know `reboot`/);
  assert.is(err('hello').unknown, 'hello');
  assert.is(err('DROP TABLE things;').unknown, 'DROP');
  assert.is(err('a b c ?!').unknown, 'a');
});

test('bodies over 4 KiB: too long, whatever they hold (100 KB, multibyte)', () => {
  assert.match(err('x'.repeat(100 * 1024)).error, /too long/);
  assert.match(err('status ' + ' '.repeat(MAX_BODY_BYTES)).error, /too long/);
  // 1366 three-byte characters = 4098 bytes: counted in bytes, not characters.
  assert.match(err('€'.repeat(1366)).error, /too long/);
  assert.ok(parseCommand('€'.repeat(1365)).ok === false);
  assert.ok(parseCommand('status' + ' '.repeat(MAX_BODY_BYTES - 6)).ok, 'exactly 4096 bytes is parsed');
});

test('control characters, zero-width marks and binary junk never make a command or a throw', () => {
  assert.equal(cmd('st\u0000atus'.replace('\u0000', '')), { name: 'status' });
  assert.equal(cmd('\u200Bstatus\uFEFF'), { name: 'status' }, 'zero-width and BOM are dropped');
  assert.equal(cmd('status\r\n'), { name: 'status' });
  assert.equal(cmd('\tread\u0007 greenhouse'), { name: 'read', target: 'greenhouse' });
  const junk = err('\u0001\u0002\u0003\u00ff\u00fe');
  assert.ok(junk.error.length < 200);
  assert.not.match(junk.error, /[\u0000-\u001f]/, 'no control character echoed back');
  assert.ok(err('x'.repeat(3000)).error.length < 200, 'a long unknown word is cut when shown');
});

test('names: thing ids with dots, digits, dashes and non-ASCII letters', () => {
  assert.equal(cmd('read w1.28-0000.temp'), { name: 'read', target: 'w1.28-0000.temp' });
  assert.equal(cmd('read Gewächshaus.Temperatur'), { name: 'read', target: 'Gewächshaus.Temperatur' });
  assert.match(err('read ../../etc/passwd').error, /one name/);
  assert.match(err('set <script>=1').error, /set needs a field and a value/);
});

test('history windows', () => {
  assert.equal(parseHistoryWindow('1'), { count: 1 });
  assert.equal(parseHistoryWindow('100'), { count: 100 });
  assert.equal(parseHistoryWindow('30s'), { durationMs: 30_000 });
  assert.equal(parseHistoryWindow('90 min'), { durationMs: 5_400_000 });
  assert.equal(parseHistoryWindow('3 Hours'), { durationMs: 10_800_000 });
  assert.type(parseHistoryWindow('-5'), 'string');
  assert.type(parseHistoryWindow('1.5h'), 'string');
  assert.type(parseHistoryWindow('0s'), 'string');
});

test('property: any string parses to a command or an error, never throws, errors stay short and printable', () => {
  fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 100 })), (s) => {
    const p = parseCommand(s);
    if (!p.ok) {
      assert.ok(p.error.length < 400, `short error for ${JSON.stringify(s)}`);
      // eslint-disable-next-line no-control-regex
      assert.not.match(p.error, /[\u0000-\u0008\u000B\u000C\u000E-\u001F]/);
    }
  }), { numRuns: 5000 });
});

test.run();
