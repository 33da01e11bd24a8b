/**
 * Parser throughput: our parseExposition against the npm package parse-prometheus-text-format on
 * the ipamd fixtures, in MB/s of exposition text. Each parser gets a warm-up, then several timed
 * samples of many parses each; the median sample is reported.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SCRAPED_FAMILIES } from '../common/catalog';
import { parseExposition } from '../runtime/parse';
import { median } from './stats';

const parseReference = require('parse-prometheus-text-format') as (text: string) => unknown[];

export interface ParserFigure {
  readonly fixture: string;
  readonly bytes: number;
  /** parseExposition keeping every family (the same work as the reference). */
  readonly oursAllMBps: number;
  /** parseExposition keeping the catalog's families only (what the collector does). */
  readonly oursCatalogMBps: number;
  readonly referenceMBps: number;
  /** Median over rounds of ours (all families) / reference, each round timing both back to back. */
  readonly ratioAll: number;
}

export interface ParserBench {
  readonly figures: readonly ParserFigure[];
  /** Over all fixtures together (total bytes / total median time). */
  readonly total: ParserFigure;
  readonly samples: number;
  readonly sampleMs: number;
  readonly referenceVersion: string;
}

export interface ParserBenchOptions {
  readonly files: readonly string[];
  /** Timed samples per parser and fixture. @default 9 */
  readonly samples?: number;
  /** Length of one sample. @default 200 */
  readonly sampleMs?: number;
}

export function runParserBench(options: ParserBenchOptions): ParserBench {
  const samples = options.samples ?? 9;
  const sampleMs = options.sampleMs ?? 200;
  const texts = options.files.map((file) => ({ fixture: path.basename(file), text: fs.readFileSync(file, 'utf8') }));
  for (const { fixture, text } of texts) checkSameFamilies(fixture, text);

  const figures = texts.map(({ fixture, text }): ParserFigure => {
    const bytes = Buffer.byteLength(text);
    const parsers = [
      () => parseExposition(text),
      () => parseExposition(text, SCRAPED_FAMILIES),
      () => parseReference(text),
    ];
    // Samples of the three parsers alternate, so a burst of load from other jobs hits all three alike.
    const batches = parsers.map((parse) => warmUp(parse, sampleMs));
    const rates: number[][] = parsers.map(() => []);
    for (let round = 0; round < samples; round++) {
      parsers.forEach((parse, i) => rates[i].push(sampleRate(parse, batches[i], bytes, sampleMs)));
    }
    return {
      fixture,
      bytes,
      oursAllMBps: median(rates[0]),
      oursCatalogMBps: median(rates[1]),
      referenceMBps: median(rates[2]),
      ratioAll: median(rates[0].map((r, round) => r / rates[2][round])),
    };
  });
  // Time per byte averaged over the fixtures, weighted by size: total bytes over total time.
  const totalBytes = figures.reduce((n, f) => n + f.bytes, 0);
  const combined = (pick: (f: ParserFigure) => number): number =>
    totalBytes / figures.reduce((t, f) => t + f.bytes / pick(f), 0);
  return {
    figures,
    total: {
      fixture: 'all',
      bytes: totalBytes,
      oursAllMBps: combined((f) => f.oursAllMBps),
      oursCatalogMBps: combined((f) => f.oursCatalogMBps),
      referenceMBps: combined((f) => f.referenceMBps),
      ratioAll: combined((f) => f.oursAllMBps) / combined((f) => f.referenceMBps),
    },
    samples,
    sampleMs,
    referenceVersion: (require('parse-prometheus-text-format/package.json') as { version: string }).version,
  };
}

let sink = 0;

/** Runs `parse` for twice `sampleMs` so the JIT settles; returns a batch size worth one clock read. */
function warmUp(parse: () => unknown, sampleMs: number): number {
  const end = performance.now() + sampleMs * 2;
  let perBatch = 1;
  while (performance.now() < end) {
    const t = performance.now();
    for (let i = 0; i < perBatch; i++) sink += countOf(parse());
    if (performance.now() - t < 5) perBatch *= 2;
  }
  return perBatch;
}

/** MB/s (10^6 bytes) of one timed sample of at least `sampleMs`. */
function sampleRate(parse: () => unknown, perBatch: number, bytes: number, sampleMs: number): number {
  let parses = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < sampleMs) {
    for (let i = 0; i < perBatch; i++) sink += countOf(parse());
    parses += perBatch;
    elapsed = performance.now() - start;
  }
  if (sink < 0) throw new Error('unreachable: keeps the parse results alive');
  return (parses * bytes) / 1e6 / (elapsed / 1000);
}

/** Something of the result, so the parse cannot be optimized away. */
function countOf(result: unknown): number {
  if (result instanceof Map) return result.size;
  if (Array.isArray(result)) return result.length;
  return 0;
}

/** Both parsers must see the same families, or the comparison would not be of the same work. */
function checkSameFamilies(fixture: string, text: string): void {
  const ours = [...parseExposition(text).keys()].sort();
  const reference = (parseReference(text) as { name: string }[]).map((f) => f.name).sort();
  const missing = reference.filter((name) => !ours.includes(name));
  if (missing.length > 0) {
    throw new Error(`parser bench: ${fixture}: parseExposition lacks families the reference parser found: ${missing.join(', ')}`);
  }
}
