/**
 * Reads the role mappings out of the aws-auth ConfigMap text, in the forms a user has at hand:
 * - `kubectl -n kube-system get configmap aws-auth -o yaml` (or `-o json`): a ConfigMap whose
 *   `data.mapRoles` is a YAML (or JSON) string,
 * - `kubectl describe configmap -n kube-system aws-auth`, as the AWS guide shows it: headers, then
 *   `Data\n====\nmapRoles:\n----\n<yaml>`, maybe followed by other keys, `BinaryData` and `Events:`,
 * - the bare `mapRoles` YAML list.
 *
 * Pure functions with no CDK imports: lib/node-roles.ts turns the ARNs into roles.
 */
import * as YAML from 'yaml';
import type { AwsAuthRoleMapping } from '../aws-auth';
import { ValidationError } from './errors';

/** The Kubernetes group of kubelets: a role mapped to it is a node role. */
const NODES_GROUP = 'system:nodes';

/**
 * The group aws-eks (and the EKS console) maps Fargate pod execution roles to, beside system:nodes.
 * Fargate pods run no aws-node, so such a role is no node role for the CNI metrics policy.
 */
const NODE_PROXIER_GROUP = 'system:node-proxier';

/** Whether a mapping's groups are those of an EC2 node (system:nodes, and not Fargate's system:node-proxier). */
export function isEc2NodeMapping(groups: readonly string[]): boolean {
  return groups.includes(NODES_GROUP) && !groups.includes(NODE_PROXIER_GROUP);
}

/** The prop every parse error names: the text is always the awsAuth the user passed. */
const AWS_AUTH_PROP = 'awsAuth';

/** A parse error: `text` is "<problem> — <fix>", as every message of this module is written. */
function awsAuthError(text: string): ValidationError {
  const separator = text.lastIndexOf(' — ');
  return separator < 0
    ? new ValidationError(AWS_AUTH_PROP, text, 'pass the aws-auth ConfigMap text unchanged')
    : new ValidationError(AWS_AUTH_PROP, text.slice(0, separator), text.slice(separator + 3));
}

const ACCEPTED_FORMS =
  'pass the output of `kubectl -n kube-system get configmap aws-auth -o yaml`, ' +
  'the output of `kubectl describe configmap -n kube-system aws-auth`, or the mapRoles YAML list itself';

/**
 * arn:<partition>:iam::<account>:role/[<path>/]<name>. IAM names and path segments use
 * [\w+=,.@-]; the partition is aws, aws-cn, aws-us-gov, aws-iso, ... The name's 64-character
 * limit is not checked: the AWS guide's own sample name has 66, and IAM rejects a wrong name at
 * deploy time anyway.
 */
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]+$/;

/** Most alias expansions in one text, weighted by what each alias holds (the yaml library's default). */
const MAX_ALIAS_COUNT = 100;

/** Limits far above any aws-auth's nesting, far below what overflows the yaml library's stack. */
const MAX_FLOW_DEPTH = 64;
const MAX_BLOCK_LEAD = 128;

/** What an error message quotes at most, so that a huge input gives a short message. */
const MAX_QUOTED_CHARS = 120;
const MAX_LISTED_ITEMS = 10;

/** The `mapRoles:` key and its `----` underline in `kubectl describe` output. */
const DESCRIBE_MAP_ROLES_HEADER = /^mapRoles:[ \t]*\n-{3,}[ \t]*$/m;
/** Any data key with its underline, and the `Data` section heading, in `kubectl describe` output. */
const DESCRIBE_KEY_HEADERS = /^([\w.-]+):[ \t]*\n-{3,}[ \t]*$/gm;
const DESCRIBE_DATA_SECTION = /^Data[ \t]*\n=+[ \t]*$/m;

/**
 * Parses the `mapRoles` entries out of aws-auth ConfigMap text in any of the forms above.
 *
 * @throws ValidationError naming `awsAuth`, the problem and the fix.
 */
export function parseAwsAuthMapRoles(text: string): AwsAuthRoleMapping[] {
  const mapRoles = locateMapRoles(text.replace(/\r\n?/g, '\n'));
  if (!Array.isArray(mapRoles)) {
    throw awsAuthError(
      `mapRoles is ${describeValue(mapRoles)}, not a list — mapRoles must be a YAML list of ` +
        'entries with rolearn, username and groups, e.g. "- rolearn: arn:aws:iam::111122223333:role/NodeRole"',
    );
  }
  return mapRoles.map((entry, index) => toRoleMapping(entry, index + 1));
}

/**
 * The ARNs of the EC2 node roles (mapped to `system:nodes`, not Fargate's `system:node-proxier`), without duplicates,
 * in the order of the text.
 *
 * @throws ValidationError naming `awsAuth` when the text cannot be read or maps no EC2 node role.
 */
