/**
 * Checks a list of subnet ids for the collector's SUBNET_IDS, with the collector's own rules
 * (common/limits.ts), so that a typo fails at synth instead of in the pod's logs.
 */
import { Token } from 'aws-cdk-lib';
import { MAX_SUBNET_IDS, SUBNET_ID_PATTERN } from '../../common/limits';
import { ValidationError, withValue } from './errors';

/** Throws a ValidationError naming `path` on the first bad id. Tokens are taken as they are. */
export function validateSubnetIds(ids: readonly string[], path: string): void {
  if (Token.isUnresolved(ids)) return;
  if (ids.length === 0) throw new ValidationError(path, 'must list at least one subnet id', "e.g. ['subnet-0123456789abcdef0']");
  if (ids.length > MAX_SUBNET_IDS) {
    throw new ValidationError(path, `lists ${ids.length} subnets, more than ${MAX_SUBNET_IDS}`, 'list the subnets the pods draw their IPs from');
  }
  const seen = new Set<string>();
  for (const id of ids) {
    if (Token.isUnresolved(id)) continue;
    if (!SUBNET_ID_PATTERN.test(id)) {
      throw new ValidationError(path, withValue("holds something that is not a subnet id ('subnet-' and 8 or 17 lowercase hex digits)", id), "e.g. 'subnet-0123456789abcdef0'");
    }
    if (seen.has(id)) throw new ValidationError(path, withValue('lists a subnet twice', id), 'remove the duplicate');
    seen.add(id);
  }
}
