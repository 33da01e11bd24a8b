/**
 * Parser of the Prometheus text exposition format 0.0.4, as ipamd serves it on :61678/metrics.
 *
 * One pass over the string: lines are found with indexOf and read with charCodeAt, with no array of
 * lines and no regex. The collector parses one payload per node per cycle (10,000 nodes is a target),
 * so the common case is made cheap: a sample name that repeats its family's previous one, label
 * names that repeat the previous line's, values read without building a string. Families outside
 * `keep` are still checked line by line but not built, because an HTML error page or a truncated
 * body must fail the node rather than yield partial numbers.
 *
 * Grouping follows Prometheus' own text parser (expfmt): a sample belongs to the family of its exact
 * name if one is known, else `_sum`/`_count` join a summary or histogram base and `_bucket` joins a
 * histogram base, else the sample starts an untyped family. A sample name keeps the family it first
 * joined. Families without samples are dropped.
 */
import type { FamilyType, MetricFamily, ParsedMetrics, Sample } from './types';

/** A payload that is not valid exposition text; `line` is 1-based. */
export class ExpositionParseError extends Error {
  readonly line: number;

  constructor(line: number, problem: string) {
    super(`line ${line}: ${problem}`);
    this.name = 'ExpositionParseError';
    this.line = line;
  }
}

/**
 * Parses exposition text into families by name.
 * @param keep family base names to keep (e.g. the catalog's SCRAPED_FAMILIES); other families are
 *   checked for syntax but not built. Without it every family is kept.
 * @throws ExpositionParseError naming the line and the problem.
 */
export function parseExposition(text: string, keep?: ReadonlySet<string>): ParsedMetrics {
  return new ExpositionParser(text, keep).parse();
}

const TAB = 9;
const CR = 13;
const SPACE = 32;
const QUOTE = 34;
const HASH = 35;
const PLUS = 43;
const COMMA = 44;
const MINUS = 45;
const DOT = 46;
const EQUALS = 61;
const BACKSLASH = 92;
const LOWER_N = 110;
const LBRACE = 123;
const RBRACE = 125;

// Character classes of ASCII codes, as bits: metric names are [a-zA-Z_:][a-zA-Z0-9_:]*,
// label names [a-zA-Z_][a-zA-Z0-9_]*.
const METRIC_START = 1;
const METRIC_PART = 2;
const LABEL_START = 4;
const LABEL_PART = 8;
const CHAR_CLASS = buildCharClasses();

function buildCharClasses(): Uint8Array {
  const classes = new Uint8Array(128);
  const mark = (from: string, to: string, bits: number): void => {
    for (let c = from.charCodeAt(0); c <= to.charCodeAt(0); c++) classes[c] |= bits;
  };
  mark('a', 'z', METRIC_START | METRIC_PART | LABEL_START | LABEL_PART);
  mark('A', 'Z', METRIC_START | METRIC_PART | LABEL_START | LABEL_PART);
  mark('_', '_', METRIC_START | METRIC_PART | LABEL_START | LABEL_PART);
  mark(':', ':', METRIC_START | METRIC_PART);
  mark('0', '9', METRIC_PART | LABEL_PART);
  return classes;
}

const FAMILY_TYPES: ReadonlyMap<string, FamilyType> = new Map<string, FamilyType>(
  (['counter', 'gauge', 'summary', 'histogram', 'untyped'] as const).map((t) => [t, t]),
);

/** Shared by every sample without labels, frozen so that no consumer can change it for the others. */
const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});


/**
 * Powers of ten that doubles hold exactly. A decimal of at most 15 digits (below 2^53) times or
 * divided by one of them is a single correctly rounded operation, so it equals Number() of the same
 * text (Clinger's fast path); longer mantissas and larger exponents go through Number().
 */
const EXACT_POWERS_OF_TEN = Array.from({ length: 23 }, (_, i) => 10 ** i);
const MAX_EXACT_DIGITS = 15;

