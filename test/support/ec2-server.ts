/**
 * A loopback EC2 endpoint for DescribeSubnets, speaking what the installed `@aws-sdk/client-ec2`
 * sends, so the real client can be tested end to end without an AWS account.
 *
 * Wire protocol (EC2 query protocol, API version 2016-11-15), read from a probe of client-ec2 3.1164:
 * - request: `POST /`, `content-type: application/x-www-form-urlencoded`, a body such as
 *   `Action=DescribeSubnets&Version=2016-11-15&Filter.1.Name=subnet-id&Filter.1.Value.1=subnet-…&MaxResults=1000&NextToken=…`
 *   (or `SubnetId.1=…`), signed with SigV4 for service `ec2` (`authorization`, `x-amz-date`,
 *   `x-amz-content-sha256`). A request without them is refused with 401 `AuthFailure`.
 * - success: 200, `<DescribeSubnetsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">` with
 *   `<subnetSet><item>…</item></subnetSet>` and `<nextToken>` while more pages remain.
 * - errors: EC2's XML error document `<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>`.
 *
 * Limits kept as EC2 keeps them: at most 200 values in one filter (`FilterLimitExceeded`), MaxResults
 * from 5 to 1000, an unknown id in SubnetId.N fails the call (`InvalidSubnetID.NotFound`) while an
 * unknown id in a `subnet-id` filter is just absent. The server may page smaller than MaxResults
 * (`pageSize`), as EC2 may. Faults are scripted, one per request in order.
 */
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EC2Client, type EC2ClientConfig } from '@aws-sdk/client-ec2';

export interface LoopbackSubnet {
  readonly subnetId: string;
  readonly availabilityZone: string;
  readonly availableIps: number;
  readonly vpcId?: string;
  readonly cidrBlock?: string;
}

export type Ec2Fault =
  /** 503 `RequestLimitExceeded`: EC2's throttling answer (the SDK retries it). */
  | 'throttle'
  /** 403 `UnauthorizedOperation`: the caller's role lacks ec2:DescribeSubnets (not retried). */
  | 'unauthorized'
  /** 500 `InternalError` (the SDK retries it). */
  | 'internalError'
  /** 200, but the first subnet of the page lacks its availableIpAddressCount. */
  | 'malformed'
  /** No answer until the server closes. */
  | 'hang';

/** One request as decoded from the wire. */
export interface Ec2Request {
  readonly action?: string;
  readonly version?: string;
  /** Filters by name, with their values in order. */
  readonly filters: ReadonlyMap<string, readonly string[]>;
  readonly subnetIds: readonly string[];
  readonly maxResults?: number;
  readonly nextToken?: string;
  /** From the SigV4 credential scope. */
  readonly signedFor?: { readonly accessKeyId: string; readonly region: string; readonly service: string };
  /** The error code answered, if any. */
  readonly errorCode?: string;
  readonly fault?: Ec2Fault;
}

export interface Ec2ServerOptions {
  readonly subnets?: readonly LoopbackSubnet[];
  /** Most subnets in one page, whatever MaxResults asks. @default 1000 */
  readonly pageSize?: number;
}

export interface Ec2Server {
  readonly endpoint: string;
  readonly requests: readonly Ec2Request[];
  /** Adds or replaces a subnet. */
  setSubnet(subnet: LoopbackSubnet): void;
  deleteSubnet(subnetId: string): void;
  /** Queues faults, consumed one per DescribeSubnets request in order. */
  injectFaults(...faults: Ec2Fault[]): void;
  close(): Promise<void>;
}

const NAMESPACE = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const MAX_FILTER_VALUES = 200;

