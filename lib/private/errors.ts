/**
 * One error type and one message shape for bad input, for every construct of the package:
 *
 *   cni-metrics-helper: <prop path>: <what is wrong>[, got <value>] — <how to fix it>
 *
 * The prop path is the one the user wrote: a part used alone names its own prop (`scrapeMode`), the
 * helper passes its prefix down so the same check names `collector.scrapeMode`.
 */

/** The first word of every message, so a user can tell whose error it is. */
const ERROR_PREFIX = 'cni-metrics-helper';

/** Bad props, found at construction or at synthesis. Not exported by the package (jsii has no Error). */
export class ValidationError extends Error {
  /** The prop the message is about, as the user wrote it, e.g. `collector.scrapeMode`. */
  public readonly propPath: string;

  constructor(propPath: string, problem: string, fix: string) {
    super(formatProblem(propPath, problem, fix));
    this.name = 'ValidationError';
    this.propPath = propPath;
  }
}

/** The message text, for `node.addValidation` (which reports strings) and for ValidationError. */
export function formatProblem(propPath: string, problem: string, fix: string): string {
  return `${ERROR_PREFIX}: ${propPath}: ${problem} — ${fix}`;
}

/** `prefix.name`, or `name` when a part is used alone (empty prefix). */
export function propPath(prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix}.${name}`;
}

/** The longest value a message quotes: a huge input must not make a huge error. */
const MAX_QUOTED_CHARS = 120;

/** `, got <value as JSON>`, shortened; `: <value>` when the problem already says what it got (a length). */
export function withValue(problem: string, value: unknown): string {
  return /, got [^,]*$/.test(problem) ? `${problem}: ${quote(value)}` : problem + got(value);
}

/** `, got <value as JSON>`, shortened. */
export function got(value: unknown): string {
  return `, got ${quote(value)}`;
}

function quote(value: unknown): string {
  // Numbers as JavaScript shows them (JSON would turn NaN and Infinity into null).
  const text = typeof value === 'number' ? String(value) : JSON.stringify(value) ?? String(value);
  return text.length > MAX_QUOTED_CHARS ? `${text.slice(0, MAX_QUOTED_CHARS)}…` : text;
}
