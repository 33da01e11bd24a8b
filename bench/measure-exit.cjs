// Preloaded (`node -r bench/measure-exit.cjs ...`) into a measured process: at exit it writes the
// process's own resource usage as JSON to the file named by BENCH_RESOURCE_FILE. getrusage covers
// every thread of the process (libuv's pool included) and nothing of any other process.
'use strict';
const fs = require('fs');

const file = process.env.BENCH_RESOURCE_FILE;
if (file) {
  process.on('exit', (code) => {
    const usage = process.resourceUsage();
    fs.writeFileSync(file, JSON.stringify({
      exitCode: code,
      userCpuMs: usage.userCPUTime / 1000,
      systemCpuMs: usage.systemCPUTime / 1000,
      maxRssKiB: usage.maxRSS,
      uptimeMs: process.uptime() * 1000,
      voluntaryContextSwitches: usage.voluntaryContextSwitches,
      involuntaryContextSwitches: usage.involuntaryContextSwitches,
    }));
  });
}
