/**
 * Validates Kubernetes manifests against the JSON schemas of `kubernetes-models`. That package is
 * ESM-only, which this jest setup does not load, so a child Node process does the validating.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');

/** One message per document that breaks its schema ("Kind name: problem"); empty when all are valid. */
export function schemaErrors(docs: readonly any[]): string[] {
  const script = `
    import { readFileSync } from 'node:fs';
    const docs = JSON.parse(readFileSync(0, 'utf8'));
    const errors = [];
    for (const doc of docs) {
      const where = doc.kind + ' ' + (doc.metadata && doc.metadata.name);
      try {
        const module = await import('kubernetes-models/' + doc.apiVersion + '/' + doc.kind);
        new module[doc.kind](doc).validate();
      } catch (err) {
        errors.push(where + ': ' + err.message);
      }
    }
    process.stdout.write(JSON.stringify(errors));
  `;
  const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: PACKAGE_ROOT,
    input: JSON.stringify(docs),
    encoding: 'utf8',
    timeout: 20_000,
  });
  return JSON.parse(output);
}
