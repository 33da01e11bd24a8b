import * as fs from 'node:fs';
import * as path from 'node:path';
import * as fc from 'fast-check';
import { EXPECTED_NODE_COUNT_RANGE, maxOldSpaceSizeFor, scrapeConcurrencyFor, sizeCollector, type SizingInput } from '../../common/sizing';

/** The chart's defaults: 30 s interval, 3 s scrape timeout, proxy mode. */
const DEFAULT_INPUT: Omit<SizingInput, 'nodes'> = { intervalSeconds: 30, scrapeTimeoutMs: 3000, scrapeMode: 'proxy' };

describe('sizeCollector', () => {
  // Each row is worked by hand from the figures in common/sizing.ts (20 ms a node, 1% dead at 3 s,
  // half of 30 s for the cycle; 0.35 ms CPU a node (0.48 direct); 140 MiB + 6 KiB a node + 0.2 MiB a scrape
  // + 80 MiB a scrape worker, one worker per CPU a cycle needs beyond one; heap 65%).
  test.each([
    // 10 nodes: wait 10×20 + 0.1×3000 = 500 ms → 1 scrape → 64. CPU 3.5 ms a cycle → 0.12m → 50m floor, 1000m floor.
    // Memory: 0.06 + 64×0.2 = 12.9 MiB grows → request 64 floor, limit 153 → 192 → 512 floor; heap 512×0.65 = 332.8.
    [10, { scrapeConcurrency: 64, scrapeWorkers: 0, cpuRequestMillicores: 50, cpuLimitMillicores: 1000, memoryRequestMiB: 64, memoryLimitMiB: 512, maxOldSpaceSizeMiB: 332 }],
    // 1,000: wait 20,000 + 30,000 = 50 s / 15 s = 3.3 → 64. CPU 350 ms / 30 s = 11.7m → 50m; 23.3m → 1000m.
    // Memory: 5.9 + 12.8 = 18.7 → 64; 158.7 → 512.
    [1_000, { scrapeConcurrency: 64, scrapeWorkers: 0, cpuRequestMillicores: 50, cpuLimitMillicores: 1000, memoryRequestMiB: 64, memoryLimitMiB: 512, maxOldSpaceSizeMiB: 332 }],
    // 10,000: wait 500 s / 15 s = 33.3 → 64. CPU 3,500 ms / 30 s = 116.7m → 120m; 233.3m → 1000m.
    // Memory: 58.6 + 12.8 = 71.4 → 80; 211.4 → 256 → 512.
    [10_000, { scrapeConcurrency: 64, scrapeWorkers: 0, cpuRequestMillicores: 120, cpuLimitMillicores: 1000, memoryRequestMiB: 80, memoryLimitMiB: 512, maxOldSpaceSizeMiB: 332 }],
    // 100,000: wait 2,000 + 3,000 s / 15 s = 333.3 → 334. CPU 35 s / 30 s = 1166.7m → 1170m; / 15 s = 2333.3m → 2340m,
    // 2.33 CPUs → 3 workers. Memory: 585.9 + 334×0.2 + 3×80 = 892.7 → 896; 1032.7 → 1088; heap 1088×0.65 = 707.2 → 707.
    [100_000, { scrapeConcurrency: 334, scrapeWorkers: 3, cpuRequestMillicores: 1170, cpuLimitMillicores: 2340, memoryRequestMiB: 896, memoryLimitMiB: 1088, maxOldSpaceSizeMiB: 707 }],
  ])('at %i nodes (proxy, 30 s, 3 s timeout)', (nodes, expected) => {
    expect(sizeCollector({ ...DEFAULT_INPUT, nodes })).toEqual(expected);
  });

  test('direct mode costs more CPU a node and keeps a socket per node up to 10,000', () => {
    // CPU 100,000 × 0.48 = 48 s: / 30 → 1600m, / 15 → 3200m: 3.2 CPUs → 4 workers.
    // Memory: 652.7 + 10,000 × 8.5 KiB (83.0 MiB) + 4×80 = 1055.7 → 1056; + 140 = 1195.7 → 1216; heap 790.4 → 790.
    expect(sizeCollector({ ...DEFAULT_INPUT, scrapeMode: 'direct', nodes: 100_000 })).toEqual({
      scrapeConcurrency: 334, scrapeWorkers: 4, cpuRequestMillicores: 1600, cpuLimitMillicores: 3200, memoryRequestMiB: 1056, memoryLimitMiB: 1216, maxOldSpaceSizeMiB: 790,
    });
  });

  test('a concurrency given is kept, and its scrapes are what the memory holds', () => {
    // 100,000 nodes at 64 (3 workers): 585.9 + 12.8 + 240 = 838.7 → request 848, limit 978.7 → 1024, heap 665.6 → 665.
    expect(sizeCollector({ ...DEFAULT_INPUT, nodes: 100_000, scrapeConcurrency: 64 })).toMatchObject({
      scrapeConcurrency: 64, scrapeWorkers: 3, memoryRequestMiB: 848, memoryLimitMiB: 1024, maxOldSpaceSizeMiB: 665,
    });
  });

  test('workers given are kept (0: one thread), and only theirs is memory', () => {
    // 100,000 nodes with no worker: 585.9 + 66.8 = 652.7 → 656, 792.7 → 832; with 1: 732.7 → 736, 872.7 → 896.
    expect(sizeCollector({ ...DEFAULT_INPUT, nodes: 100_000, scrapeWorkers: 0 })).toMatchObject({ scrapeWorkers: 0, memoryRequestMiB: 656, memoryLimitMiB: 832 });
    expect(sizeCollector({ ...DEFAULT_INPUT, nodes: 100_000, scrapeWorkers: 1 })).toMatchObject({ scrapeWorkers: 1, memoryRequestMiB: 736, memoryLimitMiB: 896 });
    // 60 s: 35 s / 30 s = 1166.7m → 2 workers; 5 s: 14,000m → 4 at most.
    expect(sizeCollector({ ...DEFAULT_INPUT, nodes: 100_000, intervalSeconds: 60 }).scrapeWorkers).toBe(2);
    expect(sizeCollector({ ...DEFAULT_INPUT, nodes: 100_000, intervalSeconds: 5 }).scrapeWorkers).toBe(4);
  });

  test('a longer interval or timeout moves concurrency and CPU the way the arithmetic says', () => {
    // 60 s: 5,000 s / 30 s = 166.7 → 167; CPU 35 s / 60 s = 583.3m → 590m, / 30 s = 1166.7m → 1170m.
    expect(sizeCollector({ ...DEFAULT_INPUT, nodes: 100_000, intervalSeconds: 60 })).toMatchObject({
      scrapeConcurrency: 167, cpuRequestMillicores: 590, cpuLimitMillicores: 1170,
    });
    // A 10 s timeout: 2,000 + 1,000 × 10 = 12,000 s / 15 s = 800 → 512 at most.
    expect(scrapeConcurrencyFor(100_000, 30, 10_000)).toBe(512);
    // 50,000 nodes: 1,000 + 1,500 = 2,500 s / 15 s = 166.7 → 167.
    expect(scrapeConcurrencyFor(50_000, 30, 3000)).toBe(167);
  });

  test('a short interval is held at 512 scrapes and 4 CPUs, the request not above the limit', () => {
    // 5 s: 35 s of CPU / 5 s = 7000m, / 2.5 s = 14,000m → both held at 4000m.
    expect(sizeCollector({ ...DEFAULT_INPUT, nodes: 100_000, intervalSeconds: 5 })).toMatchObject({
      scrapeConcurrency: 512, cpuRequestMillicores: 4000, cpuLimitMillicores: 4000,
    });
  });

  test('the heap cap is 65% of a memory limit, whole MiB down', () => {
    expect(maxOldSpaceSizeFor(512)).toBe(332);
    expect(maxOldSpaceSizeFor(1024)).toBe(665);
    expect(maxOldSpaceSizeFor(100)).toBe(65);
  });

  test('more nodes never size smaller, requests never exceed limits, and the heap stays under the limit', () => {
    const nodes = fc.integer({ min: EXPECTED_NODE_COUNT_RANGE.min, max: EXPECTED_NODE_COUNT_RANGE.max });
    fc.assert(fc.property(nodes, nodes, fc.constantFrom('proxy' as const, 'direct' as const), fc.integer({ min: 5, max: 600 }), (a, b, scrapeMode, intervalSeconds) => {
      const input = { ...DEFAULT_INPUT, scrapeMode, intervalSeconds };
      const small = sizeCollector({ ...input, nodes: Math.min(a, b) });
      const large = sizeCollector({ ...input, nodes: Math.max(a, b) });
      for (const key of Object.keys(small) as (keyof typeof small)[]) expect(large[key]).toBeGreaterThanOrEqual(small[key]);
      for (const size of [small, large]) {
        expect(size.cpuRequestMillicores).toBeLessThanOrEqual(size.cpuLimitMillicores);
        expect(size.memoryRequestMiB).toBeLessThanOrEqual(size.memoryLimitMiB);
        expect(size.maxOldSpaceSizeMiB).toBeLessThan(size.memoryLimitMiB);
        expect(Number.isInteger(size.cpuRequestMillicores) && Number.isInteger(size.memoryLimitMiB) && Number.isInteger(size.maxOldSpaceSizeMiB)).toBe(true);
      }
    }));
  });
});