class Ec2Error extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export async function startEc2Server(options: Ec2ServerOptions = {}): Promise<Ec2Server> {
  const subnets = new Map<string, LoopbackSubnet>();
  for (const s of options.subnets ?? []) subnets.set(s.subnetId, s);
  const pageSize = options.pageSize ?? 1_000;
  const requests: Ec2Request[] = [];
  const faults: Ec2Fault[] = [];
  const hanging = new Set<http.ServerResponse>();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const decoded = decode(body, req.headers);
      let fault: Ec2Fault | undefined;
      try {
        if (req.method !== 'POST' || req.url !== '/') throw new Ec2Error(400, 'InvalidAction', `${req.method} ${req.url} is not an EC2 query request`);
        if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
          throw new Ec2Error(400, 'InvalidParameterValue', 'the body must be application/x-www-form-urlencoded');
        }
        checkSignature(req.headers, decoded.signedFor);
        if (decoded.action !== 'DescribeSubnets') throw new Ec2Error(400, 'InvalidAction', `The action ${decoded.action} is not valid for this web service.`);
        if (decoded.version !== '2016-11-15') throw new Ec2Error(400, 'InvalidParameterValue', `unsupported API version ${decoded.version}`);
        fault = faults.shift();
        if (fault === 'hang') {
          requests.push({ ...decoded, fault });
          hanging.add(res);
          res.on('close', () => hanging.delete(res));
          return;
        }
        if (fault === 'throttle') throw new Ec2Error(503, 'RequestLimitExceeded', 'Request limit exceeded.');
        if (fault === 'unauthorized') throw new Ec2Error(403, 'UnauthorizedOperation', 'You are not authorized to perform this operation.');
        if (fault === 'internalError') throw new Ec2Error(500, 'InternalError', 'An internal error has occurred.');
        const xml = describeSubnets(decoded, subnets, pageSize, fault === 'malformed');
        requests.push({ ...decoded, fault });
        res.writeHead(200, { 'content-type': 'text/xml;charset=UTF-8' });
        res.end(xml);
      } catch (err) {
        const e = err instanceof Ec2Error ? err : new Ec2Error(500, 'InternalError', String(err));
        requests.push({ ...decoded, fault, errorCode: e.code });
        res.writeHead(e.status, { 'content-type': 'text/xml;charset=UTF-8' });
        res.end(
          '<?xml version="1.0" encoding="UTF-8"?>\n' +
            `<Response><Errors><Error><Code>${escapeXml(e.code)}</Code><Message>${escapeXml(e.message)}</Message></Error></Errors>` +
            `<RequestID>${randomUUID()}</RequestID></Response>`,
        );
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    setSubnet: (s) => void subnets.set(s.subnetId, s),
    deleteSubnet: (id) => void subnets.delete(id),
    injectFaults: (...f) => void faults.push(...f),
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A real EC2 client aimed at `endpoint`, with fake credentials, a fixed region and `config` on top. */
export function createTestEc2Client(endpoint: string, config: Partial<EC2ClientConfig> = {}): EC2Client {
  return new EC2Client({
    endpoint,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIDLOOPBACKEC2', secretAccessKey: 'loopback-test-secret' },
    maxAttempts: 1,
    ...config,
  });
}

function decode(body: string, headers: http.IncomingHttpHeaders): Ec2Request {
  const params = new URLSearchParams(body);
  const filterNames = new Map<number, string>();
  const filterValues = new Map<number, Map<number, string>>();
  const subnetIdsByIndex = new Map<number, string>();
  for (const [key, value] of params) {
    let m = /^Filter\.(\d+)\.Name$/.exec(key);
    if (m) {
      filterNames.set(Number(m[1]), value);
      continue;
    }
    m = /^Filter\.(\d+)\.Value\.(\d+)$/.exec(key);
    if (m) {
      const values = filterValues.get(Number(m[1])) ?? new Map<number, string>();
      values.set(Number(m[2]), value);
      filterValues.set(Number(m[1]), values);
      continue;
    }
    m = /^SubnetId\.(\d+)$/.exec(key);
    if (m) subnetIdsByIndex.set(Number(m[1]), value);
  }
  const byIndex = <T>(map: Map<number, T>): T[] => [...map.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
  const filters = new Map<string, string[]>();
  for (const [index, name] of [...filterNames.entries()].sort((a, b) => a[0] - b[0])) {
    filters.set(name, byIndex(filterValues.get(index) ?? new Map()));
  }
  const maxResults = params.get('MaxResults');
  return {
    action: params.get('Action') ?? undefined,
    version: params.get('Version') ?? undefined,
    filters,
    subnetIds: byIndex(subnetIdsByIndex),
    maxResults: maxResults === null ? undefined : Number(maxResults),
    nextToken: params.get('NextToken') ?? undefined,
    signedFor: parseCredentialScope(headers.authorization),
  };
}

function checkSignature(headers: http.IncomingHttpHeaders, signedFor: Ec2Request['signedFor']): void {
  if (signedFor === undefined || !headers['x-amz-date'] || !/Signature=[0-9a-f]{64}/.test(String(headers.authorization))) {
    throw new Ec2Error(401, 'AuthFailure', 'AWS was not able to validate the provided access credentials (no SigV4 signature)');
  }
  if (signedFor.service !== 'ec2') throw new Ec2Error(401, 'AuthFailure', `signed for service ${signedFor.service}, not ec2`);
}

function parseCredentialScope(authorization: string | undefined): Ec2Request['signedFor'] {
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(authorization ?? '');
  return match ? { accessKeyId: match[1], region: match[2], service: match[3] } : undefined;
}

function describeSubnets(request: Ec2Request, subnets: ReadonlyMap<string, LoopbackSubnet>, pageSize: number, malformed: boolean): string {
  for (const [name, values] of request.filters) {
    if (values.length > MAX_FILTER_VALUES) {
      throw new Ec2Error(400, 'FilterLimitExceeded', `The filter '${name}' has ${values.length} values; the maximum is ${MAX_FILTER_VALUES}.`);
    }
    if (name !== 'subnet-id' && name !== 'vpc-id') throw new Ec2Error(400, 'InvalidParameterValue', `The filter '${name}' is not supported by this loopback server`);
  }
  const maxResults = request.maxResults;
  if (maxResults !== undefined && !(Number.isInteger(maxResults) && maxResults >= 5 && maxResults <= 1000)) {
    throw new Ec2Error(400, 'InvalidParameterValue', `Value ( ${maxResults} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`);
  }
  for (const id of request.subnetIds) {
    if (!subnets.has(id)) throw new Ec2Error(400, 'InvalidSubnetID.NotFound', `The subnet ID '${id}' does not exist`);
  }
  let matching = [...subnets.values()].sort((a, b) => a.subnetId.localeCompare(b.subnetId));
  if (request.subnetIds.length > 0) matching = matching.filter((s) => request.subnetIds.includes(s.subnetId));
  const idFilter = request.filters.get('subnet-id');
  if (idFilter) matching = matching.filter((s) => idFilter.includes(s.subnetId));
  const vpcFilter = request.filters.get('vpc-id');
  if (vpcFilter) matching = matching.filter((s) => vpcFilter.includes(s.vpcId ?? ''));

  // The token names the offset and the query it belongs to, so a token from another query is refused.
  const queryKey = JSON.stringify([...request.filters.entries(), request.subnetIds]);
  let offset = 0;
  if (request.nextToken !== undefined) {
    const parsed = parseToken(request.nextToken);
    if (parsed === undefined || parsed.queryKey !== queryKey) throw new Ec2Error(400, 'InvalidParameterValue', 'The token is not valid for this request.');
    offset = parsed.offset;
  }
  const limit = Math.min(pageSize, maxResults ?? Infinity);
  const page = matching.slice(offset, offset + limit);
  const next = offset + page.length < matching.length && maxResults !== undefined
    ? Buffer.from(JSON.stringify({ offset: offset + page.length, queryKey })).toString('base64url') : undefined;
  const items = page.map((s, i) => [
    '<item>',
    `<subnetId>${escapeXml(s.subnetId)}</subnetId>`,
    `<subnetArn>arn:aws:ec2:eu-west-1:111122223333:subnet/${escapeXml(s.subnetId)}</subnetArn>`,
    '<state>available</state>',
    `<vpcId>${escapeXml(s.vpcId ?? 'vpc-0a1b2c3d4e5f60718')}</vpcId>`,
    '<ownerId>111122223333</ownerId>',
    `<cidrBlock>${escapeXml(s.cidrBlock ?? '10.0.0.0/19')}</cidrBlock>`,
    '<ipv6CidrBlockAssociationSet/>',
    malformed && i === 0 ? '' : `<availableIpAddressCount>${s.availableIps}</availableIpAddressCount>`,
    `<availabilityZone>${escapeXml(s.availabilityZone)}</availabilityZone>`,
    `<availabilityZoneId>euw1-az${(s.availabilityZone.charCodeAt(s.availabilityZone.length - 1) - 96)}</availabilityZoneId>`,
    '<defaultForAz>false</defaultForAz>',
    '<mapPublicIpOnLaunch>false</mapPublicIpOnLaunch>',
    '<assignIpv6AddressOnCreation>false</assignIpv6AddressOnCreation>',
    '<tagSet/>',
    '</item>',
  ].join('')).join('');
  return '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<DescribeSubnetsResponse xmlns="${NAMESPACE}"><requestId>${randomUUID()}</requestId>` +
    `<subnetSet>${items}</subnetSet>${next ? `<nextToken>${next}</nextToken>` : ''}</DescribeSubnetsResponse>`;
}

function parseToken(token: string): { offset: number; queryKey: string } | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { offset?: unknown; queryKey?: unknown };
    return typeof parsed.offset === 'number' && typeof parsed.queryKey === 'string' ? { offset: parsed.offset, queryKey: parsed.queryKey } : undefined;
  } catch {
    return undefined;
  }
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '\'': '&apos;', '"': '&quot;' })[c] as string);
}
