/**
 * Short, printable quotes of text that came from outside (an answer body, a pod field), for log
 * lines and error messages: a target must not be able to write its body into our logs, nor control
 * characters or escape sequences into a terminal.
 */

/** Characters of outside text quoted in one message. */
export const EXCERPT_MAX_CHARS = 160;

/** `text` on one line, printable ASCII only (anything else becomes '?'), cut to `maxChars` with '...'. */
export function safeExcerpt(text: string, maxChars: number = EXCERPT_MAX_CHARS): string {
  // Cut first (with room for whitespace runs) so a 4 KiB body costs no more than its start.
  const start = text.length > maxChars * 4 ? text.slice(0, maxChars * 4) : text;
  const printable = start.replace(/\s+/g, ' ').replace(/[^\x20-\x7e]/g, '?').trim();
  const cut = printable.length > maxChars || start.length < text.length;
  return cut ? `${printable.slice(0, maxChars)}...` : printable;
}