export function nodeRoleArnsFromAwsAuth(text: string): string[] {
  const mappings = parseAwsAuthMapRoles(text);
  const arns = [...new Set(mappings.filter((m) => isEc2NodeMapping(m.groups)).map((m) => m.roleArn))];
  if (arns.length === 0) {
    const seen = listSome(mappings.map((m) => `${m.roleArn} [${m.groups.join(', ')}]`), '; ');
    throw awsAuthError(
      `no role in mapRoles is an EC2 node role (group '${NODES_GROUP}' without Fargate's '${NODE_PROXIER_GROUP}'): ` +
        `mapRoles has ${mappings.length === 0 ? 'no entries' : seen} — pass the aws-auth of the cluster the EC2 nodes ` +
        'join, or pass the node roles as `nodeRoles` (Fargate pods run no aws-node and need no policy)',
    );
  }
  return arns;
}

/** Returns the mapRoles value (list or not) found in the text, whichever form it is in. */
function locateMapRoles(text: string): unknown {
  const header = DESCRIBE_MAP_ROLES_HEADER.exec(text);
  if (header) {
    const startLine = lineOf(text, header.index) + 2;
    const block = describeValueBlock(text.split('\n').slice(startLine - 1));
    return parseYaml(block, {
      what: 'the mapRoles block of the describe output',
      lineSuffix: ' of the input',
      lineOffset: startLine - 1,
    });
  }
  if (DESCRIBE_DATA_SECTION.test(text)) {
    // A describe output without mapRoles is no YAML either: say what it holds instead.
    const keys = [...text.matchAll(DESCRIBE_KEY_HEADERS)].map((match) => match[1]);
    throw awsAuthError(
      `no mapRoles found: the describe output has data keys [${listSome(keys, ', ')}] — node roles are ` +
        'mapped in mapRoles; pass the aws-auth of the cluster the nodes join, or, when its nodes join through ' +
        'EKS access entries instead, pass the node roles as `nodeRoles`',
    );
  }

  const whole = parseYaml(text, { what: 'the text', lineSuffix: '', lineOffset: 0 });
  if (Array.isArray(whole)) return whole;
  if (isRecord(whole)) {
    // A ConfigMap (`get -o yaml`/`-o json`), or its data section pasted on its own.
    const data = isRecord(whole.data) ? whole.data : whole;
    if ('mapRoles' in data) {
      const where = data === whole ? 'mapRoles' : 'data.mapRoles';
      const value = data.mapRoles;
      // ConfigMap values are strings holding YAML; a pasted data section may hold the list itself.
      return typeof value === 'string' ? parseYaml(value, { what: where, lineSuffix: ` of ${where}`, lineOffset: 0 }) : value;
    }
    const kind = typeof whole.kind === 'string' ? `a ${whole.kind} ` : 'a mapping ';
    const keys = Object.keys(isRecord(whole.data) ? whole.data : whole);
    throw awsAuthError(
      `no mapRoles found: the text is ${kind}with ${isRecord(whole.data) ? 'data ' : ''}keys ` +
        `[${listSome(keys, ', ')}] — ${ACCEPTED_FORMS}`,
    );
  }
  throw awsAuthError(`no mapRoles found: the text is ${describeValue(whole)} — ${ACCEPTED_FORMS}`);
}

/**
 * The lines of one `kubectl describe` data value: up to the next `key:` + `----` header, the
 * `BinaryData` section or the `Events:` line.
 */
function describeValueBlock(lines: readonly string[]): string {
  const block: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const next = lines[i + 1] ?? '';
    const nextKeyHeader = /^[\w.-]+:[ \t]*$/.test(line) && /^-{3,}[ \t]*$/.test(next);
    const sectionHeader = /^BinaryData[ \t]*$/.test(line) && /^=+[ \t]*$/.test(next);
    if (nextKeyHeader || sectionHeader || /^Events:/.test(line)) break;
    block.push(line);
  }
  return block.join('\n');
}

/** Where a YAML source sits in the user's input, for error messages. */
interface YamlSource {
  /** What is parsed, e.g. "data.mapRoles". */
  readonly what: string;
  /** How its line numbers read, e.g. "of data.mapRoles"; empty for the input itself. */
  readonly lineSuffix: string;
  /** Lines of the input before the source, to map an extracted block back to the input. */
  readonly lineOffset: number;
}

