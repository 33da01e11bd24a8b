/**
 * The collector bundle the benchmark measures: `npm run build:collector` (dist/collector.js),
 * copied into bench/work so that a rebuild by someone else during the run cannot change it; and,
 * for the CPU profile only, the same entry bundled without minification so functions keep names.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runBounded } from './processes';

export async function buildCollectorBundle(repoRoot: string, workDir: string, build: boolean, given?: string): Promise<string> {
  const dist = given ? path.resolve(repoRoot, given) : path.join(repoRoot, 'dist', 'collector.js');
  if (build) {
    const run = await runBounded('npm', ['run', '--silent', 'build:collector'], { cwd: repoRoot, timeoutMs: 180_000, env: process.env });
    if (run.exitCode !== 0) {
      throw new Error(`npm run build:collector failed (exit ${run.exitCode}): ${(run.stderr || run.stdout).slice(-600)}`);
    }
  }
  if (!fs.existsSync(dist)) {
    throw new Error(`${dist} does not exist: ${given ? 'check the --bundle path' : 'run npm run build:collector, or drop --no-build'}`);
  }
  const copy = path.join(workDir, 'collector.js');
  fs.copyFileSync(dist, copy);
  return copy;
}

/** runtime/main.ts bundled like runtime/build.js does, but readable: for `--cpu-prof` only. */
export async function buildProfilingBundle(repoRoot: string, workDir: string): Promise<string> {
  // esbuild is a devDependency; loaded here so the rest of the harness does not need it.
  const esbuild = await import('esbuild');
  const outfile = path.join(workDir, 'collector-profiling.js');
  await esbuild.build({
    entryPoints: [path.join(repoRoot, 'runtime', 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: false,
    keepNames: true,
    logLevel: 'warning',
  });
  return outfile;
}