/** What the parser knows of one family, whether or not its samples are kept. */
interface FamilyState {
  readonly name: string;
  type: FamilyType;
  help: string | undefined;
  /** Lines of the TYPE and HELP lines and of the first sample; 0 when not seen yet. */
  typeLine: number;
  helpLine: number;
  firstSampleLine: number;
  /** The kept samples, or undefined when `keep` leaves the family out. */
  readonly samples: Sample[] | undefined;
  /** Sample names that joined this family (the base, `_sum`, `_count`, `_bucket`). */
  readonly sampleNames: string[];
}

class ExpositionParser {
  /** Families in order of appearance. */
  private readonly families: FamilyState[] = [];
  /** Families by name, and by sample name for the `_sum`/`_count`/`_bucket` samples that joined a base. */
  private readonly familyByName = new Map<string, FamilyState>();
  private lineNumber = 0;
  /** The previous sample's family: the next sample mostly belongs to it, found without a lookup. */
  private lastSampleFamily: FamilyState | undefined;
  /** The family of the previous HELP or TYPE line. */
  private lastDeclaredFamily: FamilyState | undefined;
  /** Offset of the next backslash at or after the current line (text length when none is left). */
  private nextBackslash = -1;
  /** Where the last number read by readNumber or readTimestamp ends. */
  private numberEnd = 0;
  // The current sample's labels: names, and offsets of the values, reused from line to line.
  private labelCount = 0;
  private readonly labelNames: string[] = [];
  private readonly labelValueStart: number[] = [];
  private readonly labelValueEnd: number[] = [];
  private readonly labelValueEscaped: boolean[] = [];
  /** Label names of earlier samples by position: mostly the next sample's names, reused as strings. */
  private readonly recentLabelNames: string[] = [];

  constructor(private readonly text: string, private readonly keep: ReadonlySet<string> | undefined) {}

  parse(): ParsedMetrics {
    const text = this.text;
    const length = text.length;
    let start = 0;
    while (start < length) {
      let newline = text.indexOf('\n', start);
      if (newline === -1) newline = length;
      // CRLF is tolerated: the CR before LF is not part of the line.
      const end = newline > start && text.charCodeAt(newline - 1) === CR ? newline - 1 : newline;
      this.lineNumber++;
      this.parseLine(start, end);
      start = newline + 1;
    }
    const result: ParsedMetrics = new Map();
    for (const state of this.families) {
      if (state.samples === undefined || state.samples.length === 0) continue;
      const family: MetricFamily = state.help === undefined
        ? { name: state.name, type: state.type, samples: state.samples }
        : { name: state.name, type: state.type, help: state.help, samples: state.samples };
      result.set(state.name, family);
    }
    return result;
  }

  private parseLine(start: number, end: number): void {
    const pos = this.skipBlanks(start, end);
    if (pos === end) return;
    if (this.text.charCodeAt(pos) === HASH) this.parseComment(pos + 1, end);
    else this.parseSample(pos, end);
  }

  /** `# HELP name text`, `# TYPE name type`, or any other comment (ignored). */
  private parseComment(start: number, end: number): void {
    const text = this.text;
    const keywordStart = this.skipBlanks(start, end);
    if (end - keywordStart < 4) return;
    const afterKeyword = keywordStart + 4;
    if (afterKeyword < end && !isBlank(text.charCodeAt(afterKeyword))) return;
    const isHelp = text.startsWith('HELP', keywordStart);
    if (!isHelp && !text.startsWith('TYPE', keywordStart)) return;

    const nameStart = this.skipBlanks(afterKeyword, end);
    // TYPE mostly follows the HELP line of the same family: reuse its state without a lookup.
    let state = this.lastDeclaredFamily;
    if (state === undefined || !this.isTokenAt(state.name, nameStart, end)) {
      const nameEnd = this.scanMetricName(nameStart, end);
      if (nameEnd === nameStart) {
        this.fail(`expected a metric name after '# ${isHelp ? 'HELP' : 'TYPE'}', got ${this.describe(nameStart, end)}`);
      }
      if (nameEnd < end && !isBlank(text.charCodeAt(nameEnd))) this.failBadMetricName(nameStart, end);
      state = this.declaredFamily(text.slice(nameStart, nameEnd), isHelp ? 'HELP' : 'TYPE');
      this.lastDeclaredFamily = state;
    }
    const restStart = this.skipBlanks(nameStart + state.name.length, end);
    if (isHelp) this.readHelp(state, restStart, end);
    else this.readType(state, restStart, end);
  }

