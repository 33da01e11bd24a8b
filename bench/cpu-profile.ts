/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and says where the time went: self time per function
 * and per source module, so a missed target names its cause.
 *
 *   npx tsx bench/cpu-profile.ts <file.cpuprofile> [top] [functionName,...]
 */
import * as fs from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number; readonly columnNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileEntry {
  readonly name: string;
  readonly selfMs: number;
  readonly share: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  /** Time inside each function asked for (its own and its callees'), counted once per sample. */
  readonly inclusive: readonly ProfileEntry[];
  /** Sampled time outside idle and program/GC pseudo-frames, the time spent running JavaScript and natives. */
  readonly busyMs: number;
  readonly gcMs: number;
  readonly idleMs: number;
  readonly byFunction: readonly ProfileEntry[];
  readonly byModule: readonly ProfileEntry[];
}

export function summarizeCpuProfile(file: string, top = 15, focus: readonly string[] = []): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const functions = new Map<string, number>();
  const modules = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  let gcUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    totalUs += us;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    if (functionName === '(garbage collector)') gcUs += us;
    const where = url ? `${shortUrl(url)}:${lineNumber + 1}` : '';
    const name = `${functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
    const module = url ? moduleOf(url) : functionName;
    modules.set(module, (modules.get(module) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;
  // A sample counts for a focused function when that function is anywhere on its stack.
  const inclusiveUs = new Map<string, number>(focus.map((name) => [name, 0]));
  for (const [id, us] of selfUs) {
    const onStack = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const name = byId.get(at)?.callFrame.functionName;
      if (name !== undefined && inclusiveUs.has(name)) onStack.add(name);
    }
    for (const name of onStack) inclusiveUs.set(name, (inclusiveUs.get(name) ?? 0) + us);
  }
  const rank = (map: Map<string, number>): ProfileEntry[] => [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, us]) => ({ name, selfMs: us / 1000, share: busyUs > 0 ? us / busyUs : 0 }));
  return {
    totalMs: totalUs / 1000,
    inclusive: focus.map((name) => ({
      name, selfMs: (inclusiveUs.get(name) ?? 0) / 1000, share: busyUs > 0 ? (inclusiveUs.get(name) ?? 0) / busyUs : 0,
    })),
    busyMs: busyUs / 1000,
    gcMs: gcUs / 1000,
    idleMs: idleUs / 1000,
    byFunction: rank(functions),
    byModule: rank(modules),
  };
}

/** Bundle paths are long and machine-specific; the file name is enough to find the code. */
function shortUrl(url: string): string {
  return url.replace(/^file:\/\//, '').split('/').slice(-2).join('/');
}

/** node:internal modules by name, the bundle as one, node_modules by package. */
function moduleOf(url: string): string {
  if (url.startsWith('node:')) return url;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  return shortUrl(url);
}

export function formatProfileSummary(summary: ProfileSummary): string {
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
  const lines = [
    `sampled ${summary.totalMs.toFixed(0)} ms: busy ${summary.busyMs.toFixed(0)} ms (GC ${summary.gcMs.toFixed(0)} ms), idle ${summary.idleMs.toFixed(0)} ms`,
    ...(summary.inclusive.length > 0 ? ['time inside (inclusive of callees):'] : []),
    ...summary.inclusive.map((e) => `  ${e.selfMs.toFixed(0).padStart(6)} ms ${pct(e.share).padStart(6)}  ${e.name}`),
    'self time by function:',
    ...summary.byFunction.map((e) => `  ${e.selfMs.toFixed(0).padStart(6)} ms ${pct(e.share).padStart(6)}  ${e.name}`),
    'self time by module:',
    ...summary.byModule.map((e) => `  ${e.selfMs.toFixed(0).padStart(6)} ms ${pct(e.share).padStart(6)}  ${e.name}`),
  ];
  return lines.join('\n');
}

if (require.main === module) {
  const [file, top, focus] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: npx tsx bench/cpu-profile.ts <file.cpuprofile> [top] [functionName,...]\n');
    process.exit(2);
  }
  const summary = summarizeCpuProfile(file, top ? Number(top) : 25, focus ? focus.split(',') : []);
  process.stdout.write(formatProfileSummary(summary) + '\n');
}
