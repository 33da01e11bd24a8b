/**
 * Property tests of the exposition parser against hostile and random input (fast-check, fixed seed):
 * - mutated fixtures and token soup only ever fail with ExpositionParseError, on a line of the text;
 * - valid generated payloads parse to the families and values they were written from, and agree with
 *   the reference npm package parse-prometheus-text-format on everything the reference keeps;
 * - one payload's result never depends on what else was parsed (no shared mutable state).
 * Runs are few and the seed fixed, so the file runs in seconds and a failure reproduces.
 */
import * as fc from 'fast-check';
import { readdirSync, readFileSync } from 'fs';
import * as path from 'path';
import { ExpositionParseError, parseExposition } from '../../runtime/parse';
import type { FamilyType, MetricFamily, ParsedMetrics, Sample } from '../../runtime/types';

const SEED = 20261125;
const runs = (numRuns: number): fc.Parameters<unknown> => ({ seed: SEED, numRuns });

const FIXTURE_DIR = path.resolve(__dirname, '../fixtures/ipamd');
const FIXTURES: readonly string[] = readdirSync(FIXTURE_DIR)
  .filter((name) => name.endsWith('.prom'))
  .sort()
  .map((name) => readFileSync(path.join(FIXTURE_DIR, name), 'utf8'));
const NODE_A = readFileSync(path.join(FIXTURE_DIR, 'node-a.prom'), 'utf8');

type Outcome = { readonly metrics: ParsedMetrics } | { readonly error: ExpositionParseError };

/** Parses `text`; anything thrown other than ExpositionParseError escapes and fails the test. */
function outcomeOf(text: string, keep?: ReadonlySet<string>): Outcome {
  try {
    return { metrics: parseExposition(text, keep) };
  } catch (error) {
    if (error instanceof ExpositionParseError) return { error };
    throw error;
  }
}

/**
 * What every outcome must satisfy: an error names a line of the text in its message; a result
 * holds only families with samples, each sample named by its family and holding a number.
 */
function expectSoundOutcome(text: string, outcome: Outcome): void {
  if ('error' in outcome) {
    const lines = text.split('\n').length;
    expect(outcome.error.line).toBeGreaterThanOrEqual(1);
    expect(outcome.error.line).toBeLessThanOrEqual(lines);
    expect(outcome.error.message.startsWith(`line ${outcome.error.line}: `)).toBe(true);
    return;
  }
  for (const [name, family] of outcome.metrics) {
    expect(family.name).toBe(name);
    expect(family.samples.length).toBeGreaterThan(0);
    for (const sample of family.samples) {
      expect([name, `${name}_sum`, `${name}_count`, `${name}_bucket`]).toContain(sample.name);
      expect(typeof sample.value).toBe('number');
      expect(Object.values(sample.labels).every((v) => typeof v === 'string')).toBe(true);
      if (sample.timestampMs !== undefined) expect(Number.isSafeInteger(sample.timestampMs)).toBe(true);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Hostile input: mutated fixtures, random unicode, token soup.

/** Pieces of exposition syntax, so random text reaches the parser's deeper states. */
const SYNTAX_PIECES = [
  '# HELP ', '# TYPE ', '#', ' ', '\t', '\n', '\r\n', '{', '}', '"', '\\', '\\"', '\\n', '\\q', '=', ',',
  'le', 'quantile', '_sum', '_count', '_bucket', 'awscni_eni_max', 'summary', 'histogram', 'gauge', 'counter',
  'NaN', 'Inf', '+Inf', '-Inf', 'Infinity', '1e', '1e309', '-0', '.5', '1.', '0x1F', '1_000', '9007199254740993',
  '\u0000', '\uFFFD', '\uD800', '\u2028', '\u00A0', 'é', '😀',
];
const syntaxPiece = fc.constantFrom(...SYNTAX_PIECES);

/** Text to insert: random unicode (lone surrogates included), random bytes as characters, or syntax. */
const insertion = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.array(syntaxPiece, { minLength: 1, maxLength: 6 }).map((pieces) => pieces.join('')),
);

type Mutation = (text: string) => string;

/** An offset into `text`, from a random natural number. */
const offsetIn = (text: string, n: number): number => n % (text.length + 1);
/** The text's lines with one operation applied, for line-level mutations. */
const onLines = (text: string, operate: (lines: string[], index: number) => void, n: number): string => {
  const lines = text.split('\n');
  operate(lines, n % lines.length);
  return lines.join('\n');
};

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 80 })).map(([n, length]): Mutation => (text) => {
    const at = offsetIn(text, n);
    return text.slice(0, at) + text.slice(at + length);
  }),
  fc.tuple(fc.nat(), insertion).map(([n, inserted]): Mutation => (text) => {
    const at = offsetIn(text, n);
    return text.slice(0, at) + inserted + text.slice(at);
  }),
  fc.tuple(fc.nat(), insertion).map(([n, replacement]): Mutation => (text) => {
    const at = offsetIn(text, n);
    return text.slice(0, at) + replacement + text.slice(at + replacement.length);
  }),
  fc.nat().map((n): Mutation => (text) => text.slice(0, offsetIn(text, n))),
  fc.nat().map((n): Mutation => (text) => onLines(text, (lines, i) => lines.splice(i, 0, lines[i]), n)),
  fc.tuple(fc.nat(), fc.nat()).map(([n, m]): Mutation => (text) =>
    onLines(text, (lines, i) => {
      const j = m % lines.length;
      [lines[i], lines[j]] = [lines[j], lines[i]];
    }, n)),
);