  private readHelp(state: FamilyState, start: number, end: number): void {
    if (state.helpLine !== 0) {
      this.fail(`second HELP line for '${state.name}' (the first is on line ${state.helpLine})`);
    }
    state.helpLine = this.lineNumber;
    const escaped = this.hasBackslash(start, end) && this.checkHelpEscapes(start, end);
    if (state.samples === undefined) return;
    state.help = escaped ? this.unescape(start, end) : this.text.slice(start, end);
  }

  /** Checks HELP text, whose only escapes are \\ and \n; returns whether it has any. */
  private checkHelpEscapes(start: number, end: number): boolean {
    const text = this.text;
    let escaped = false;
    for (let i = start; i < end; i++) {
      if (text.charCodeAt(i) !== BACKSLASH) continue;
      const next = i + 1 < end ? text.charCodeAt(i + 1) : -1;
      if (next !== BACKSLASH && next !== LOWER_N) {
        this.fail(`invalid escape ${this.describe(i, Math.min(i + 2, end))} in HELP text: only \\\\ and \\n are allowed`);
      }
      escaped = true;
      i++;
    }
    return escaped;
  }

  private readType(state: FamilyState, start: number, end: number): void {
    const text = this.text;
    let typeEnd = end;
    while (typeEnd > start && isBlank(text.charCodeAt(typeEnd - 1))) typeEnd--;
    if (typeEnd === start) this.fail(`expected a type after '# TYPE ${state.name}'`);
    // Prometheus reads the type case-insensitively.
    const token = text.slice(start, typeEnd);
    const type = FAMILY_TYPES.get(token) ?? FAMILY_TYPES.get(token.toLowerCase());
    if (type === undefined) {
      this.fail(`unknown TYPE '${token}' for '${state.name}': expected counter, gauge, histogram, summary or untyped`);
    }
    if (state.typeLine !== 0) {
      this.fail(`second TYPE line for '${state.name}' (the first is on line ${state.typeLine})`);
    }
    this.checkNoSamplesYet(state.name, state);
    if (type === 'summary' || type === 'histogram') {
      // Samples named like the new members, read before this line, formed untyped families.
      this.checkNoSamplesYet(state.name, this.familyByName.get(`${state.name}_sum`));
      this.checkNoSamplesYet(state.name, this.familyByName.get(`${state.name}_count`));
      if (type === 'histogram') this.checkNoSamplesYet(state.name, this.familyByName.get(`${state.name}_bucket`));
    }
    state.type = type;
    state.typeLine = this.lineNumber;
  }

  private checkNoSamplesYet(familyName: string, earlier: FamilyState | undefined): void {
    if (earlier !== undefined && earlier.firstSampleLine !== 0) {
      this.fail(`TYPE line for '${familyName}' comes after its samples (the first is on line ${earlier.firstSampleLine}): `
        + 'TYPE must precede them');
    }
  }

  /** `name[{labels}] value [timestamp]` */
  private parseSample(start: number, end: number): void {
    const text = this.text;
    let state = this.lastSampleFamily;
    let name = state === undefined ? undefined : this.sampleNameAt(state, start, end);
    if (state === undefined || name === undefined) {
      name = this.readNewSampleName(start, end);
      state = this.familyOfSample(name);
      this.lastSampleFamily = state;
    }

    let pos = start + name.length;
    this.labelCount = 0;
    if (pos < end && text.charCodeAt(pos) === LBRACE) pos = this.scanLabels(pos + 1, end, name);
    pos = this.skipBlanks(pos, end);
    const build = state.samples !== undefined;

    const value = pos === end ? undefined : this.readNumber(pos, end, build);
    if (value === undefined) {
      this.fail(`expected a sample value after '${name}', got ${pos === end ? 'the end of the line' : this.describe(pos, this.tokenEnd(pos, end))}`);
    }

    let timestampMs: number | undefined;
    pos = this.skipBlanks(this.numberEnd, end);
    if (pos < end) {
      timestampMs = this.readTimestamp(pos, end);
      if (timestampMs === undefined) {
        this.fail(`expected an integer timestamp in milliseconds after the value of '${name}', got ${this.describe(pos, this.tokenEnd(pos, end))}`);
      }
      pos = this.skipBlanks(this.numberEnd, end);
      if (pos < end) this.fail(`unexpected ${this.describe(pos, end)} after the timestamp of '${name}'`);
    }

    if (state.type === 'histogram' && name.length === state.name.length + 7 && name.endsWith('_bucket')
      && !this.hasLabel('le')) {
      this.fail(`histogram bucket '${name}' has no 'le' label`);
    }
    if (state.firstSampleLine === 0) state.firstSampleLine = this.lineNumber;
    if (!build) return;

    const labels = this.labelCount === 0 ? NO_LABELS : this.buildLabels();
    const sample: Sample = timestampMs === undefined
      ? { name, labels, value }
      : { name, labels, value, timestampMs };
    (state.samples as Sample[]).push(sample);
  }

