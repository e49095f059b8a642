// The palette as Node-RED's loader and Palette Manager see the package: package.json's
// node-red section (every node a CommonJS .js with its .html and en-US messages beside it),
// the examples (importable: known node types, config nodes present, wires resolve), and what
// `npm pack` puts in the tarball.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PALETTE, PALETTE_DIST } from './_palette';

const t = suite('palette package');
interface Pkg {
  name: string;
  keywords: string[];
  engines: { node: string };
  files: string[];
  license: string;
  repository?: { type?: string; url?: string; directory?: string };
  'node-red': { version: string; nodes: Record<string, string> };
}
const pkg = JSON.parse(readFileSync(join(PALETTE, 'package.json'), 'utf8')) as Pkg;
const CORE_TYPES = new Set(['tab', 'inject', 'function', 'debug', 'catch', 'change', 'switch']);

t('package.json: scoped name, node-red keyword, Node-RED >=4.1.0, Node >=20, six xiota- nodes', () => {
  assert.is(pkg.name, '@xiota/node-red-xiota');
  assert.ok(pkg.keywords.includes('node-red'));
  assert.is(pkg['node-red'].version, '>=4.1.0');
  assert.is(pkg.engines.node, '>=20');
  assert.equal(Object.keys(pkg['node-red'].nodes).sort(), ['xiota-agent', 'xiota-control', 'xiota-control-in', 'xiota-in', 'xiota-read', 'xiota-thing']);
});

t('package.json and LICENSE: the root package\'s license, a git repository with the palette\'s directory (Node-RED scorecard)', () => {
  const root = JSON.parse(readFileSync(join(PALETTE, '..', 'package.json'), 'utf8')) as { license: string };
  assert.is(pkg.license, root.license);
  assert.is(pkg.repository?.type, 'git');
  assert.match(pkg.repository?.url ?? '', /^git\+https:\/\/.+\.git$/);
  assert.is(pkg.repository?.directory, 'node-red-nodes');
  const text = readFileSync(join(PALETTE, 'LICENSE'), 'utf8');
  assert.ok(text.startsWith(`${root.license} License`), text.slice(0, 40));
  assert.match(text, /Permission is hereby granted, free of charge/);
});