/** A fixture with one to four mutations applied. */
const mutatedFixture = fc
  .tuple(fc.constantFrom(...FIXTURES), fc.array(mutation, { minLength: 1, maxLength: 4 }))
  .map(([text, mutations]) => mutations.reduce((current, mutate) => mutate(current), text));

/** Syntax pieces and random text in any order: mostly invalid from the first character. */
const tokenSoup = fc
  .array(fc.oneof({ weight: 4, arbitrary: syntaxPiece }, { weight: 1, arbitrary: insertion }), { maxLength: 60 })
  .map((pieces) => pieces.join(''));

/** A slot of a line: mostly a valid piece, sometimes any syntax piece or random text. */
const slot = (valid: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc.oneof({ weight: 6, arbitrary: valid }, { weight: 1, arbitrary: syntaxPiece }, { weight: 1, arbitrary: insertion });
const blank = fc.constantFrom(' ', '\t', '  ');
const soupName = slot(fc.constantFrom('awscni_eni_max', 'lat', 'lat_sum', 'lat_count', 'lat_bucket', 'h', 'h_bucket', 'h_sum', 'x:y'));
const soupLabel = fc.tuple(slot(fc.constantFrom('le', 'api', 'fn', 'api')), slot(fc.constant('=')),
  slot(fc.constantFrom('"a"', '"0.5"', '"+Inf"', '"a\\"b"', '"a\\nb"', '"a\\\\b"', '"bad\\q"', '"open')))
  .map((parts) => parts.join(''));
const soupLabels = fc.option(fc.array(soupLabel, { maxLength: 3 })
  .chain((labels) => fc.tuple(slot(fc.constant(',')), slot(fc.constant('}'))).map(([comma, close]) => `{${labels.join(comma)}${close}`)), { nil: '' });
const soupNumber = slot(fc.constantFrom('1', '-2.5', '1e3', 'NaN', '+Inf', '-Inf', '0.1'));
const soupTimestamp = slot(fc.constantFrom('1395066363000', '-3', '+7', '1.5', '9007199254740993', 'x'));
const sampleSoup = fc.tuple(soupName, soupLabels, blank, soupNumber, fc.option(fc.tuple(blank, soupTimestamp).map((p) => p.join('')), { nil: '' }),
  fc.option(fc.tuple(blank, slot(fc.constant('extra'))).map((p) => p.join('')), { nil: '' }))
  .map((parts) => parts.join(''));
const commentSoup = fc.tuple(slot(fc.constantFrom('# HELP', '# TYPE', '#', '# comment')), blank, soupName, blank,
  slot(fc.constantFrom('summary', 'histogram', 'gauge', 'COUNTER', 'help \\\\ text', 'bad \\t escape', 'text \\n')))
  .map((parts) => parts.join(''));
/** Lines shaped like exposition lines with corrupted slots: reaches every check of the parser. */
const lineSoup = fc.array(fc.oneof(sampleSoup, commentSoup, fc.constant('')), { maxLength: 12 }).map((lines) => lines.join('\n'));

const hostilePayload = fc.oneof(mutatedFixture, tokenSoup, lineSoup, fc.string({ unit: 'binary', maxLength: 200 }));

/** Families found without `keep`, reduced to those in `keep`. */
function keptPart(metrics: ParsedMetrics, keep: ReadonlySet<string>): ParsedMetrics {
  return new Map([...metrics].filter(([name]) => keep.has(name)));
}

describe('parseExposition on hostile input', () => {
  test('mutated fixtures parse or fail with an ExpositionParseError on a line of the text', () => {
    fc.assert(fc.property(mutatedFixture, (text) => expectSoundOutcome(text, outcomeOf(text))), runs(250));
  });

  test('random unicode, token soup and corrupted lines parse or fail with an ExpositionParseError on a line of the text', () => {
    fc.assert(fc.property(fc.oneof(tokenSoup, lineSoup, lineSoup, fc.string({ unit: 'binary', maxLength: 200 })), (text) => {
      expectSoundOutcome(text, outcomeOf(text));
    }), runs(400));
  });

  test('with keep, the payload fails exactly as without it, and kept families are the same', () => {
    const keepNames = fc.uniqueArray(fc.constantFrom('awscni_eni_max', 'awscni_aws_api_latency_ms', 'awscni_assigned_ip_per_cidr', 'go_goroutines'));
    fc.assert(fc.property(hostilePayload, keepNames, (text, names) => {
      const keep = new Set(names);
      const full = outcomeOf(text);
      const kept = outcomeOf(text, keep);

      if ('error' in full) {
        expect('error' in kept && kept.error.message).toBe(full.error.message);
      } else {
        expect('metrics' in kept && kept.metrics).toEqual(keptPart(full.metrics, keep));
      }
    }), runs(300));
  });
});

// ---------------------------------------------------------------------------------------------
// Valid payloads, generated from a model of the families they hold.

interface ModelSample {
  readonly sample: Sample;
  /** How the value is spelled in the text (Go spellings such as +Inf included). */
  readonly valueText: string;
}
interface ModelFamily {
  readonly name: string;
  readonly type: FamilyType;
  readonly help?: string;
  /** Whether the text has a TYPE line (untyped families may go without). */
  readonly typeLine: boolean;
  readonly samples: readonly ModelSample[];
  /** A summary or histogram with labels besides quantile/le: the reference flattens those away. */
  readonly lossyInReference: boolean;
}

/** A sample value with its spelling: each spelling reads, in Go and here, as `value`. */
const spelledValue: fc.Arbitrary<{ valueText: string; value: number }> = fc.oneof(
  fc.double().chain((d) => fc.constantFrom(String(d), d.toExponential(), d.toPrecision(17)))
    .map((valueText) => ({ valueText, value: Number(valueText) })),
  fc.integer({ min: -1_000_000, max: 1_000_000 }).map((n) => ({ valueText: String(n), value: n })),
  fc.constantFrom(
    { valueText: 'NaN', value: NaN },
    { valueText: 'nan', value: NaN },
    { valueText: '+Inf', value: Infinity },
    { valueText: 'Inf', value: Infinity },
    { valueText: '-Inf', value: -Infinity },
    { valueText: '+Infinity', value: Infinity },
  ),
);

const timestamp = fc.option(fc.integer({ min: -1e13, max: 1e13 }), { nil: undefined });

/** Label names; `le` and `quantile` only where a histogram or summary puts them. */
const labelName = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,8}$/)
  .filter((name) => !name.startsWith('__') && name !== 'le' && name !== 'quantile');