  /** The name of a sample line that is not one of the previous family's names: checked and sliced. */
  private readNewSampleName(start: number, end: number): string {
    // The first sample of a family mostly follows its HELP and TYPE lines.
    const declared = this.lastDeclaredFamily;
    if (declared !== undefined && this.isSampleNameAt(declared.name, start, end)) return declared.name;
    const text = this.text;
    const nameEnd = this.scanMetricName(start, end);
    if (nameEnd === start) {
      if (hasClass(text.charCodeAt(start), METRIC_PART)) this.failBadMetricName(start, end);
      this.fail(`expected a metric name, a comment or a blank line, got ${this.describe(start, end)}`);
    }
    const after = nameEnd < end ? text.charCodeAt(nameEnd) : -1;
    if (after !== LBRACE && after !== -1 && !isBlank(after)) this.failBadMetricName(start, end);
    return text.slice(start, nameEnd);
  }

  /** The sample name of `state` that the line starts with, found without building a string. */
  private sampleNameAt(state: FamilyState, start: number, end: number): string | undefined {
    const names = state.sampleNames;
    for (let i = 0; i < names.length; i++) {
      if (this.isSampleNameAt(names[i], start, end)) return names[i];
    }
    return undefined;
  }

  /** Whether `name` starts the sample line as a whole name, followed by `{`, a blank or the end. */
  private isSampleNameAt(name: string, start: number, end: number): boolean {
    const after = start + name.length;
    if (after > end) return false;
    if (after < end) {
      const c = this.text.charCodeAt(after);
      if (c !== LBRACE && !isBlank(c)) return false;
    }
    return this.text.substring(start, after) === name;
  }

  /** Whether `token` is at `start`, followed by a blank or the end of the line. */
  private isTokenAt(token: string, start: number, end: number): boolean {
    const after = start + token.length;
    if (after > end || (after < end && !isBlank(this.text.charCodeAt(after)))) return false;
    return this.text.substring(start, after) === token;
  }

  /** The family a sample name belongs to, created as untyped when none fits. */
  private familyOfSample(name: string): FamilyState {
    let state = this.familyByName.get(name);
    if (state === undefined) {
      const base = suffixBase(name);
      const baseState = base === undefined ? undefined : this.familyByName.get(base);
      if (baseState !== undefined && baseState.name === base && (baseState.type === 'histogram'
        || (baseState.type === 'summary' && !name.endsWith('_bucket')))) {
        state = baseState;
        this.familyByName.set(name, state);
      } else {
        state = this.newFamily(name);
      }
    }
    if (!state.sampleNames.includes(name)) state.sampleNames.push(name);
    return state;
  }

  /** The family a HELP or TYPE line names, created when new. */
  private declaredFamily(name: string, keyword: string): FamilyState {
    const found = this.familyByName.get(name);
    if (found === undefined) return this.newFamily(name);
    if (found.name !== name) {
      this.fail(`${keyword} line for '${name}' comes after samples of that name, which joined family '${found.name}' `
        + `(its first sample is on line ${found.firstSampleLine})`);
    }
    return found;
  }

  private newFamily(name: string): FamilyState {
    const state: FamilyState = {
      name, type: 'untyped', help: undefined, typeLine: 0, helpLine: 0, firstSampleLine: 0,
      samples: this.keep === undefined || this.keep.has(name) ? [] : undefined, sampleNames: [],
    };
    this.familyByName.set(name, state);
    this.families.push(state);
    return state;
  }

