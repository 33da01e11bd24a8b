// Bundles the collector into one file that runs with plain `node` (dist/collector.js), and writes
// beside it the notices of every package inside that file (dist/THIRD-PARTY-NOTICES.txt).
// Plain JS so that it runs before anything is compiled. lib/collector-bundle.ts calls
// buildCollector too, when a source checkout synthesizes before `npm run build:collector`.
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const ENTRY = path.join(root, 'runtime', 'main.ts');
const OUTFILE = path.join(root, 'dist', 'collector.js');
/** The notices file's name, beside the bundle (lib/collector-bundle.ts reads the same name). */
const NOTICES_FILE = 'THIRD-PARTY-NOTICES.txt';

/**
 * Builds the bundle and its notices; each file is written aside then renamed, so a concurrent
 * reader never sees half a file. Returns the bundle's path.
 */
function buildCollector(entry = ENTRY, outfile = OUTFILE) {
  // esbuild is a development dependency: only a source checkout builds the bundle.
  const esbuild = require('esbuild');
  const result = esbuild.buildSync({
    ...bundleOptions(),
    entryPoints: [entry],
    outfile,
    // The bundled packages' licence comments (@license, @preserve, /*! ... */) are kept, gathered
    // at the end of the file; the full list with licence texts is the notices file.
    legalComments: 'eof',
    metafile: true,
    define: { [WORKER_SOURCE_NAME]: JSON.stringify(scrapeWorkerSource(esbuild, entry)) },
  });
  const output = result.outputFiles.find((file) => file.path === outfile) ?? result.outputFiles[0];
  const notices = thirdPartyNotices(bundledPackages(result.metafile, process.cwd()));
  writeWhole(path.join(path.dirname(outfile), NOTICES_FILE), notices);
  writeWhole(outfile, output.contents);
  return outfile;
}

function bundleOptions() {
  return {
    bundle: true,
    platform: 'node',
    // Node 20 is the oldest Node that runs it (the test machine's); the image runs a newer LTS.
    target: 'node20',
    format: 'cjs',
    minify: true,
    // Inputs in the metafile are relative to this directory.
    absWorkingDir: process.cwd(),
    logLevel: 'warning',
    write: false,
  };
}

/** The name runtime/worker-source.ts reads the scrape worker's code from. */
const WORKER_SOURCE_NAME = '__SCRAPE_WORKER_SOURCE__';

/**
 * The scrape worker (runtime/shard-worker-main.ts beside the entry) bundled on its own, as text the
 * collector bundle carries and starts its workers from (`eval`): a worker then parses about 50 KB,
 * not the whole bundle, which costs about 45 MiB of RSS per worker. An entry without a worker file
 * beside it (a test's stand-in checkout) gets none.
 */
function scrapeWorkerSource(esbuild, entry) {
  const workerEntry = path.join(path.dirname(entry), 'shard-worker-main.ts');
  if (!fs.existsSync(workerEntry)) return '';
  const result = esbuild.buildSync({ ...bundleOptions(), entryPoints: [workerEntry], outfile: 'scrape-worker.js', legalComments: 'none' });
  return result.outputFiles[0].text;
}

function writeWhole(file, contents) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, contents);
  fs.renameSync(temporary, file);
}

/**
 * The packages whose code is in the bundle: every input under a node_modules folder that put at
 * least one byte into the output, keyed by its package folder (the innermost node_modules/<name>
 * or node_modules/@scope/<name>), so two versions of one package are listed apart.
 */
function bundledPackages(metafile, cwd) {
  const folders = new Set();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, use] of Object.entries(output.inputs)) {
      if (use.bytesInOutput === 0) continue;
      const folder = packageFolder(path.resolve(cwd, input));
      if (folder) folders.add(folder);
    }
  }
  return [...folders].map(readPackage).sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
}

function packageFolder(file) {
  const parts = file.split(path.sep);
  const at = parts.lastIndexOf('node_modules');
  if (at < 0) return undefined;
  const nameLength = parts[at + 1]?.startsWith('@') ? 2 : 1;
  return parts.slice(0, at + 1 + nameLength).join(path.sep);
}

function readPackage(folder) {
  const manifest = JSON.parse(fs.readFileSync(path.join(folder, 'package.json'), 'utf8'));
  const licenseFiles = fs.readdirSync(folder).filter((name) => /^(licen[cs]e|copying|notice)([.-].*)?$/i.test(name)).sort();
  return {
    name: manifest.name,
    version: manifest.version,
    license: licenseOf(manifest),
    repository: repositoryOf(manifest),
    texts: licenseFiles.map((name) => ({ name, text: fs.readFileSync(path.join(folder, name), 'utf8').replace(/\r\n/g, '\n').trim() })),
  };
}

/** The SPDX expression of `license`, or of the older `licenses` array. */
function licenseOf(manifest) {
  const { license, licenses } = manifest;
  if (typeof license === 'string') return license;
  if (license && typeof license.type === 'string') return license.type;
  if (Array.isArray(licenses) && licenses.length > 0) return licenses.map((l) => (typeof l === 'string' ? l : l.type)).join(' OR ');
  throw new Error(`${manifest.name}@${manifest.version} declares no licence in its package.json: check it by hand before bundling it`);
}

function repositoryOf(manifest) {
  const repository = typeof manifest.repository === 'string' ? manifest.repository : manifest.repository?.url;
  return repository ?? manifest.homepage ?? '';
}

/**
 * The notices text: a table of every bundled package, then each distinct licence text once with
 * the packages that carry it. Deterministic (sorted, no dates or machine paths), since it goes into
 * the image's build context and so into its asset hash.
 */
function thirdPartyNotices(packages) {
  const lines = [
    'Third-party software in dist/collector.js (the cdk-cni-metrics-helper collector bundle)',
    '',
    `The bundle holds code from these ${packages.length} packages, listed with their version and licence as their`,
    'package.json declares it. Generated by runtime/build.js from the bundler\'s metafile; do not edit.',
    '',
  ];
  const width = Math.max(0, ...packages.map((p) => `${p.name}@${p.version}`.length));
  for (const p of packages) lines.push(`${`${p.name}@${p.version}`.padEnd(width)}  ${p.license}  ${p.repository}`.trimEnd());

  const byText = new Map();
  for (const p of packages) {
    for (const { text } of p.texts) {
      const holders = byText.get(text) ?? [];
      holders.push(`${p.name}@${p.version}`);
      byText.set(text, holders);
    }
  }
  const withoutText = packages.filter((p) => p.texts.length === 0).map((p) => `${p.name}@${p.version} (${p.license})`);
  if (withoutText.length > 0) {
    lines.push('', 'These packages ship no licence file; their licence is the one named above:', ...withoutText.map((p) => `  ${p}`));
  }
  for (const [text, holders] of byText) {
    lines.push('', '='.repeat(100), `Licence text of: ${holders.join(', ')}`, '='.repeat(100), '', text);
  }
  return lines.join('\n') + '\n';
}

module.exports = { buildCollector, NOTICES_FILE };

if (require.main === module) {
  const outfile = buildCollector();
  console.log(`collector bundled: ${path.relative(root, outfile)} (notices: ${path.relative(root, path.join(path.dirname(outfile), NOTICES_FILE))})`);
}