/** Characters the writer must escape or that end a token elsewhere, mixed with any unicode. */
const textUnit = fc.oneof(
  fc.constantFrom('\\', '"', '\n', '{', '}', ',', '=', ' ', '\t', '#', '\r'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
);
/** Any text, quotes, backslashes, newlines, braces and commas included: the writer escapes them. */
const labelValue = fc.string({ unit: textUnit, maxLength: 10 });
const labelSet = fc.uniqueArray(fc.tuple(labelName, labelValue), { maxLength: 3, selector: ([name]) => name })
  .map((pairs) => Object.fromEntries(pairs) as Record<string, string>);
/** Label sets of one family: each series once, as a valid payload has it. */
const seriesLabels = (minLength: number, maxLength: number) =>
  fc.uniqueArray(labelSet, { minLength, maxLength, selector: (labels) => JSON.stringify(Object.entries(labels).sort()) });

/** HELP text without leading or trailing whitespace (the reference trims lines; this parser keeps blanks inside). */
const helpText = fc.option(fc.string({ unit: textUnit, minLength: 1, maxLength: 20 }).filter((h) => h.trim() === h && h !== ''), { nil: undefined });

const valuedSample = (name: string, labels: Record<string, string>): fc.Arbitrary<ModelSample> =>
  fc.tuple(spelledValue, timestamp).map(([{ valueText, value }, timestampMs]) => ({
    valueText,
    sample: timestampMs === undefined ? { name, labels, value } : { name, labels, value, timestampMs },
  }));

/** The `_sum` and `_count` of one summary or histogram series. */
const sumAndCount = (name: string, labels: Record<string, string>) =>
  fc.tuple(valuedSample(`${name}_sum`, labels), valuedSample(`${name}_count`, labels));

const QUANTILES = ['0', '0.5', '0.9', '0.99', '1'];
const BUCKET_BOUNDS = ['0.005', '0.1', '1', '2.5', '10', '+Inf'];

/** One family of each type: the samples of a series together, as client libraries write them. */
function modelFamily(name: string): fc.Arbitrary<ModelFamily> {
  const simple = fc.tuple(fc.constantFrom<FamilyType>('counter', 'gauge', 'untyped'), helpText, fc.boolean(), seriesLabels(0, 4))
    .chain(([type, help, typeLine, series]) =>
      fc.tuple(...series.map((labels) => valuedSample(name, labels))).map((samples): ModelFamily => ({
        name, type, help, typeLine: typeLine || type !== 'untyped', samples, lossyInReference: false,
      })));

  const grouped = (type: 'summary' | 'histogram') =>
    fc.tuple(helpText, fc.oneof(fc.constant([{}]), seriesLabels(1, 2)))
      .chain(([help, series]) => {
        const bounds = type === 'summary' ? fc.subarray(QUANTILES, { minLength: 1 }) : fc.subarray(BUCKET_BOUNDS, { minLength: 1 });
        const oneSeries = (labels: Record<string, string>) => bounds.chain((keys) =>
          fc.tuple(
            fc.tuple(...keys.map((key) => type === 'summary'
              ? valuedSample(name, { ...labels, quantile: key })
              : valuedSample(`${name}_bucket`, { ...labels, le: key }))),
            sumAndCount(name, labels),
          ).map(([points, totals]) => [...points, ...totals]));
        return fc.tuple(...series.map(oneSeries)).map((perSeries): ModelFamily => ({
          name, type, help, typeLine: true, samples: perSeries.flat(),
          lossyInReference: series.some((labels) => Object.keys(labels).length > 0),
        }));
      });

  return fc.oneof(simple, grouped('summary'), grouped('histogram'));
}

/**
 * A payload of up to six families. Names end in `_f<index>`: unique, and never a `_sum`, `_count`
 * or `_bucket` of another family.
 */
const modelPayload: fc.Arbitrary<ModelFamily[]> = fc.array(fc.stringMatching(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,10}$/), { maxLength: 6 })
  .chain((bases) => fc.tuple(...bases.map((base, i) => modelFamily(`${base}_f${i}`))));

