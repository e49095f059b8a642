import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  buildForm, parseForm, readSubmission, submitForm, formTypeOf, expectation, FormError, NS_DATA,
  type FormField, type DataForm,
} from '../../agent/xep/forms';
import { Element } from '../../agent/xml/element';
import { parseXml } from '../pubsub/xml';

/** Serialization with attributes sorted, so attribute order in an example does not matter. */
function norm(el: Element): string {
  const copy = new Element(el.name, el.xmlns, Object.fromEntries(Object.entries(el.attrs).sort(([a], [b]) => a.localeCompare(b))));
  for (const c of el.children) copy.children.push(typeof c === 'string' ? c.trim() : parseXml(norm(c)));
  return copy.toString();
}

// XEP-0004 5.1 "Service Returns Bot Creation Form" (the <x/> of the example).
const BOT_FORM = `
<x xmlns='jabber:x:data' type='form'>
  <title>Bot Configuration</title>
  <instructions>Fill out this form to configure your new bot!</instructions>
  <field type='hidden' var='FORM_TYPE'><value>jabber:bot</value></field>
  <field type='fixed'><value>Section 1: Bot Info</value></field>
  <field type='text-single' label='The name of your bot' var='botname'/>
  <field type='text-multi' label='Helpful description of your bot' var='description'/>
  <field type='boolean' label='Public bot?' var='public'><required/></field>
  <field type='text-private' label='Password for special access' var='password'/>
  <field type='fixed'><value>Section 2: Features</value></field>
  <field type='list-multi' label='What features will the bot support?' var='features'>
    <option label='Contests'><value>contests</value></option>
    <option label='News'><value>news</value></option>
    <option label='Polls'><value>polls</value></option>
    <option label='Reminders'><value>reminders</value></option>
    <option label='Search'><value>search</value></option>
    <value>news</value>
    <value>search</value>
  </field>
  <field type='fixed'><value>Section 3: Subscriber List</value></field>
  <field type='list-single' label='Maximum number of subscribers' var='maxsubs'>
    <value>20</value>
    <option label='10'><value>10</value></option>
    <option label='20'><value>20</value></option>
    <option label='30'><value>30</value></option>
    <option label='50'><value>50</value></option>
    <option label='100'><value>100</value></option>
    <option label='None'><value>none</value></option>
  </field>
  <field type='fixed'><value>Section 4: Invitations</value></field>
  <field type='jid-multi' label='People to invite' var='invitelist'>
    <desc>Tell all your friends about your new bot!</desc>
  </field>
</x>`;

// XEP-0004 5.1 "User Submits Bot Creation Form".
const BOT_SUBMIT = `
<x xmlns='jabber:x:data' type='submit'>
  <field type='hidden' var='FORM_TYPE'><value>jabber:bot</value></field>
  <field type='text-single' var='botname'><value>The Jabber Google Bot</value></field>
  <field type='text-multi' var='description'>
    <value>This bot enables you to send requests to</value>
    <value>Google and receive the search results right</value>
    <value>in your Jabber client. It&apos; really cool!</value>
    <value>It even supports Google News!</value>
  </field>
  <field type='boolean' var='public'><value>0</value></field>
  <field type='text-private' var='password'><value>v3r0na</value></field>
  <field type='list-multi' var='features'><value>news</value><value>search</value></field>
  <field type='list-single' var='maxsubs'><value>50</value></field>
  <field type='jid-multi' var='invitelist'><value>juliet@capulet.com</value><value>benvolio@montague.net</value></field>
</x>`;

test('XEP-0004 5.1 bot form: parse, every field type, and build back to the same form', () => {
  const form = parseForm(parseXml(BOT_FORM));
  assert.is(form.type, 'form');
  assert.is(form.title, 'Bot Configuration');
  assert.equal(form.instructions, ['Fill out this form to configure your new bot!']);
  assert.is(formTypeOf(form), 'jabber:bot');
  assert.equal(form.fields.map((f) => f.type), ['hidden', 'fixed', 'text-single', 'text-multi', 'boolean', 'text-private', 'fixed', 'list-multi', 'fixed', 'list-single', 'fixed', 'jid-multi']);
  assert.is(form.fields[4]!.required, true);
  assert.equal(form.fields[7]!.values, ['news', 'search']);
  assert.equal(form.fields[9]!.options![5], { label: 'None', value: 'none' });
  assert.is(form.fields[11]!.desc, 'Tell all your friends about your new bot!');
  // Our builder writes <value/> before <option/> (the schema's order); the model round-trips.
  assert.equal(parseForm(buildForm(form)), form);
});

