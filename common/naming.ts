/**
 * Naming rules of the outside systems, each written once and used by the collector (at start) and the
 * construct (at synth). Each check returns the broken rule as a phrase, or undefined when the name is
 * valid, so every caller words its own error around the prop or variable the user wrote.
 */

/** CloudWatch reserves namespaces starting with this for AWS services. */
export const RESERVED_CLOUDWATCH_PREFIX = 'AWS/';
const MAX_CLOUDWATCH_NAMESPACE = 255;

/** CloudWatch's namespace rule: 1-255 printable ASCII characters, not blank, no leading ':', not 'AWS/...'. */
export function cloudWatchNamespaceProblem(namespace: string): string | undefined {
  if (namespace.length < 1 || namespace.length > MAX_CLOUDWATCH_NAMESPACE) {
    return `must be 1 to ${MAX_CLOUDWATCH_NAMESPACE} characters long, got ${namespace.length}`;
  }
  if (namespace.trim() === '') return 'must not be blank';
  if (!/^[\x20-\x7e]+$/.test(namespace)) return 'must be printable ASCII (no control or non-ASCII characters)';
  if (namespace.startsWith(':')) return "must not start with ':'";
  if (namespace.startsWith(RESERVED_CLOUDWATCH_PREFIX)) {
    return `must not start with '${RESERVED_CLOUDWATCH_PREFIX}', which CloudWatch reserves for AWS services`;
  }
  return undefined;
}

/** EKS's cluster-name rule: 1-100 characters of letters, digits, '-' and '_', starting with a letter or digit. */
export function eksClusterNameProblem(name: string): string | undefined {
  if (!/^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/.test(name)) {
    return "must be an EKS cluster name (1-100 characters: letters, digits, '-' and '_', starting with a letter or digit)";
  }
  return undefined;
}
