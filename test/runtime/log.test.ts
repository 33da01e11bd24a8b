/**
 * The logger's promise: every line on stderr is one JSON object, Node's own warnings included.
 * Warnings are checked in real child processes, where Node's default printer really runs: once with
 * runtime/log.ts bundled alone, once with the collector bundle started and stopped as the image runs it.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { buildSync } from 'esbuild';
import { createLogger } from '../../runtime/log';
import { COLLECTOR_BUNDLE, loopbackCollectorEnv, startCollector } from '../support/collector-process';
import { tempDirMaker } from '../lib/temp-app';

const tempDir = tempDirMaker('log-test-');

/** Each non-empty line of `text` parsed as JSON; fails the test on the first line that is not. */
function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON line: ${JSON.stringify(line)}\nin:\n${text}`);
      }
    });
}

describe('createLogger', () => {
  test('writes one JSON object a line, at or above the level', () => {
    const lines: string[] = [];
    const logger = createLogger('warn', (line) => lines.push(line));
    logger.info('dropped');
    logger.warn('two\nlines', { n: 1 });
    expect(lines).toHaveLength(1);
    expect(lines[0].endsWith('\n')).toBe(true);
    expect(lines[0].slice(0, -1)).not.toContain('\n');
    expect(JSON.parse(lines[0])).toMatchObject({ level: 'warn', msg: 'two\nlines', n: 1 });
  });
});

describe('routeProcessWarnings', () => {
  test('turns each process warning into one JSON line and leaves none of Node\'s plain text', () => {
    // GIVEN runtime/log.ts bundled into a script that emits a multi-line warning like the AWS
    // SDK's, a deprecation with a code, and a warning object with a detail
    const dir = tempDir();
    const entry = path.join(dir, 'emit.ts');
    fs.writeFileSync(
      entry,
      [
        `import { createLogger, routeProcessWarnings } from ${JSON.stringify(path.resolve(__dirname, '..', '..', 'runtime', 'log'))};`,
        "routeProcessWarnings(createLogger('info'));",
        "process.emitWarning('NodeVersionSupportWarning: The SDK\\nwill require node >=22.\\n\\nMore information: https://a.co/x');",
        "process.emitWarning('old API', { type: 'DeprecationWarning', code: 'DEP0999' });",
        "process.emitWarning('careful', { detail: 'first\\nsecond' });",
      ].join('\n'),
    );
    const script = path.join(dir, 'emit.js');
    buildSync({ entryPoints: [entry], outfile: script, bundle: true, platform: 'node', format: 'cjs', logLevel: 'error' });

    // WHEN it runs under plain node
    const result = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 20_000 });

    // THEN stderr holds exactly three JSON lines, the multi-line texts joined into one sentence each
    expect(result.status).toBe(0);
    expect(result.stdout).toBe('');
    const lines = jsonLines(result.stderr);
    expect(lines.map(({ level, msg, warning, code, detail }) => ({ level, msg, warning, code, detail }))).toEqual([
      {
        level: 'warn',
        msg: 'process warning',
        warning: 'Warning',
        code: undefined,
        detail: 'NodeVersionSupportWarning: The SDK will require node >=22. More information: https://a.co/x',
      },
      { level: 'warn', msg: 'process warning', warning: 'DeprecationWarning', code: 'DEP0999', detail: 'old API' },
      { level: 'warn', msg: 'process warning', warning: 'Warning', code: undefined, detail: 'careful first second' },
    ]);
  });

  test('the same script without it prints Node\'s plain-text warning (what the routing replaces)', () => {
    const dir = tempDir();
    const script = path.join(dir, 'plain.js');
    fs.writeFileSync(script, "process.emitWarning('NodeVersionSupportWarning: The SDK\\nwill require node >=22.');\n");
    const result = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 20_000 });
    expect(result.stderr).toMatch(/^\(node:\d+\) Warning: NodeVersionSupportWarning: The SDK\nwill require node >=22\./);
  });
});

describe('the collector bundle started and stopped with nothing to talk to', () => {
  test('writes JSON lines only, on stderr and stdout, the AWS SDK\'s Node version warning included', async () => {
    expect(fs.existsSync(COLLECTOR_BUNDLE)).toBe(true);
    // GIVEN an API server address that refuses connections and a CloudWatch endpoint likewise:
    // the collector starts, runs one cycle that finds nothing, flushes nothing and exits
    const dir = tempDir();
    const kubeconfig = path.join(dir, 'kubeconfig');
    fs.writeFileSync(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{ name: c, cluster: { server: "http://127.0.0.9:9" } }]',
        'users: [{ name: u, user: { token: t } }]',
        'contexts: [{ name: x, context: { cluster: c, user: u } }]',
        'current-context: x',
      ].join('\n'),
    );
    const env = loopbackCollectorEnv({
      KUBECONFIG: kubeconfig,
      AWS_CLUSTER_ID: 'log-test',
      AWS_ENDPOINT_URL_CLOUDWATCH: 'http://127.0.0.9:9',
      USE_CLOUDWATCH: 'true',
    });

    // WHEN
    const run = startCollector(['--once'], env, 30_000);
    const exitCode = await run.exited;

    // THEN it stopped by itself (1: nothing was published), and every line of output is JSON
    expect(exitCode).toBe(1);
    expect(run.stdout()).toBe('');
    const lines = run.logs();
    expect(lines.filter((line) => 'raw' in line)).toEqual([]);
    expect(lines.map((line) => line.msg)).toEqual(expect.arrayContaining(['collector started', 'collector stopped']));
    const sdkWarnings = lines.filter((line) => line.msg === 'process warning' && String(line.detail).startsWith('NodeVersionSupportWarning'));
    // The SDK warns on Node below 22 only (this machine's Node 20 does; the image's Node 24 does not).
    const nodeMajor = Number(process.versions.node.split('.')[0]);
    expect(sdkWarnings).toHaveLength(nodeMajor < 22 ? 1 : 0);
  });
});