test('XEP-0004 5.1 bot submission read against the form: typed values per field type', () => {
  const spec = parseForm(parseXml(BOT_FORM)).fields;
  const sub = readSubmission(parseXml(BOT_SUBMIT), spec, { formType: 'jabber:bot' });
  assert.equal(sub.errors, []);
  assert.equal(sub.unknown, []);
  assert.is(sub.values.get('botname'), 'The Jabber Google Bot');
  assert.is(sub.values.get('description'), "This bot enables you to send requests to\nGoogle and receive the search results right\nin your Jabber client. It' really cool!\nIt even supports Google News!");
  assert.is(sub.values.get('public'), false);
  assert.is(sub.values.get('password'), 'v3r0na');
  assert.equal(sub.values.get('features'), ['news', 'search']);
  assert.is(sub.values.get('maxsubs'), '50');
  assert.equal(sub.values.get('invitelist'), ['juliet@capulet.com', 'benvolio@montague.net']);
  assert.not.ok(sub.values.has('FORM_TYPE'));
});

test('XEP-0004 5.2 search result: <reported>/<item> table built exactly as the example', () => {
  const expected = parseXml(`
<x xmlns='jabber:x:data' type='result'>
  <title>Joogle Search: verona</title>
  <reported><field var='name'/><field var='url'/></reported>
  <item>
    <field var='name'><value>Comune di Verona - Benvenuti nel sito ufficiale</value></field>
    <field var='url'><value>http://www.comune.verona.it/</value></field>
  </item>
  <item>
    <field var='name'><value>benvenuto!</value></field>
    <field var='url'><value>http://www.hellasverona.it/</value></field>
  </item>
</x>`);
  const rows: [string, string][] = [['Comune di Verona - Benvenuti nel sito ufficiale', 'http://www.comune.verona.it/'], ['benvenuto!', 'http://www.hellasverona.it/']];
  const form: DataForm = {
    type: 'result', title: 'Joogle Search: verona', fields: [],
    reported: [{ var: 'name' }, { var: 'url' }],
    items: rows.map(([n, u]) => [{ var: 'name', values: [n] }, { var: 'url', values: [u] }]),
  };
  assert.is(norm(buildForm(form)), norm(expected));
  assert.equal(parseForm(expected), form);
});

test('XEP-0050 4 stage 2 form (list-multi with labels, list-single) round-trips; stage 3 submit reads', () => {
  const stage2 = parseXml(`
<x xmlns='jabber:x:data' type='form'>
  <title>Configure Service</title>
  <instructions>Please select the run modes and state for 'httpd'.</instructions>
  <field var='runlevel' label='Run Modes' type='list-multi'>
    <value>3</value><value>5</value>
    <option label='Single-User'><value>1</value></option>
    <option label='Non-Networked Multi-User'><value>2</value></option>
    <option label='Full Multi-User'><value>3</value></option>
    <option label='X-Window'><value>5</value></option>
  </field>
  <field var='state' label='Run State' type='list-single'>
    <value>off</value>
    <option label='Active'><value>off</value></option>
    <option label='Inactive'><value>on</value></option>
  </field>
</x>`);
  const form = parseForm(stage2);
  assert.is(norm(buildForm(form)), norm(stage2));
  // Stage 3 submit: no `type` on the fields (the form's types apply).
  const sub = readSubmission(parseXml(`
<x xmlns='jabber:x:data' type='submit'>
  <field var='runlevel'><value>3</value></field>
  <field var='state'><value>on</value></field>
</x>`), form.fields);
  assert.equal(sub.errors, []);
  assert.equal(sub.values.get('runlevel'), ['3']);
  assert.is(sub.values.get('state'), 'on');
  const bad = readSubmission(parseXml(`<x xmlns='jabber:x:data' type='submit'><field var='state'><value>paused</value></field><field var='runlevel'><value>4</value></field></x>`), form.fields);
  assert.equal(bad.errors.map((e) => e.var), ['state', 'runlevel']);
  assert.is(bad.errors[0]!.message, '"Run State" (state): expected one of: off, on, got "paused"');
  assert.is(bad.errors[1]!.message, '"Run Modes" (runlevel): expected any of: 1, 2, 3, 5, got "4"');
});

