/**
 * `npm run preview -- [--out DIR] [--dashboard NAME]`: the EKS-CNI-metrics dashboard as synthesized,
 * filled with a simulated cluster's numbers from the real collector, as DIR/dashboard.html and
 * DIR/dashboard.png (default DIR cdk.out/preview). Needs chromium; installs it with apt-get as root.
 */
import * as path from 'node:path';
import { buildPreview } from './build-preview';
import { ensureChromium } from './chromium';
import { DEFAULT_DASHBOARD_NAME } from './synthesized-dashboard';

const USAGE = 'usage: npm run preview -- [--out DIR] [--dashboard NAME]\n' +
  `  --out DIR         where dashboard.html and dashboard.png go (default cdk.out/preview)\n` +
  `  --dashboard NAME  which synthesized dashboard to draw (default ${DEFAULT_DASHBOARD_NAME})\n`;

interface Arguments {
  readonly outDir: string;
  readonly dashboardName: string;
}

export function parseArguments(argv: readonly string[]): Arguments {
  let outDir = path.join('cdk.out', 'preview');
  let dashboardName = DEFAULT_DASHBOARD_NAME;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === '--out' || flag === '--dashboard') {
      if (value === undefined || value.startsWith('--')) throw new Error(`${flag} needs a value\n${USAGE}`);
      if (flag === '--out') outDir = value;
      else dashboardName = value;
      i++;
    } else {
      throw new Error(`unknown argument '${flag}'\n${USAGE}`);
    }
  }
  return { outDir, dashboardName };
}

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(USAGE);
    return;
  }
  const args = parseArguments(process.argv.slice(2));
  const log = (line: string): void => { process.stderr.write(`preview: ${line}\n`); };
  const chromium = ensureChromium(log);
  const started = Date.now();
  const result = await buildPreview({
    projectDir: path.resolve(__dirname, '..'),
    outDir: args.outDir,
    dashboardName: args.dashboardName,
    chromium,
    log,
  });
  const { synthesize, collector, render } = result.timings;
  process.stdout.write(
    `${path.relative(process.cwd(), result.htmlPath)}\n${path.relative(process.cwd(), result.pngPath)}\n` +
    `(${result.dashboard.body.widgets.length} widgets, ${result.run.datums.length} datums; synthesize ${synthesize} ms, ` +
    `collector ${collector} ms, render ${render} ms, total ${Date.now() - started} ms)\n`,
  );
}

if (require.main === module) {
  main().catch((err: Error) => {
    process.stderr.write(`preview failed: ${err.message}\n`);
    process.exit(1);
  });
}
