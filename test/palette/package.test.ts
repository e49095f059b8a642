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
    const messages = JSON.parse(readFileSync(join(PALETTE_DIST, 'locales/en-US', `${type}.json`), 'utf8')) as Record<string, Record<string, unknown>>;
    for (const key of html.matchAll(/data-i18n="(?:\[placeholder\])?([\w-]+)\.([\w.]+)"/g)) {
      assert.is(key[1], type, `${type}.html uses its own namespace`);
      const v = key[2]!.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], messages[type]);
      assert.type(v, 'string', `${type}: message ${key[2]} exists`);
    }
  }
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
  assert.ok(files.includes('README.md') && files.includes('package.json'));
  assert.ok(files.includes('dist/lib/link.js'));
  assert.not.ok(files.some((f) => f.startsWith('src/') || f.endsWith('.ts')), files.join());
  assert.ok(existsSync(join(PALETTE, 'README.md')));
});

t.run();
