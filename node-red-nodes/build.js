// Builds the palette: TypeScript (src/*.ts) to CommonJS in dist/, then the editor files
// Node-RED loads beside each node's .js (src/*.html, src/locales/<lang>/*.json) copied there.
// Plain JavaScript so it runs before anything is compiled: `node build.js` (npm run build,
// and npm pack through prepack).
'use strict';
const { execFileSync } = require('node:child_process');
const { cpSync, mkdirSync, readdirSync, rmSync } = require('node:fs');
const { join } = require('node:path');

const here = __dirname;
const src = join(here, 'src');
const dist = join(here, 'dist');
rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc', { paths: [here] }), '-p', here], { stdio: 'inherit' });
mkdirSync(dist, { recursive: true });
for (const f of readdirSync(src)) if (f.endsWith('.html')) cpSync(join(src, f), join(dist, f));
cpSync(join(src, 'locales'), join(dist, 'locales'), { recursive: true });