  /** Reads `name="value", ...}` from just after `{`; returns the offset after `}`. */
  private scanLabels(start: number, end: number, metricName: string): number {
    const text = this.text;
    let pos = start;
    for (;;) {
      pos = this.skipBlanks(pos, end);
      if (pos === end) this.failUnterminatedLabels(metricName);
      if (text.charCodeAt(pos) === RBRACE) return pos + 1;

      const labelName = this.readLabelName(pos, end, metricName);
      pos = this.skipBlanks(pos + labelName.length, end);
      if (pos === end) this.failUnterminatedLabels(metricName);
      if (text.charCodeAt(pos) !== EQUALS) {
        this.fail(`expected '=' after label name '${labelName}' of '${metricName}', got ${this.describe(pos, pos + 1)}`);
      }
      pos = this.skipBlanks(pos + 1, end);
      if (pos === end) this.failUnterminatedLabels(metricName);
      if (text.charCodeAt(pos) !== QUOTE) {
        this.fail(`expected '"' to open the value of label '${labelName}' of '${metricName}', got ${this.describe(pos, pos + 1)}`);
      }

      const valueStart = pos + 1;
      let escaped = false;
      if (this.hasBackslash(valueStart, end)) {
        pos = valueStart;
        for (;;) {
          if (pos >= end) this.failUnterminatedValue(labelName, metricName);
          const c = text.charCodeAt(pos);
          if (c === QUOTE) break;
          if (c !== BACKSLASH) {
            pos++;
            continue;
          }
          const next = pos + 1 < end ? text.charCodeAt(pos + 1) : -1;
          if (next !== BACKSLASH && next !== QUOTE && next !== LOWER_N) {
            this.fail(`invalid escape ${this.describe(pos, Math.min(pos + 2, end))} in the value of label '${labelName}' of '${metricName}': only \\\\, \\" and \\n are allowed`);
          }
          escaped = true;
          pos += 2;
        }
      } else {
        // Without escapes on the line the next quote closes the value; indexOf finds it natively.
        pos = text.indexOf('"', valueStart);
        if (pos === -1 || pos >= end) this.failUnterminatedValue(labelName, metricName);
      }
      this.addLabel(labelName, valueStart, pos, escaped, metricName);

      pos = this.skipBlanks(pos + 1, end);
      if (pos === end) this.failUnterminatedLabels(metricName);
      const c = text.charCodeAt(pos);
      if (c === RBRACE) return pos + 1;
      if (c !== COMMA) {
        this.fail(`expected ',' or '}' after the value of label '${labelName}' of '${metricName}', got ${this.describe(pos, pos + 1)}`);
      }
      pos++; // a trailing comma before '}' is allowed: the loop then meets '}'
    }
  }

  /** The label name at `start`, reusing the string of an earlier sample's label at this position. */
  private readLabelName(start: number, end: number, metricName: string): string {
    const index = this.labelCount;
    const recent = this.recentLabelNames[index];
    if (recent !== undefined) {
      const after = start + recent.length;
      if (after < end) {
        const c = this.text.charCodeAt(after);
        if ((c === EQUALS || isBlank(c)) && this.text.substring(start, after) === recent) return recent;
      }
    }
    let nameEnd = start;
    if (start < end && hasClass(this.text.charCodeAt(start), LABEL_START)) {
      nameEnd++;
      while (nameEnd < end && hasClass(this.text.charCodeAt(nameEnd), LABEL_PART)) nameEnd++;
    }
    if (nameEnd === start) {
      this.fail(`expected a label name or '}' in the labels of '${metricName}', got ${this.describe(start, this.tokenEnd(start, end))}`);
    }
    const labelName = this.text.slice(start, nameEnd);
    this.recentLabelNames[index] = labelName;
    return labelName;
  }

  private addLabel(labelName: string, valueStart: number, valueEnd: number, escaped: boolean, metricName: string): void {
    const n = this.labelCount;
    for (let i = 0; i < n; i++) {
      if (this.labelNames[i] === labelName) this.fail(`label '${labelName}' appears twice in a sample of '${metricName}'`);
    }
    this.labelNames[n] = labelName;
    this.labelValueStart[n] = valueStart;
    this.labelValueEnd[n] = valueEnd;
    this.labelValueEscaped[n] = escaped;
    this.labelCount = n + 1;
  }