describe('the README\'s "Large clusters" table', () => {
  test('is what sizeCollector gives at 1,000, 10,000, 50,000 and 100,000 nodes', () => {
    // GIVEN the table's rows
    const readme = fs.readFileSync(path.resolve(__dirname, '..', '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Large clusters'), readme.indexOf('### Subnet exhaustion'));
    const rows = section.split('\n').filter((line) => /^\| [\d,]+ \|/.test(line));

    // WHEN each row is written again from the rule
    const written = [1_000, 10_000, 50_000, 100_000].map((nodes) => {
      const proxy = sizeCollector({ ...DEFAULT_INPUT, nodes });
      const direct = sizeCollector({ ...DEFAULT_INPUT, nodes, scrapeMode: 'direct' });
      const cells = (size: typeof proxy) => [
        String(size.scrapeWorkers),
        `${size.cpuRequestMillicores}m / ${size.cpuLimitMillicores}m`,
        `${size.memoryRequestMiB}Mi / ${size.memoryLimitMiB}Mi`,
        String(size.maxOldSpaceSizeMiB),
      ];
      return `| ${nodes.toLocaleString('en-US')} | ${proxy.scrapeConcurrency} | ${[...cells(proxy), ...cells(direct)].join(' | ')} |`;
    });

    // THEN they are the same
    expect(rows).toEqual(written);
  });
});
