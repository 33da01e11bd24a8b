// Bundles the collector into one file that runs with plain `node` (dist/collector.js).
// Plain JS so that it runs before anything is compiled. lib/collector-bundle.ts calls
// buildCollector too, when a source checkout synthesizes before `npm run build:collector`.
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const ENTRY = path.join(root, 'runtime', 'main.ts');
const OUTFILE = path.join(root, 'dist', 'collector.js');

/** Builds the bundle; writes then renames, so a concurrent reader never sees half a file. */
function buildCollector(entry = ENTRY, outfile = OUTFILE) {
  // esbuild is a development dependency: only a source checkout builds the bundle.
  const esbuild = require('esbuild');
  const result = esbuild.buildSync({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
    write: false,
  });
  const output = result.outputFiles.find((file) => file.path === outfile) ?? result.outputFiles[0];
  fs.mkdirSync(path.dirname(outfile), { recursive: true });
  const temporary = `${outfile}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, output.contents);
  fs.renameSync(temporary, outfile);
  return outfile;
}

module.exports = { buildCollector };

if (require.main === module) {
  const outfile = buildCollector();
  console.log(`collector bundled: ${path.relative(root, outfile)}`);
}