// XEP-0122 3.2.3 "Range validation": the example field, and values in and out of the range.
test('XEP-0122 range validation on xs:dateTime (the example field)', () => {
  const el = parseXml(`
<x xmlns='jabber:x:data' type='form'>
<field var='evt.date' type='text-single' label='Event Date/Time'>
  <validate xmlns='http://jabber.org/protocol/xdata-validate' datatype='xs:dateTime'>
    <range min='2003-10-05T00:00:00-07:00' max='2003-10-24T23:59:59-07:00'/>
  </validate>
  <value>2003-10-06T11:22:00-07:00</value>
</field></x>`);
  const spec = parseForm(el).fields;
  assert.equal(spec[0]!.validate, { datatype: 'xs:dateTime', method: 'range', min: '2003-10-05T00:00:00-07:00', max: '2003-10-24T23:59:59-07:00' });
  assert.is(norm(buildForm(parseForm(el))), norm(el));
  const submit = (v: string) => readSubmission(parseXml(`<x xmlns='jabber:x:data' type='submit'><field var='evt.date'><value>${v}</value></field></x>`), spec);
  assert.equal(submit('2003-10-06T11:22:00-07:00').values.get('evt.date'), '2003-10-06T11:22:00-07:00');
  // 06:59:59Z on the 5th is 23:59:59-07:00 on the 4th: one second before min.
  assert.is(submit('2003-10-05T06:59:59Z').errors.length, 1);
  assert.is(submit('2003-10-05T07:00:00Z').errors.length, 0);
  const late = submit('2003-10-25T07:00:00Z').errors[0]!;
  assert.is(late.var, 'evt.date');
  assert.match(late.message, /"Event Date\/Time" \(evt\.date\): expected a date and time .* from 2003-10-05T00:00:00-07:00 to 2003-10-24T23:59:59-07:00, got "2003-10-25T07:00:00Z"/);
  assert.match(submit('2003-02-29T00:00:00Z').errors[0]!.message, /expected a date and time/);
  assert.match(submit('yesterday').errors[0]!.message, /got "yesterday"/);
});

test('XEP-0122 regex validation (the SSN example) is anchored', () => {
  const spec = parseForm(parseXml(`
<x xmlns='jabber:x:data' type='form'>
<field var='ssn' type='text-single' label='Social Security Number'>
  <desc>This field should be your SSN, including '-' (e.g. 123-12-1234)</desc>
  <validate xmlns='http://jabber.org/protocol/xdata-validate' datatype='xs:string'>
    <regex>([0-9]{3})-([0-9]{2})-([0-9]{4})</regex>
  </validate>
</field></x>`)).fields;
  const submit = (v: string) => readSubmission(parseXml(`<x xmlns='jabber:x:data' type='submit'><field var='ssn'><value>${v}</value></field></x>`), spec);
  assert.is(submit('123-12-1234').values.get('ssn'), '123-12-1234');
  assert.is(submit('x123-12-1234').errors[0]!.message, '"Social Security Number" (ssn): expected text matching ([0-9]{3})-([0-9]{2})-([0-9]{4}), got "x123-12-1234"');
});

test('XEP-0122 open list-single and <list-range/> on list-multi (the examples)', () => {
  const spec = parseForm(parseXml(`
<x xmlns='jabber:x:data' type='form'>
<field var='evt.category' type='list-single' label='Event Category'>
  <validate xmlns='http://jabber.org/protocol/xdata-validate' datatype='xs:string'><open/></validate>
  <option><value>holiday</value></option>
  <option><value>reminder</value></option>
  <option><value>appointment</value></option>
</field>
<field var='evt.notify-methods' type='list-multi' label='Notify me by'>
  <validate xmlns='http://jabber.org/protocol/xdata-validate' datatype='xs:string'>
    <basic/>
    <list-range min='1' max='3'/>
  </validate>
  <option><value>e-mail</value></option>
  <option><value>jabber/xmpp</value></option>
  <option><value>work phone</value></option>
  <option><value>home phone</value></option>
  <option><value>cell phone</value></option>
</field></x>`)).fields;
  assert.equal(spec[1]!.validate, { datatype: 'xs:string', method: 'basic', listMin: 1, listMax: 3 });
  const ok = readSubmission(parseXml(`<x xmlns='jabber:x:data' type='submit'>
    <field var='evt.category'><value>birthday</value></field>
    <field var='evt.notify-methods'><value>e-mail</value><value>cell phone</value></field></x>`), spec);
  assert.equal(ok.errors, []);
  assert.is(ok.values.get('evt.category'), 'birthday');
  const many = readSubmission(parseXml(`<x xmlns='jabber:x:data' type='submit'>
    <field var='evt.notify-methods'><value>e-mail</value><value>cell phone</value><value>work phone</value><value>home phone</value></field></x>`), spec);
  assert.is(many.errors[0]!.message, '"Notify me by" (evt.notify-methods): choose 1 to 3 values, got 4');
});

