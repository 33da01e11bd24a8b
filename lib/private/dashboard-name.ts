/** CloudWatch's rule for dashboard names, checked at synth. */
import { Token } from 'aws-cdk-lib';
import { ValidationError, got } from './errors';

/** The dashboard name the AWS guide uses for the CNI metrics helper. */
export const DEFAULT_DASHBOARD_NAME = 'EKS-CNI-metrics';

const MAX_DASHBOARD_NAME_LENGTH = 255;
const DASHBOARD_NAME_PATTERN = /^[A-Za-z0-9_-]+$/;

/** Throws a ValidationError naming `path` when the name breaks CloudWatch's rule; tokens pass. */
export function validateDashboardName(dashboardName: string, path: string): void {
  if (Token.isUnresolved(dashboardName)) return;
  if (dashboardName.length > MAX_DASHBOARD_NAME_LENGTH || !DASHBOARD_NAME_PATTERN.test(dashboardName)) {
    const suggestion = dashboardName.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, MAX_DASHBOARD_NAME_LENGTH) || DEFAULT_DASHBOARD_NAME;
    throw new ValidationError(
      path,
      `must be a CloudWatch dashboard name (1-${MAX_DASHBOARD_NAME_LENGTH} characters of A-Z, a-z, 0-9, '-' and '_')${got(dashboardName)}`,
      `use e.g. '${suggestion}'`,
    );
  }
}
