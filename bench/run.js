// `npm run bench`: runs the benchmark harness (bench/bench.ts) under tsx, so TypeScript runs
// without a build step. Options pass through: `npm run bench -- --sizes 100,1000 --skip npm-test`.
const { spawnSync } = require('child_process');
const path = require('path');

const root = path.resolve(__dirname, '..');
const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'bench.ts'), ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
if (result.error) {
  process.stderr.write(`bench: cannot start the harness: ${result.error.message}\n`);
  process.exit(1);
}
process.exit(result.status ?? 1);
