// Bundles the collector into one file that runs with plain `node` (dist/collector.js).
// Plain JS so that it runs before anything is compiled.
const path = require('path');
const esbuild = require('esbuild');

const root = path.resolve(__dirname, '..');
const outfile = path.join(root, 'dist', 'collector.js');

esbuild.buildSync({
  entryPoints: [path.join(root, 'runtime', 'main.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
console.log(`collector bundled: ${path.relative(root, outfile)}`);