/** Parses one YAML document; errors quote the library's message with its line in the input. */
function parseYaml(text: string, source: YamlSource): unknown {
  const deep = tooDeep(text);
  if (deep) {
    throw awsAuthError(
      `${source.what} ${deep.what} at line ${deep.line + source.lineOffset}${source.lineSuffix}, deeper than ` +
        `any aws-auth nests — ${ACCEPTED_FORMS}, unchanged`,
    );
  }
  const doc = YAML.parseDocument(text, { prettyErrors: false });
  const error = doc.errors[0];
  if (error) {
    // Computed from the offset: the library's own "at line" text comes with a multi-line excerpt.
    const offset = Math.min(error.pos[0], text.length);
    const line = lineOf(text, offset);
    const column = offset - text.lastIndexOf('\n', offset - 1);
    const at = ` at line ${line + source.lineOffset}, column ${column}${source.lineSuffix}`;
    throw awsAuthError(
      `${source.what} is not valid YAML${at}: "${error.message}" — ${ACCEPTED_FORMS}, ` +
        'unchanged (indentation matters)',
    );
  }
  try {
    // Aliases are expanded here. The alias limit (the library's default, written out so that it
    // stays) stops a "billion laughs" text before it costs time or memory.
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (aliasError) {
    throw awsAuthError(
      `${source.what} cannot be expanded: "${(aliasError as Error).message}" — aws-auth needs no YAML ` +
        `anchors or aliases (&name, *name); ${ACCEPTED_FORMS}, unchanged`,
    );
  }
}

/**
 * Where the text nests far deeper than aws-auth ever does (it has four levels at most), or
 * undefined. The yaml library recurses once per level: a few thousand levels overflow the stack,
 * and a later parse in the same process can then abort it (a V8 fatal error, not an exception).
 * Block nesting needs a column per level (indentation or a "- " indicator), flow nesting a bracket.
 */
function tooDeep(text: string): { line: number; what: string } | undefined {
  let line = 1;
  let atLineStart = true;
  let lead = 0;
  let brackets = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') {
      line++;
      atLineStart = true;
      lead = 0;
      continue;
    }
    if (atLineStart && (c === ' ' || c === '\t' || c === '-' || c === '?')) {
      if (++lead > MAX_BLOCK_LEAD) return { line, what: `is indented more than ${MAX_BLOCK_LEAD} columns` };
      continue;
    }
    atLineStart = false;
    if (c === '[' || c === '{') {
      if (++brackets > MAX_FLOW_DEPTH) return { line, what: `nests brackets more than ${MAX_FLOW_DEPTH} deep` };
    } else if ((c === ']' || c === '}') && brackets > 0) {
      brackets--;
    }
  }
  return undefined;
}

function toRoleMapping(entry: unknown, position: number): AwsAuthRoleMapping {
  if (!isRecord(entry)) {
    throw awsAuthError(
      `mapRoles entry ${position} is ${describeValue(entry)}, not a mapping — each entry needs ` +
        'rolearn, and usually username and groups, e.g. "- rolearn: arn:aws:iam::111122223333:role/NodeRole"',
    );
  }
  if (!('rolearn' in entry)) {
    const hint = 'userarn' in entry ? '; user mappings (userarn) belong in mapUsers' : '';
    throw awsAuthError(
      `mapRoles entry ${position} has no rolearn (its keys: ${listSome(Object.keys(entry), ', ')}) — ` +
        `add "rolearn: arn:aws:iam::<account>:role/<name>"${hint}`,
    );
  }
  const roleArn = entry.rolearn;
  if (typeof roleArn !== 'string' || !ROLE_ARN.test(roleArn)) {
    throw awsAuthError(
      `mapRoles entry ${position} has rolearn ${quote(roleArn)}, which is not an IAM role ARN — ` +
        'expected arn:<partition>:iam::<12-digit account>:role/[<path>/]<name>' +
        (typeof roleArn === 'string' && /:(user|assumed-role)\//.test(roleArn)
          ? '; users are mapped in mapUsers, and an assumed-role ARN must be replaced by its role ARN'
          : ''),
    );
  }
  const groups: unknown = entry.groups ?? [];
  if (!Array.isArray(groups) || !groups.every((g): g is string => typeof g === 'string')) {
    throw awsAuthError(
      `mapRoles entry ${position} (rolearn '${shorten(roleArn)}') has groups ${quote(groups)}, ` +
        'which is not a list of strings — write groups as a YAML list, e.g. "groups: [system:bootstrappers, system:nodes]"',
    );
  }
  const username = entry.username;
  if (username !== undefined && username !== null && typeof username !== 'string') {
    throw awsAuthError(
      `mapRoles entry ${position} (rolearn '${shorten(roleArn)}') has username ${quote(username)}, ` +
        'which is not a string — quote it, e.g. "username: \'system:node:{{EC2PrivateDNSName}}\'"',
    );
  }
  return typeof username === 'string' ? { roleArn, username, groups } : { roleArn, groups };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'empty';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `a ${typeof value} (${quote(value)})`;
}

/** A value as JSON for a message, shortened: a huge input must not make a huge error. */
function quote(value: unknown): string {
  return shorten(JSON.stringify(value) ?? String(value));
}

function shorten(text: string): string {
  return text.length > MAX_QUOTED_CHARS ? `${text.slice(0, MAX_QUOTED_CHARS)}…` : text;
}

/** The first few items for a message, and how many more there are. */
function listSome(items: readonly string[], separator: string): string {
  const shown = items.slice(0, MAX_LISTED_ITEMS).map(shorten).join(separator);
  return items.length > MAX_LISTED_ITEMS ? `${shown}${separator}and ${items.length - MAX_LISTED_ITEMS} more` : shown;
}

/** 1-based line number of a character offset. */
function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (text[i] === '\n') line++;
  return line;
}