  private hasLabel(labelName: string): boolean {
    for (let i = 0; i < this.labelCount; i++) if (this.labelNames[i] === labelName) return true;
    return false;
  }

  private buildLabels(): Record<string, string> {
    const text = this.text;
    const labels: Record<string, string> = {};
    for (let i = 0; i < this.labelCount; i++) {
      const key = this.labelNames[i];
      const value = this.labelValueEscaped[i]
        ? this.unescape(this.labelValueStart[i], this.labelValueEnd[i])
        : text.slice(this.labelValueStart[i], this.labelValueEnd[i]);
      // Assigning '__proto__' would change the object's prototype instead of adding a label.
      if (key === '__proto__') Object.defineProperty(labels, key, { value, enumerable: true, writable: true, configurable: true });
      else labels[key] = value;
    }
    return labels;
  }

  /** Whether [start, end) holds a backslash; amortized over the text, as offsets only grow. */
  private hasBackslash(start: number, end: number): boolean {
    if (this.nextBackslash < start) {
      const found = this.text.indexOf('\\', start);
      this.nextBackslash = found === -1 ? this.text.length : found;
    }
    return this.nextBackslash < end;
  }

  /** Decodes \\, \" and \n in an already checked range. */
  private unescape(start: number, end: number): string {
    const text = this.text;
    let result = '';
    let chunkStart = start;
    for (let i = start; i < end; i++) {
      if (text.charCodeAt(i) !== BACKSLASH) continue;
      const next = text.charCodeAt(i + 1);
      result += text.slice(chunkStart, i) + (next === LOWER_N ? '\n' : String.fromCharCode(next));
      i++;
      chunkStart = i + 1;
    }
    return result + text.slice(chunkStart, end);
  }

  /**
   * Reads the sample value at `start` up to the next blank: a decimal float as Go's ParseFloat reads
   * it (digits with an optional fraction and exponent), NaN, or an infinity with an optional sign.
   * Returns undefined when the token is none of these, and 0 for a valid token when not building.
   * Sets numberEnd.
   */
  private readNumber(start: number, end: number, build: boolean): number | undefined {
    const text = this.text;
    let pos = start;
    let c = text.charCodeAt(pos);
    const negative = c === MINUS;
    if (negative || c === PLUS) c = ++pos < end ? text.charCodeAt(pos) : -1;
    const unsignedStart = pos;

    let mantissa = 0;
    let digits = 0;
    let fractionDigits = 0;
    while (c >= 48 && c <= 57) {
      mantissa = mantissa * 10 + (c - 48);
      digits++;
      c = ++pos < end ? text.charCodeAt(pos) : -1;
    }
    if (c === DOT) {
      c = ++pos < end ? text.charCodeAt(pos) : -1;
      while (c >= 48 && c <= 57) {
        mantissa = mantissa * 10 + (c - 48);
        digits++;
        fractionDigits++;
        c = ++pos < end ? text.charCodeAt(pos) : -1;
      }
    }
    if (digits === 0) return this.readSpecialNumber(start, unsignedStart, end, negative, build);

    let exponent = 0;
    if ((c | 0x20) === 101 /* e or E */) {
      c = ++pos < end ? text.charCodeAt(pos) : -1;
      const negativeExponent = c === MINUS;
      if (negativeExponent || c === PLUS) c = ++pos < end ? text.charCodeAt(pos) : -1;
      const exponentStart = pos;
      while (c >= 48 && c <= 57) {
        if (exponent < 100000) exponent = exponent * 10 + (c - 48);
        c = ++pos < end ? text.charCodeAt(pos) : -1;
      }
      if (pos === exponentStart) return undefined;
      if (negativeExponent) exponent = -exponent;
    }
    if (pos < end && !isBlank(c)) return undefined;
    this.numberEnd = pos;
    if (!build) return 0;

    const power = exponent - fractionDigits;
    let value: number;
    if (digits > MAX_EXACT_DIGITS || power > 22 || power < -22) value = Number(text.slice(unsignedStart, pos));
    else value = power >= 0 ? mantissa * EXACT_POWERS_OF_TEN[power] : mantissa / EXACT_POWERS_OF_TEN[-power];
    return negative ? -value : value;
  }