/** How the writer spells the optional parts of a line. */
interface Spelling {
  readonly separator: string;
  readonly emptyBraces: boolean;
  readonly trailingComma: boolean;
  readonly comments: boolean;
}
const spelling: fc.Arbitrary<Spelling> = fc.record({
  separator: fc.constantFrom(' ', '\t', '  ', ' \t'),
  emptyBraces: fc.boolean(),
  trailingComma: fc.boolean(),
  comments: fc.boolean(),
});

const escapeLabelValue = (value: string): string => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const escapeHelp = (help: string): string => help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

function sampleLine({ sample, valueText }: ModelSample, style: Spelling): string {
  const pairs = Object.entries(sample.labels).map(([name, value]) => `${name}="${escapeLabelValue(value)}"`);
  const labels = pairs.length > 0 ? `{${pairs.join(',')}${style.trailingComma ? ',' : ''}}` : style.emptyBraces ? '{}' : '';
  const ts = sample.timestampMs === undefined ? '' : `${style.separator}${sample.timestampMs}`;
  return `${sample.name}${labels}${style.separator}${valueText}${ts}`;
}

/** The exposition text of the families, ending in a newline as every exporter's does. */
function writeExposition(families: readonly ModelFamily[], style: Spelling): string {
  const lines: string[] = [];
  for (const family of families) {
    if (style.comments) lines.push(`# family ${family.name}`, '');
    if (family.help !== undefined) lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
    if (family.typeLine) lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) lines.push(sampleLine(sample, style));
  }
  return lines.map((line) => `${line}\n`).join('');
}

