/**
 * The dashboard as synthesized: runs the project's CDK app (the `app` command of cdk.json, as the CDK
 * CLI would) into a cloud assembly, and reads the AWS::CloudWatch::Dashboard resource from the
 * templates. Only the templates are read, never lib/, so the preview follows whatever the construct
 * synthesizes.
 */
import { execSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DashboardBody, parseDashboardBody } from './dashboard-model';
import { TemplatePlaceholders, resolveTemplateString } from './resolve-template-value';

export const DEFAULT_DASHBOARD_NAME = 'EKS-CNI-metrics';
/** Stand-ins for an environment-agnostic stack's region and account. */
const PLACEHOLDER_REGION = 'us-east-1';
const PLACEHOLDER_ACCOUNT = '123456789012';

export interface SynthesizedDashboard {
  readonly dashboardName: string;
  readonly stackName: string;
  readonly templateFile: string;
  readonly region: string;
  readonly body: DashboardBody;
  /** The template's CloudWatch alarms by the ARN the dashboard's alarm widgets name them with. */
  readonly alarmsByArn: ReadonlyMap<string, TemplateAlarm>;
}

export interface TemplateAlarm {
  readonly logicalId: string;
  readonly name: string;
  readonly properties: Readonly<Record<string, unknown>>;
}

/** Runs cdk.json's app in `projectDir` with its output in `assemblyDir`; returns the app's stderr. */
export function synthesizeApp(projectDir: string, assemblyDir: string): string {
  const cdkJsonPath = path.join(projectDir, 'cdk.json');
  const cdkJson = JSON.parse(fs.readFileSync(cdkJsonPath, 'utf8')) as { app?: string; context?: Record<string, unknown> };
  if (!cdkJson.app) throw new Error(`${cdkJsonPath} has no "app" command to synthesize`);
  fs.rmSync(assemblyDir, { recursive: true, force: true });
  fs.mkdirSync(assemblyDir, { recursive: true });
  try {
    return execSync(cdkJson.app, {
      cwd: projectDir,
      env: {
        ...process.env,
        CDK_OUTDIR: assemblyDir,
        CDK_CONTEXT_JSON: JSON.stringify(cdkJson.context ?? {}),
        CDK_DISABLE_CLI_TELEMETRY: 'true',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    }).toString();
  } catch (err) {
    const failed = err as { stderr?: string; message: string };
    throw new Error(`the CDK app (\`${cdkJson.app}\`) failed to synthesize: ${failed.stderr || failed.message}`);
  }
}

/**
 * The dashboard named `dashboardName` in the assembly at `assemblyDir`; when none has that name and
 * the assembly holds exactly one dashboard, that one.
 */
export function readSynthesizedDashboard(assemblyDir: string, dashboardName = DEFAULT_DASHBOARD_NAME): SynthesizedDashboard {
  const manifestPath = path.join(assemblyDir, 'manifest.json');
  if (!fs.existsSync(manifestPath)) throw new Error(`${assemblyDir} is not a cloud assembly: no manifest.json`);
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as {
    artifacts?: Record<string, { type: string; environment?: string; properties?: { templateFile?: string } }>;
  };
  const found: SynthesizedDashboard[] = [];
  for (const [stackName, artifact] of Object.entries(manifest.artifacts ?? {})) {
    if (artifact.type !== 'aws:cloudformation:stack' || !artifact.properties?.templateFile) continue;
    const templateFile = path.join(assemblyDir, artifact.properties.templateFile);
    found.push(...dashboardsInTemplate(templateFile, stackName, artifact.environment));
  }
  const named = found.filter((d) => d.dashboardName === dashboardName);
  if (named.length === 1) return named[0];
  if (named.length === 0 && found.length === 1) return found[0];
  const names = found.map((d) => `${d.dashboardName} (${d.stackName})`).join(', ') || 'none';
  throw new Error(`expected one CloudWatch dashboard named '${dashboardName}' in ${assemblyDir}, found: ${names}; ` +
    'pass --dashboard NAME to choose one');
}

function dashboardsInTemplate(templateFile: string, stackName: string, environment: string | undefined): SynthesizedDashboard[] {
  const template = JSON.parse(fs.readFileSync(templateFile, 'utf8')) as { Resources?: TemplatePlaceholders['resources'] };
  const resources = template.Resources ?? {};
  // aws://ACCOUNT/REGION, with unknown-account / unknown-region for environment-agnostic stacks.
  const [, account, region] = /^aws:\/\/([^/]+)\/(.+)$/.exec(environment ?? '') ?? [];
  const placeholders: TemplatePlaceholders = {
    region: region && !region.startsWith('unknown-') ? region : PLACEHOLDER_REGION,
    account: account && !account.startsWith('unknown-') ? account : PLACEHOLDER_ACCOUNT,
    resources,
  };
  const alarmsByArn = new Map<string, TemplateAlarm>();
  for (const [logicalId, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::CloudWatch::Alarm') continue;
    const arn = resolveTemplateString({ 'Fn::GetAtt': [logicalId, 'Arn'] }, placeholders, logicalId);
    alarmsByArn.set(arn, { logicalId, name: arn.slice(arn.lastIndexOf(':') + 1), properties: resource.Properties ?? {} });
  }
  return Object.entries(resources)
    .filter(([, resource]) => resource.Type === 'AWS::CloudWatch::Dashboard')
    .map(([logicalId, resource]) => {
      const where = `${path.basename(templateFile)} ${logicalId}.DashboardBody`;
      const bodyText = resolveTemplateString(resource.Properties?.DashboardBody, placeholders, where);
      const dashboardName = resource.Properties?.DashboardName;
      return {
        dashboardName: typeof dashboardName === 'string' ? dashboardName : logicalId,
        stackName,
        templateFile,
        region: placeholders.region,
        body: parseDashboardBody(bodyText, where),
        alarmsByArn,
      };
    });
}