t('each node: a CommonJS function module with its .html (registerType, template, help) and en-US messages', () => {
  for (const [type, rel] of Object.entries(pkg['node-red'].nodes)) {
    const js = join(PALETTE, rel);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    assert.type(require(js), 'function', `${rel} exports the register function`);
    assert.not.match(readFileSync(js, 'utf8'), /^\s*(import|export)\s/m, `${rel} is CommonJS`);
    const html = readFileSync(js.replace(/\.js$/, '.html'), 'utf8');
    assert.match(html, new RegExp(`RED\\.nodes\\.registerType\\('${type}'`), `${type}.html registers ${type}`);
    assert.match(html, new RegExp(`data-template-name="${type}"`));
    assert.match(html, new RegExp(`data-help-name="${type}"`));
    assert.not.match(html, /<script[^>]+src=/, 'no external scripts (they leave nodes grey)');
    // The editor runs these: a syntax error would leave the node grey in the palette.
    const code = [...html.matchAll(/<script type="text\/javascript">([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    assert.is(code.length, 1, `${type}.html: one editor script`);
    assert.not.throws(() => new Function('RED', '$', code[0]!), `${type}.html script parses`);
    const messages = JSON.parse(readFileSync(join(PALETTE_DIST, 'locales/en-US', `${type}.json`), 'utf8')) as Record<string, Record<string, unknown>>;
    for (const key of html.matchAll(/data-i18n="(?:\[placeholder\])?([\w-]+)\.([\w.]+)"/g)) {
      assert.is(key[1], type, `${type}.html uses its own namespace`);
      const v = key[2]!.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], messages[type]);
      assert.type(v, 'string', `${type}: message ${key[2]} exists`);
    }
  }
});

interface EditorDef {
  category: string;
  defaults: Record<string, { value: unknown; validate?: (this: unknown, v: unknown, opt?: unknown) => boolean | string; type?: string; required?: boolean }>;
  credentials?: Record<string, { type: string }>;
  label(this: Record<string, unknown>): string;
}

/** Runs a node's editor script with the part of the editor it touches (dialog fields absent). */
function editorDef(type: string): EditorDef {
  const html = readFileSync(join(PALETTE_DIST, `${type}.html`), 'utf8');
  const code = /<script type="text\/javascript">([\s\S]*?)<\/script>/.exec(html)![1]!;
  const defs: Record<string, EditorDef> = {};
  const RED = {
    nodes: { registerType: (t: string, d: EditorDef) => { defs[t] = d; } },
    validators: { number: () => () => true, typedInput: () => () => true, regex: () => () => true },
  };
  const $ = () => ({ length: 0 });
  new Function('RED', '$', code)(RED, $);
  assert.ok(defs[type], `${type}.html registers ${type}`);
  return defs[type]!;
}

t('editor definitions: categories, config picker, password credential, labels, validators with messages', () => {
  const ctx = { _: (k: string) => k };
  const agent = editorDef('xiota-agent');
  assert.is(agent.category, 'config');
  assert.equal(agent.credentials, { password: { type: 'password' } });
  assert.not.ok('password' in agent.defaults, 'the password is never a plain property');
  assert.is(agent.label.call({ mode: 'account', jid: 'nr@x' }), 'nr@x');
  assert.is(agent.defaults.socket!.validate!.call(ctx, 'run/api.sock', {}), 'xiota-agent.errors.socket');
  assert.is(agent.defaults.jid!.validate!.call({ ...ctx, mode: 'account' }, 'nr', {}), 'xiota-agent.errors.jid');
  assert.is(agent.defaults.jid!.validate!.call({ ...ctx, mode: 'agent' }, '', {}), true);
  for (const type of ['xiota-in', 'xiota-read', 'xiota-control', 'xiota-thing', 'xiota-control-in']) {
    const d = editorDef(type);
    assert.is(d.category, 'xiota', type);
    assert.equal([d.defaults.agent!.type, d.defaults.agent!.required], ['xiota-agent', true], `${type} picks a xiota-agent`);
  }
  const read = editorDef('xiota-read');
  assert.is(read.defaults.jid!.validate!.call(ctx, 'gw@x', {}), 'xiota-read.errors.jid', 'a readout needs a full JID');
  assert.is(read.defaults.jid!.validate!.call(ctx, 'gw@x/r', {}), true);
  assert.is(read.label.call({ thing: 'cellar', jid: 'gw@x/r' }), 'cellar @ gw@x/r');
  const thing = editorDef('xiota-thing');
  assert.is(thing.defaults.thing!.validate!.call(ctx, '-bad', {}), 'xiota-thing.errors.thing');
  assert.match(String(thing.defaults.fields!.validate!.call(ctx, [{ name: 'a.b', type: 'int' }], {})), /letters, digits, _ or -/);
  assert.match(String(thing.defaults.fields!.validate!.call(ctx, [{ name: 'm', type: 'enum', values: '' }], {})), /an enum needs its values/);
  assert.is(thing.defaults.fields!.validate!.call(ctx, thing.defaults.fields!.value, {}), true, 'the default field row is valid');
  const cin = editorDef('xiota-control-in');
  assert.is(cin.label.call({ thing: 'kitchen', field: 'light' }), 'kitchen.light set');
});

t('examples: valid flows of known types; every xiota node has its xiota-agent; wires resolve', () => {
  const dir = join(PALETTE, 'examples');
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 3, files.join());
  for (const f of files) {
    const flow = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { id: string; type: string; agent?: string; wires?: string[][]; z?: string }[];
    const ids = new Set(flow.map((n) => n.id));
    assert.is(ids.size, flow.length, `${f}: unique ids`);
    for (const n of flow) {
      assert.ok(CORE_TYPES.has(n.type) || n.type in pkg['node-red'].nodes, `${f}: unknown type ${n.type}`);
      if (n.type.startsWith('xiota-') && n.type !== 'xiota-agent') assert.is(flow.find((c) => c.id === n.agent)?.type, 'xiota-agent', `${f}: ${n.id} has its config node`);
      for (const out of n.wires ?? []) for (const w of out) assert.ok(ids.has(w), `${f}: wire to ${w}`);
      if (n.z) assert.ok(ids.has(n.z), `${f}: tab ${n.z}`);
    }
  }
});

t('npm pack: the built nodes, editor files, locales, examples and README; no sources', () => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: PALETTE, encoding: 'utf8' });
  const files = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  for (const rel of Object.values(pkg['node-red'].nodes)) {
    assert.ok(files.includes(rel), rel);
    assert.ok(files.includes(rel.replace(/\.js$/, '.html')), rel);
  }
  assert.ok(files.includes('dist/locales/en-US/xiota-agent.json'));
  assert.ok(files.includes('examples/greenhouse-fan.json'));
  assert.ok(files.includes('README.md') && files.includes('package.json') && files.includes('LICENSE'));
  assert.ok(files.includes('dist/lib/link.js'));
  assert.not.ok(files.some((f) => f.startsWith('src/') || f.endsWith('.ts')), files.join());
  assert.ok(existsSync(join(PALETTE, 'README.md')));
});

t.run();