  /** NaN (unsigned) or Inf / Infinity, case-insensitive as in Go; the sign is already read. */
  private readSpecialNumber(start: number, wordStart: number, end: number, negative: boolean, build: boolean): number | undefined {
    const wordEnd = this.tokenEnd(wordStart, end);
    const length = wordEnd - wordStart;
    if (length !== 3 && length !== 8) return undefined;
    const word = this.text.slice(wordStart, wordEnd).toLowerCase();
    let value: number;
    if (word === 'inf' || word === 'infinity') value = negative ? -Infinity : Infinity;
    else if (word === 'nan' && wordStart === start) value = NaN;
    else return undefined;
    this.numberEnd = wordEnd;
    return build ? value : 0;
  }

  /** An optionally signed integer of milliseconds up to the next blank, or undefined. Sets numberEnd. */
  private readTimestamp(start: number, end: number): number | undefined {
    const text = this.text;
    let pos = start;
    let c = text.charCodeAt(pos);
    if (c === PLUS || c === MINUS) c = ++pos < end ? text.charCodeAt(pos) : -1;
    const digitsStart = pos;
    while (c >= 48 && c <= 57) c = ++pos < end ? text.charCodeAt(pos) : -1;
    if (pos === digitsStart || (pos < end && !isBlank(c))) return undefined;
    this.numberEnd = pos;
    const value = Number(text.slice(start, pos));
    return Number.isSafeInteger(value) ? value : undefined;
  }

  private scanMetricName(start: number, end: number): number {
    const text = this.text;
    if (start >= end || !hasClass(text.charCodeAt(start), METRIC_START)) return start;
    let pos = start + 1;
    while (pos < end && hasClass(text.charCodeAt(pos), METRIC_PART)) pos++;
    return pos;
  }

  private skipBlanks(start: number, end: number): number {
    let pos = start;
    while (pos < end && isBlank(this.text.charCodeAt(pos))) pos++;
    return pos;
  }

  /** End of the token at `start`: the next blank or the end of the line. */
  private tokenEnd(start: number, end: number): number {
    let pos = start;
    while (pos < end && !isBlank(this.text.charCodeAt(pos))) pos++;
    return pos;
  }

  /** Quotes a piece of the line for an error message, shortened when long. */
  private describe(start: number, end: number): string {
    const limit = 60;
    const piece = this.text.slice(start, Math.min(end, start + limit));
    return `'${piece}${end - start > limit ? '…' : ''}'`;
  }

  private failBadMetricName(start: number, end: number): never {
    let tokenEnd = start;
    while (tokenEnd < end) {
      const c = this.text.charCodeAt(tokenEnd);
      if (c === LBRACE || isBlank(c)) break;
      tokenEnd++;
    }
    return this.fail(`invalid metric name ${this.describe(start, tokenEnd)}: a name is made of letters, digits, '_' and ':' and does not start with a digit`);
  }

  private failUnterminatedLabels(metricName: string): never {
    return this.fail(`unterminated label set of '${metricName}': the line ends before the closing '}'`);
  }

  private failUnterminatedValue(labelName: string, metricName: string): never {
    return this.fail(`unterminated quoted value of label '${labelName}' of '${metricName}': the line ends before the closing '"'`);
  }

  private fail(problem: string): never {
    throw new ExpositionParseError(this.lineNumber, problem);
  }
}

function isBlank(c: number): boolean {
  return c === SPACE || c === TAB;
}

function hasClass(c: number, bits: number): boolean {
  return c < 128 && (CHAR_CLASS[c] & bits) !== 0;
}

/** The base name of a `_sum`, `_count` or `_bucket` sample name, else undefined. */
function suffixBase(name: string): string | undefined {
  if (name.endsWith('_sum')) return name.slice(0, -4);
  if (name.endsWith('_count')) return name.slice(0, -6);
  if (name.endsWith('_bucket')) return name.slice(0, -7);
  return undefined;
}
