/**
 * The README is the user's reference: every metric, env variable and prop must be in it, with the
 * catalog's meaning, so it cannot drift from the code.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CATALOG } from '../common/catalog';
import { DEFAULTS, ENV } from '../common/settings';

const README = fs.readFileSync(path.resolve(__dirname, '..', 'README.md'), 'utf8');

describe('README', () => {
  test.each(CATALOG.map((m) => [m.metricName, m]))('lists metric %s with its catalog meaning', (name, metric) => {
    const row = README.split('\n').find((l) => l.startsWith(`| \`${name}\` |`));
    expect(row).toBeDefined();
    expect(row).toContain(metric.description);
    expect(row).toContain(`| ${metric.unit} |`);
  });

  test.each(Object.entries(ENV))('documents the env variable of %s (%s) with its default', (key, variable) => {
    const row = README.split('\n').find((l) => l.startsWith(`| \`${variable}\` |`));
    expect(row).toBeDefined();
    const fallback = (DEFAULTS as Record<string, unknown>)[key];
    if (fallback !== undefined) expect(row).toContain(`\`${String(fallback)}\``);
  });

  test('documents every prop of CniMetricsHelperProps', () => {
    const source = fs.readFileSync(path.resolve(__dirname, '..', 'lib', 'cni-metrics-helper.ts'), 'utf8');
    const block = source.slice(source.indexOf('export interface CniMetricsHelperProps'), source.indexOf('export class CniMetricsHelper'));
    const props = [...block.matchAll(/readonly (\w+)\?:/g)].map((m) => m[1]);
    expect(props.length).toBeGreaterThan(10);
    for (const prop of props) expect(README).toContain(`| \`${prop}\` |`);
  });
});
