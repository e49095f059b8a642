// Builds the palette: TypeScript (src/*.ts) to CommonJS in dist/, then the editor files
// Node-RED loads beside each node's .js (src/*.html, src/locales/<lang>/*.json) copied there.
// Plain JavaScript so it runs before anything is compiled: `node build.js` (npm run build,
// and npm pack through prepack). dist/ is updated in place, never emptied first: tests and a
// running Node-RED may be loading it while someone packs; only files whose source is gone are
// removed afterwards.
'use strict';
const { execFileSync } = require('node:child_process');
const { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } = require('node:fs');
const { join, relative } = require('node:path');

const here = __dirname;
const src = join(here, 'src');
const dist = join(here, 'dist');
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc', { paths: [here] }), '-p', here], { stdio: 'inherit' });
mkdirSync(dist, { recursive: true });
for (const f of readdirSync(src)) if (f.endsWith('.html')) cpSync(join(src, f), join(dist, f));
cpSync(join(src, 'locales'), join(dist, 'locales'), { recursive: true });

function sourceOf(rel) {
  if (rel.endsWith('.js')) return join(src, rel.replace(/\.js$/, '.ts'));
  return join(src, rel);
}
(function prune(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) prune(p);
    else if (!existsSync(sourceOf(relative(dist, p)))) rmSync(p);
  }
})(dist);
