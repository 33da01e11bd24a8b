/**
 * Kubernetes' rules for names, label keys and values, label selectors and resource quantities, as
 * the API server applies them (k8s.io/apimachinery validation). Checked at synth so that a bad value
 * fails `cdk synth` instead of `kubectl apply`.
 */
import { Token } from 'aws-cdk-lib';
import * as cdk8s from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The name part of label and annotation keys, and a non-empty label value: up to 63 characters. */
const LABEL_NAME = '[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
/** A label or annotation key: an optional DNS subdomain prefix and '/', then a name. */
const QUALIFIED_NAME = `(?:${DNS_SUBDOMAIN.source.slice(1, -1)}/)?${LABEL_NAME}`;
const LABEL_KEY = new RegExp(`^${QUALIFIED_NAME}$`);
const LABEL_VALUE = new RegExp(`^(?:${LABEL_NAME})?$`);

/** The rule of a label name, for messages. */
export const NAME_RULE = 'a name is up to 63 letters, digits, "-", "_" and ".", starting and ending with a letter or digit';
export const DNS_LABEL_RULE = 'a Kubernetes namespace name (a DNS label: lower-case letters, digits and "-", at most 63 characters)';
export const DNS_SUBDOMAIN_RULE = 'a Kubernetes object name (a DNS subdomain: lower-case letters, digits, "-" and ".", at most 253 characters)';

/**
 * The label selector syntax the API server parses (labels.Parse): requirements joined by commas,
 * each `key`, `!key`, `key=value` (or `==`, `!=`), `key in (values)`, `key notin (values)` or
 * `key > n` / `key < n`; keys are [prefix/]name, values names or empty.
 */
const LABEL_SELECTOR = (() => {
  const value = `(?:${LABEL_NAME})?`;
  const operation = `\\s*(?:==?|!=)\\s*${value}|\\s*[<>]\\s*-?\\d+|\\s+(?:in|notin)\\s*\\(\\s*${value}(?:\\s*,\\s*${value})*\\s*\\)`;
  const requirement = `\\s*(?:!\\s*${QUALIFIED_NAME}|${QUALIFIED_NAME}(?:${operation})?)\\s*`;
  return new RegExp(`^${requirement}(?:,${requirement})*$`);
})();

/** A value known at synth: tokens are left to deploy time. */
export function known(value: string): boolean {
  return !Token.isUnresolved(value);
}

export function isDnsLabel(value: string): boolean {
  return value.length <= 63 && DNS_LABEL.test(value);
}

export function isDnsSubdomain(value: string): boolean {
  return value.length <= 253 && DNS_SUBDOMAIN.test(value);
}

export function isLabelKey(value: string): boolean {
  return LABEL_KEY.test(value);
}

export function isLabelValue(value: string): boolean {
  return LABEL_VALUE.test(value);
}

export function isLabelSelector(value: string): boolean {
  return LABEL_SELECTOR.test(value);
}

export function isEnvName(value: string): boolean {
  return ENV_NAME.test(value);
}

/** A resource quantity as a comparable number, and as the manifest shows it. */
interface Quantity {
  readonly amount: number;
  readonly shown: string;
}

/** A request and a limit of one resource, in comparable amounts; forms that cannot be read are left out. */
interface ResourceAmounts {
  readonly what: string;
  readonly request?: Quantity;
  readonly limit?: Quantity;
}

/** The requests and limits given: CPU in millicores, memory and ephemeral storage in KiB. */
export function resourceAmounts(resources: kplus.ContainerResources | undefined): ResourceAmounts[] {
  const millicores = (value: kplus.Cpu | undefined): Quantity | undefined => {
    if (value === undefined || Token.isUnresolved(value.amount)) return undefined;
    const parts = /^(\d+(?:\.\d+)?)(m?)$/.exec(value.amount);
    return parts ? { amount: Number(parts[1]) * (parts[2] ? 1 : 1000), shown: value.amount } : undefined;
  };
  const kibibytes = (value: cdk8s.Size | undefined): Quantity | undefined => {
    if (value === undefined) return undefined;
    const amount = value.toKibibytes({ rounding: cdk8s.SizeRoundingBehavior.NONE });
    return { amount, shown: `${amount}Ki` };
  };
  return [
    { what: 'cpu', request: millicores(resources?.cpu?.request), limit: millicores(resources?.cpu?.limit) },
    { what: 'memory', request: kibibytes(resources?.memory?.request), limit: kibibytes(resources?.memory?.limit) },
    { what: 'ephemeralStorage', request: kibibytes(resources?.ephemeralStorage?.request), limit: kibibytes(resources?.ephemeralStorage?.limit) },
  ];
}
