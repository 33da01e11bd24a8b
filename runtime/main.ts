// Placeholder entry so the bundler has a target until the collector lands (issue 2).
process.stderr.write('collector: not built yet\n');
process.exit(1);
