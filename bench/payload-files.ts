/**
 * The ipamd payloads a benchmark serves: upstream's samples in ../shared/fixtures/ipamd when present,
 * else the repository's own whole fixtures (the report says which).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const REPO_ROOT = path.resolve(__dirname, '..');
const SHARED_FIXTURES = path.resolve(REPO_ROOT, '..', 'shared', 'fixtures', 'ipamd');
const OWN_FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'ipamd');
/** Our fixtures that are whole, valid ipamd payloads (the others are broken on purpose). */
const OWN_VALID_FIXTURES = ['node-a.prom', 'node-b.prom', 'node-prefix.prom', 'node-quantiles.prom'];

export function payloadFiles(): { files: string[]; fallback: boolean } {
  if (fs.existsSync(SHARED_FIXTURES)) {
    const files = fs.readdirSync(SHARED_FIXTURES).filter((f) => f.endsWith('.prom')).sort().map((f) => path.join(SHARED_FIXTURES, f));
    if (files.length > 0) return { files, fallback: false };
  }
  return { files: OWN_VALID_FIXTURES.map((f) => path.join(OWN_FIXTURES, f)), fallback: true };
}

/** The value after `name` in `argv`, or `fallback`; without either, an error naming the flag. */
export function argOption(argv: readonly string[], name: string, fallback?: string): string {
  const i = argv.indexOf(name);
  const value = i >= 0 ? argv[i + 1] : fallback;
  if (value === undefined) throw new Error(`${name} is required (see the benchmark's header)`);
  return value;
}