/** What parseExposition must return for the model: families with samples, in order. */
function expectedMetrics(families: readonly ModelFamily[]): ParsedMetrics {
  const expected: ParsedMetrics = new Map();
  for (const family of families) {
    if (family.samples.length === 0) continue;
    const samples = family.samples.map((s) => s.sample);
    const parsed: MetricFamily = family.help === undefined
      ? { name: family.name, type: family.type, samples }
      : { name: family.name, type: family.type, help: family.help, samples };
    expected.set(family.name, parsed);
  }
  return expected;
}

// The reference's output (prom2json-like): values are strings; summaries and histograms are
// flattened into one object with quantiles/buckets maps keyed by the quantile/le label alone.
interface ReferenceMetric {
  readonly labels?: Record<string, string>;
  readonly value?: string;
  readonly timestamp_ms?: string;
  readonly quantiles?: Record<string, string>;
  readonly buckets?: Record<string, string>;
  readonly sum?: string;
  readonly count?: string;
}
interface ReferenceFamily {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly metrics: ReferenceMetric[];
}
// The package ships no types; its CommonJS export is the parse function.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const parseWithReference = require('parse-prometheus-text-format') as (text: string) => ReferenceFamily[];

/** A family as both parsers can report it; samples as sorted `name{labels} value [ts]` keys, or absent where the reference loses them. */
interface ComparableFamily {
  readonly name: string;
  readonly type: string;
  readonly help: string;
  readonly samples?: string[];
}

/** The reference keeps values as text: read it as Go's ParseFloat does (Inf and NaN in any case). */
function goFloat(text: string): number {
  if (/^[+-]?inf(inity)?$/i.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  if (/^nan$/i.test(text)) return NaN;
  return Number(text);
}

function sampleKey(name: string, labels: Record<string, string>, value: number, timestampMs?: number): string {
  const sorted = Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',');
  return `${name}{${sorted}} ${String(value)}${timestampMs === undefined ? '' : ` @${timestampMs}`}`;
}