const DT_CASES: [string, string[], string[]][] = [
  ['xs:boolean', ['true', 'false', '1', '0'], ['yes', 'on', '2', '']],
  ['xs:integer', ['0', '-17', '+42', '9007199254740991'], ['1.5', '1e3', 'ten', '99999999999999999999']],
  ['xs:int', ['2147483647', '-2147483648'], ['2147483648', '-2147483649']],
  ['xs:long', ['-9007199254740991'], ['9223372036854775808', '12a']],
  ['xs:double', ['21.5', '-1e-3', '.5', '2.15E1'], ['INF', 'NaN', '1,5', '0x10', '']],
  ['xs:decimal', ['21.5', '-0.25', '3.', '+7'], ['1e3', '21,5', 'abc']],
  ['xs:date', ['2026-12-01', '2024-02-29', '2026-12-01Z', '2026-12-01+02:00'], ['2026-13-01', '2023-02-29', '01/12/2026', '2026-12-1']],
  ['xs:dateTime', ['2003-10-06T11:22:00-07:00', '2026-12-01T23:30:00Z', '2026-12-01T23:30:00.125', '2026-12-01T24:00:00Z'], ['2026-12-01 23:30:00', '2026-12-01T25:00:00Z', '2026-12-01T23:61:00Z', '2026-12-01T24:00:01Z']],
  ['xs:time', ['23:30:00', '00:00:00Z', '12:00:00.5+01:00'], ['23:30', '7pm', '12:60:00']],
  ['xs:duration', ['PT30S', 'PT5M', 'P1DT2H', 'P1Y2M', '-PT1.5S'], ['P', 'PT', '30s', 'P1H', 'PT1D']],
  ['xs:language', ['en', 'pt-BR'], ['english language', '']],
];

for (const [dt, good, bad] of DT_CASES) {
  test(`XEP-0122 datatype ${dt}: accepts ${good.join(' ')}; refuses ${bad.map((b) => JSON.stringify(b)).join(' ')}`, () => {
    const spec: FormField[] = [{ var: 'v', label: 'V', validate: { datatype: dt } }];
    for (const g of good) {
      const s = readSubmission(submitForm('t', [['v', g]]), spec);
      assert.equal(s.errors, [], `${dt} ${g}`);
      assert.ok(s.values.has('v'), `${dt} ${g} has a value`);
    }
    for (const b of bad) {
      const s = readSubmission(submitForm('t', [['v', b]]), [{ ...spec[0]!, required: true }]);
      assert.is(s.errors.length, 1, `${dt} "${b}" refused`);
      assert.ok(s.errors[0]!.message.startsWith('"V" (v)'), s.errors[0]!.message);
      assert.not.ok(s.values.has('v'));
    }
  });
}

test('typed values: numbers are numbers, booleans are booleans, dates stay ISO text', () => {
  const spec: FormField[] = [
    { var: 'n', validate: { datatype: 'xs:decimal' } },
    { var: 'i', validate: { datatype: 'xs:int' } },
    { var: 'b', type: 'boolean' },
    { var: 'd', validate: { datatype: 'xs:duration' } },
  ];
  const s = readSubmission(submitForm('t', [['n', ' 21.5 '], ['i', '-3'], ['b', 'true'], ['d', 'PT5M']]), spec);
  assert.equal([...s.values.entries()], [['n', 21.5], ['i', -3], ['b', true], ['d', 'PT5M']]);
});

test('decimal range 5-30: out-of-range values named with the field and the range', () => {
  const spec: FormField[] = [{ var: 'greenhouse.setpoint', label: 'Setpoint (°C)', validate: { datatype: 'xs:decimal', min: '5', max: '30' } }];
  for (const v of ['99', '9920', '4.99', '-1']) {
    const s = readSubmission(submitForm('t', [['greenhouse.setpoint', v]]), spec);
    assert.is(s.errors[0]!.message, `"Setpoint (°C)" (greenhouse.setpoint): expected a decimal number such as 21.5 from 5 to 30, got "${v}"`);
  }
  assert.is(readSubmission(submitForm('t', [['greenhouse.setpoint', '30']]), spec).values.get('greenhouse.setpoint'), 30);
  assert.is(expectation({ var: 'x', validate: { datatype: 'xs:int', min: '1' } }), 'an integer from -2147483648 to 2147483647 (xs:int) of at least 1');
});

test('client quirks: echoed fixed fields, instructions and <validate> are ignored; unknown vars listed, not fatal', () => {
  const spec: FormField[] = [
    { type: 'fixed', values: ['Section'] },
    { var: 'err', type: 'fixed', values: ['previous error'] },
    { var: 'level', type: 'text-single', validate: { datatype: 'xs:integer', min: '0', max: '10' } },
  ];
  // poezio echoes everything it was sent, including validate and var-less fixed fields.
  const s = readSubmission(parseXml(`
<x xmlns='jabber:x:data' type='submit'>
  <instructions>Fill this in</instructions>
  <field type='fixed'><value>Section</value></field>
  <field var='err' type='fixed'><value>previous error</value></field>
  <field var='level' type='text-single'>
    <validate xmlns='http://jabber.org/protocol/xdata-validate' datatype='xs:integer'><range min='0' max='10'/></validate>
    <value>7</value>
  </field>
  <field var='colour'><value>blue</value></field>
</x>`), spec);
  assert.equal(s.errors, []);
  assert.equal([...s.values.entries()], [['level', 7]]);
  assert.equal(s.unknown, ['colour']);
});

test('bad submissions: missing required, two values for one, duplicates, wrong form type, not a submit', () => {
  const spec: FormField[] = [
    { var: 'a', label: 'A', required: true, validate: { datatype: 'xs:integer' } },
    { var: 'b', type: 'list-single', options: [{ value: 'x' }] },
    { var: 'c', type: 'jid-single', label: 'Who' },
  ];
  let s = readSubmission(parseXml(`<x xmlns='jabber:x:data' type='submit'>
    <field var='FORM_TYPE'><value>urn:other</value></field>
    <field var='b'><value>x</value><value>x</value></field>
    <field var='c'><value>not a jid@</value></field>
    <field var='c'><value>bob@example.org</value></field></x>`), spec, { formType: 'urn:xiota:set' });
  assert.equal(s.errors.map((e) => e.message), [
    'this form is urn:xiota:set, not urn:other',
    '"b": expected one value, got 2',
    '"Who" (c): expected a JID such as user@example.org, got "not a jid@"',
    '"Who" (c) was sent twice; send it once',
    '"A" (a) is required: give an integer',
  ]);
  s = readSubmission(parseXml(`<x xmlns='jabber:x:data' type='form'/>`), spec);
  assert.is(s.errors[0]!.message, 'expected a submitted form (type "submit"), got type "form"');
  s = readSubmission(parseXml(`<x xmlns='jabber:x:data'/>`), spec);
  assert.match(s.errors[0]!.message, /data form type "" is not one of form, submit, cancel, result/);
  s = readSubmission(parseXml(`<x xmlns='jabber:x:data' type='submit'><field var='a'><value></value></field></x>`), spec);
  assert.is(s.errors[0]!.message, '"A" (a) is required: give an integer');
});

test('parseForm refuses what is not a data form, with what was expected', () => {
  assert.throws(() => parseForm(parseXml(`<x xmlns='jabber:x:oob'/>`)), (e: unknown) => e instanceof FormError && /expected <x xmlns='jabber:x:data'>/.test((e as Error).message));
  assert.throws(() => parseForm(parseXml(`<x xmlns='jabber:x:data' type='submit'><field var='a' type='colour'/></x>`)), /field "a" has unknown type "colour"/);
});

test('submitForm: FORM_TYPE hidden first, then the fields (XEP-0068)', () => {
  const el = submitForm('http://jabber.org/protocol/pubsub#node_config', [['pubsub#max_items', '10'], ['pubsub#roster_groups_allowed', ['a', 'b']]]);
  assert.is(el.xmlns, NS_DATA);
  assert.is(el.toString(), '<x xmlns="jabber:x:data" type="submit"><field var="FORM_TYPE" type="hidden"><value>http://jabber.org/protocol/pubsub#node_config</value></field><field var="pubsub#max_items"><value>10</value></field><field var="pubsub#roster_groups_allowed"><value>a</value><value>b</value></field></x>');
});

test.run();