function referenceView(family: ReferenceFamily, lossy: boolean): ComparableFamily {
  const view = { name: family.name, type: family.type, help: family.help };
  if (lossy) return view;
  const samples: string[] = [];
  for (const m of family.metrics) {
    const labels = m.labels ?? {};
    for (const [q, v] of Object.entries(m.quantiles ?? {})) samples.push(sampleKey(family.name, { quantile: q }, goFloat(v)));
    for (const [le, v] of Object.entries(m.buckets ?? {})) samples.push(sampleKey(`${family.name}_bucket`, { le }, goFloat(v)));
    if (m.sum !== undefined) samples.push(sampleKey(`${family.name}_sum`, labels, goFloat(m.sum)));
    if (m.count !== undefined) samples.push(sampleKey(`${family.name}_count`, labels, goFloat(m.count)));
    if (m.value !== undefined) {
      const timestampMs = m.timestamp_ms === undefined ? undefined : Number(m.timestamp_ms);
      samples.push(sampleKey(family.name, labels, goFloat(m.value), timestampMs));
    }
  }
  return { ...view, samples: samples.sort() };
}

function ourView(family: MetricFamily, lossy: boolean): ComparableFamily {
  const view = { name: family.name, type: family.type.toUpperCase(), help: family.help ?? '' };
  if (lossy) return view;
  // The reference's flattening keeps no timestamps of summary and histogram samples.
  const grouped = family.type === 'summary' || family.type === 'histogram';
  const samples = family.samples.map((s) => sampleKey(s.name, s.labels, s.value, grouped ? undefined : s.timestampMs));
  return { ...view, samples: samples.sort() };
}

describe('parseExposition on valid generated payloads', () => {
  test('gives back exactly the families, help, types, labels, values and timestamps written', () => {
    fc.assert(fc.property(modelPayload, spelling, (families, style) => {
      const text = writeExposition(families, style);
      expect(parseExposition(text)).toEqual(expectedMetrics(families));
    }), runs(300));
  });

  test('agrees with parse-prometheus-text-format on everything the reference keeps', () => {
    // Where the reference drops information, only what it keeps is compared:
    // - it keeps families declared without samples, which this parser leaves out: those are skipped;
    // - it flattens a summary or histogram into one quantiles/buckets map keyed by quantile/le alone,
    //   so with any other label only the family's name, type and help survive;
    // - the flattened form carries no timestamps.
    fc.assert(fc.property(modelPayload, spelling, (families, style) => {
      const text = writeExposition(families, style);
      const lossy = new Set(families.filter((f) => f.lossyInReference).map((f) => f.name));

      const reference = parseWithReference(text)
        .filter((f) => f.metrics.length > 0)
        .map((f) => referenceView(f, lossy.has(f.name)));
      const ours = [...parseExposition(text).values()].map((f) => ourView(f, lossy.has(f.name)));

      expect(ours).toEqual(reference);
    }), runs(300));
  });
});

// ---------------------------------------------------------------------------------------------
// Isolation: one node's payload never changes another node's result.

describe('parseExposition keeps no state between payloads', () => {
  test('a payload parses the same before and after any garbage, even when its earlier result was changed', () => {
    // A deep copy: a result shares nothing with the one it is compared to.
    const pristine = structuredClone(parseExposition(NODE_A));
    fc.assert(fc.property(fc.array(hostilePayload, { minLength: 1, maxLength: 5 }), (garbage) => {
      // GIVEN a consumer that changes the result it was given (every mutable part of it)
      const first = parseExposition(NODE_A);
      for (const family of first.values()) {
        for (const sample of family.samples) {
          if (!Object.isFrozen(sample.labels)) (sample.labels as Record<string, string>).injected = 'x';
        }
        family.samples.push({ name: family.name, labels: {}, value: -1 });
      }
      first.set('injected', { name: 'injected', type: 'gauge', samples: [] });

      // WHEN other payloads, mostly garbage, are parsed in between
      for (const text of garbage) outcomeOf(text);

      // THEN the same payload parses to the same result as ever
      expect(parseExposition(NODE_A)).toEqual(pristine);
    }), runs(60));
  });

  test('the shared empty label set cannot be changed by a consumer', () => {
    const [sample] = parseExposition('up 1\n').get('up')!.samples;

    expect(() => { (sample.labels as Record<string, string>).job = 'x'; }).toThrow(TypeError);
    expect(parseExposition('down 0\n').get('down')!.samples[0].labels).toEqual({});
  });
});
