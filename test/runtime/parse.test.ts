import * as fc from 'fast-check';
import { existsSync, readFileSync } from 'fs';
import * as path from 'path';
import { SCRAPED_FAMILIES } from '../../common/catalog';
import { ExpositionParseError, parseExposition } from '../../runtime/parse';
import type { MetricFamily, ParsedMetrics, Sample } from '../../runtime/types';

const FIXTURES = path.resolve(__dirname, '../fixtures/ipamd');
// Upstream's samples live beside the repository, not in it: a fresh clone has no ../shared.
const UPSTREAM_FIXTURES = path.resolve(__dirname, '../../../shared/fixtures/ipamd');
const UPSTREAM_PRESENT = existsSync(UPSTREAM_FIXTURES);
if (!UPSTREAM_PRESENT) {
  // eslint-disable-next-line no-console
  console.log(`Skipping the upstream ipamd samples: ${UPSTREAM_FIXTURES} is absent (it exists only beside the development checkout).`);
}
const describeUpstream = UPSTREAM_PRESENT ? describe : describe.skip;

function fixture(name: string): string {
  return readFileSync(path.join(FIXTURES, name), 'utf8');
}

function family(metrics: ParsedMetrics, name: string): MetricFamily {
  const found = metrics.get(name);
  if (!found) throw new Error(`family '${name}' not parsed; got ${[...metrics.keys()].join(', ')}`);
  return found;
}

/** Every sample of that exact name, across families. */
function samplesNamed(metrics: ParsedMetrics, sampleName: string): Sample[] {
  return [...metrics.values()].flatMap((f) => f.samples.filter((s) => s.name === sampleName));
}

function total(metrics: ParsedMetrics, sampleName: string): number {
  return samplesNamed(metrics, sampleName).reduce((sum, s) => sum + s.value, 0);
}

function valueOf(metrics: ParsedMetrics, sampleName: string, labels: Record<string, string> = {}): number {
  const matches = samplesNamed(metrics, sampleName).filter((s) => JSON.stringify(s.labels) === JSON.stringify(labels));
  if (matches.length !== 1) throw new Error(`expected one '${sampleName}' ${JSON.stringify(labels)}, found ${matches.length}`);
  return matches[0].value;
}

/** The error parseExposition throws for `text`; fails the test when it parses. */
function parseError(text: string, keep?: ReadonlySet<string>): ExpositionParseError {
  try {
    parseExposition(text, keep);
  } catch (error) {
    if (error instanceof ExpositionParseError) return error;
    throw error;
  }
  throw new Error('expected an ExpositionParseError, but the text parsed');
}

describe('parseExposition on the project fixtures', () => {
  test('node-a yields every awscni_ family with its declared type and values', () => {
    const metrics = parseExposition(fixture('node-a.prom'));

    expect(family(metrics, 'awscni_eni_max')).toEqual({
      name: 'awscni_eni_max',
      type: 'gauge',
      help: 'The maximum number of ENIs that can be attached to the instance, accounting for unmanaged ENIs',
      samples: [{ name: 'awscni_eni_max', labels: {}, value: 4 }],
    });
    expect(valueOf(metrics, 'awscni_ip_max')).toBe(56);
    expect(valueOf(metrics, 'awscni_total_ip_addresses')).toBe(28);
    expect(valueOf(metrics, 'awscni_assigned_ip_addresses')).toBe(17);
    expect(family(metrics, 'awscni_assigned_ip_per_eni').samples).toEqual([
      { name: 'awscni_assigned_ip_per_eni', labels: { eni: 'eni-0a1b2c3d4e5f60718' }, value: 12 },
      { name: 'awscni_assigned_ip_per_eni', labels: { eni: 'eni-0f9e8d7c6b5a40312' }, value: 5 },
    ]);
    expect(family(metrics, 'awscni_no_available_ip_addresses').type).toBe('counter');
    expect(valueOf(metrics, 'awscni_ec2api_error_count', { fn: 'DescribeNetworkInterfaces' })).toBe(1);

    const awscniFamilies = [...metrics.keys()].filter((n) => n.startsWith('awscni_')).sort();
    expect(awscniFamilies).toEqual([
      'awscni_add_ip_req_count', 'awscni_assigned_ip_addresses', 'awscni_assigned_ip_per_cidr', 'awscni_assigned_ip_per_eni',
      'awscni_aws_api_error_count', 'awscni_aws_api_latency_ms', 'awscni_aws_utils_error_count', 'awscni_build_info',
      'awscni_connmark_backend', 'awscni_connmark_reconcile_total', 'awscni_del_ip_req_count', 'awscni_ec2api_error_count',
      'awscni_ec2api_req_count', 'awscni_eni_allocated', 'awscni_eni_max', 'awscni_force_removed_enis', 'awscni_force_removed_ips',
      'awscni_ip_max', 'awscni_ipamd_action_inprogress', 'awscni_ipamd_error_count',
      'awscni_ipamd_node_initialization_duration_seconds', 'awscni_ipamd_startup_duration_seconds',
      'awscni_no_available_ip_addresses', 'awscni_pod_eni_error_count', 'awscni_reconcile_count', 'awscni_total_ip_addresses',
      'awscni_total_ipv4_prefixes',
    ]);
    expect(metrics.has('go_goroutines')).toBe(true);
    expect(metrics.has('process_resident_memory_bytes')).toBe(true);
    expect([...metrics.values()].filter((f) => f.type === 'untyped')).toEqual([]);
  });

  test('node-a latency summary groups _sum and _count under the base family, with no quantile lines', () => {
    const latency = family(parseExposition(fixture('node-a.prom')), 'awscni_aws_api_latency_ms');

    expect(latency.type).toBe('summary');
    expect(new Set(latency.samples.map((s) => s.name))).toEqual(new Set(['awscni_aws_api_latency_ms_sum', 'awscni_aws_api_latency_ms_count']));
    expect(latency.samples).toHaveLength(22);
    for (const s of latency.samples) expect(Object.keys(s.labels)).toEqual(['api', 'error', 'status']);
    expect(latency.samples[0]).toEqual({
      name: 'awscni_aws_api_latency_ms_sum',
      labels: { api: 'AssignPrivateIpAddresses', error: 'false', status: '200' },
      value: 2398.412806,
    });
  });

  test('node-a startup histogram groups buckets with le, _sum and _count, and keeps an empty label value', () => {
    const startup = family(parseExposition(fixture('node-a.prom')), 'awscni_ipamd_startup_duration_seconds');
    const series = { failure_reason: '', success: 'true', with_api_server: 'true' };

    expect(startup.type).toBe('histogram');
    const buckets = startup.samples.filter((s) => s.name === 'awscni_ipamd_startup_duration_seconds_bucket');
    expect(buckets.map((s) => s.labels.le)).toEqual(['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf']);
    expect(buckets[buckets.length - 1]).toEqual({
      name: 'awscni_ipamd_startup_duration_seconds_bucket', labels: { ...series, le: '+Inf' }, value: 1,
    });
    expect(startup.samples.slice(-2)).toEqual([
      { name: 'awscni_ipamd_startup_duration_seconds_sum', labels: series, value: 5.612093418 },
      { name: 'awscni_ipamd_startup_duration_seconds_count', labels: series, value: 1 },
    ]);
  });

  test('node-b has the same families as node-a with its own values, including escaped quotes in a label', () => {
    const a = parseExposition(fixture('node-a.prom'));
    const b = parseExposition(fixture('node-b.prom'));

    expect([...b.keys()]).toEqual([...a.keys()]);
    expect(valueOf(b, 'awscni_eni_max')).toBe(3);
    expect(valueOf(b, 'awscni_no_available_ip_addresses')).toBe(4);
    expect(family(b, 'awscni_aws_utils_error_count').samples[0].labels).toEqual({
      error: 'failed to describe ENI "eni-0c1d2e3f4a5b6c7d8": InvalidNetworkInterfaceID.NotFound',
      fn: 'getENIAttachmentIDFailed',
    });
    expect(valueOf(b, 'go_memstats_sys_bytes')).toBe(33136936);
  });

  test('node-a + node-b match the cluster figures documented in the fixtures README', () => {
    // GIVEN the table of the README, which other engineers' integration tests assert
    const readme = fixture('README.md');
    const rows = readme.split('\n').filter((l) => /^\| awscni_\w+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \|$/.test(l));
    expect(rows.length).toBeGreaterThanOrEqual(20);
    // WHEN both nodes are parsed
    const a = parseExposition(fixture('node-a.prom'));
    const b = parseExposition(fixture('node-b.prom'));
    // THEN every row is the sum of that sample name's series on each node, and across both
    for (const row of rows) {
      const [name, onA, onB, sum] = row.split('|').map((c) => c.trim()).filter((c) => c !== '');
      expect([name, total(a, name)]).toEqual([name, expect.closeTo(Number(onA), 6)]);
      expect([name, total(b, name)]).toEqual([name, expect.closeTo(Number(onB), 6)]);
      expect([name, total(a, name) + total(b, name)]).toEqual([name, expect.closeTo(Number(sum), 6)]);
    }
    const free = (m: ParsedMetrics): number => valueOf(m, 'awscni_total_ip_addresses') - valueOf(m, 'awscni_assigned_ip_addresses');
    expect(Math.min(free(a), free(b))).toBe(3);
    expect(readme).toContain('cluster minimum is **3**');
  });

  test('node-prefix carries prefixes and assigned IPs per /28 CIDR', () => {
    const metrics = parseExposition(fixture('node-prefix.prom'));

    expect(valueOf(metrics, 'awscni_total_ipv4_prefixes')).toBe(3);
    expect(family(metrics, 'awscni_assigned_ip_per_cidr').samples).toEqual([
      { name: 'awscni_assigned_ip_per_cidr', labels: { cidr: '10.0.96.16/28' }, value: 14 },
      { name: 'awscni_assigned_ip_per_cidr', labels: { cidr: '10.0.96.48/28' }, value: 9 },
      { name: 'awscni_assigned_ip_per_cidr', labels: { cidr: '10.0.97.128/28' }, value: 0 },
    ]);
    expect(valueOf(metrics, 'awscni_assigned_ip_addresses')).toBe(23);
    expect(metrics.has('awscni_ec2api_error_count')).toBe(false);
  });

  test('node-quantiles keeps quantile lines, NaN and numbers, beside _sum and _count', () => {
    const latency = family(parseExposition(fixture('node-quantiles.prom')), 'awscni_aws_api_latency_ms');

    expect(latency.type).toBe('summary');
    const p99 = latency.samples.filter((s) => s.labels.quantile === '0.99');
    expect(p99.map((s) => s.labels.api)).toEqual([
      'AssignPrivateIpAddresses', 'AttachNetworkInterface', 'CreateNetworkInterface', 'DescribeNetworkInterfaces',
      'DescribeNetworkInterfaces', 'GetMetadata',
    ]);
    expect(p99.filter((s) => Number.isNaN(s.value))).toHaveLength(3);
    expect(Math.max(...p99.map((s) => s.value).filter((v) => !Number.isNaN(v)))).toBe(540);
    expect(latency.samples.filter((s) => s.name === 'awscni_aws_api_latency_ms_count').map((s) => s.value))
      .toEqual([5, 1, 1, 11, 2, 30311]);
    expect(latency.samples[0]).toEqual({
      name: 'awscni_aws_api_latency_ms', labels: { api: 'AssignPrivateIpAddresses', error: 'false', quantile: '0.5' }, value: 301,
    });
  });

  test('an HTML error page fails at line 1', () => {
    const error = parseError(fixture('garbage.prom'));

    expect(error.line).toBe(1);
    expect(error.message).toBe("line 1: expected a metric name, a comment or a blank line, got '<!DOCTYPE html>'");
  });

  test('a payload cut in the middle of a label set fails at its last line, even when that family is not kept', () => {
    for (const keep of [undefined, new Set(['awscni_eni_max'])]) {
      const error = parseError(fixture('truncated.prom'), keep);

      expect(error.line).toBe(48);
      expect(error.message).toMatch(/^line 48: unterminated label set of 'awscni_aws_api_latency_ms_sum'/);
    }
  });
});

describeUpstream('parseExposition on upstream ipamd samples (../shared/fixtures/ipamd)', () => {
  const upstream = (name: string): string => readFileSync(path.join(UPSTREAM_FIXTURES, name), 'utf8');

  test('cni_test1 parses with its gauges and quantile summary', () => {
    const metrics = parseExposition(upstream('upstream-cni_test1.prom'));

    expect(valueOf(metrics, 'awscni_eni_max')).toBe(3);
    expect(valueOf(metrics, 'awscni_ip_max')).toBe(15);
    expect(valueOf(metrics, 'awscni_total_ip_addresses')).toBe(10);
    expect(valueOf(metrics, 'awscni_assigned_ip_addresses')).toBe(1);
    const latency = family(metrics, 'awscni_aws_api_latency_ms');
    expect(latency.type).toBe('summary');
    expect(valueOf(metrics, 'awscni_aws_api_latency_ms_count', { api: 'GetMetadata', error: 'false' })).toBe(82716);
    expect(valueOf(metrics, 'awscni_aws_api_latency_ms', { api: 'GetMetadata', error: 'false', quantile: '0.99' })).toBe(1);
    expect(valueOf(metrics, 'go_memstats_alloc_bytes')).toBe(7.710456e6);
  });

  test('cni_test2 parses with its prefix-delegation families', () => {
    const metrics = parseExposition(upstream('upstream-cni_test2.prom'));

    expect(valueOf(metrics, 'awscni_total_ipv4_prefixes')).toBe(1);
    expect(valueOf(metrics, 'awscni_total_ip_addresses')).toBe(16);
    expect(family(metrics, 'awscni_assigned_ip_per_cidr').samples).toEqual([
      { name: 'awscni_assigned_ip_per_cidr', labels: { cidr: '192.168.20.0/28' }, value: 1 },
    ]);
  });

  test('both agree with parse-prometheus-text-format', () => {
    for (const name of ['upstream-cni_test1.prom', 'upstream-cni_test2.prom']) {
      expectAgreementWithReference(upstream(name), ['awscni_aws_api_latency_ms']);
    }
  });
});

describe('parseExposition text format rules', () => {
  test('HELP text decodes \\\\ and \\n, and TYPE sets the family type', () => {
    const metrics = parseExposition([
      '# HELP x_total A path C:\\\\tmp\\nand a second line',
      '# TYPE x_total counter',
      'x_total 3',
    ].join('\n'));

    expect(family(metrics, 'x_total')).toEqual({
      name: 'x_total', type: 'counter', help: 'A path C:\\tmp\nand a second line', samples: [{ name: 'x_total', labels: {}, value: 3 }],
    });
  });

  test('other comments and blank lines are ignored, including blanks and tabs around them', () => {
    const metrics = parseExposition('# just a comment\n\n   \n\t# HELPER is not HELP\n#comment without a space\n# TYPE\tx gauge\nx 1\n\n');

    expect([...metrics.values()].map((f) => [f.name, f.type])).toEqual([['x', 'gauge']]);
  });

  test('label values decode \\\\, \\" and \\n', () => {
    const metrics = parseExposition('x{path="C:\\\\DIR\\\\FILE.TXT",msg="say \\"hi\\"\\nbye"} 1');

    expect(family(metrics, 'x').samples[0].labels).toEqual({ path: 'C:\\DIR\\FILE.TXT', msg: 'say "hi"\nbye' });
  });

  test('label sets take a trailing comma, blanks around tokens, commas and braces inside values', () => {
    const metrics = parseExposition('x{a="1",} 1\ny{ a = "1" , b="x,}{y" } 2\nz{} 3');

    expect(family(metrics, 'x').samples[0].labels).toEqual({ a: '1' });
    expect(family(metrics, 'y').samples[0].labels).toEqual({ a: '1', b: 'x,}{y' });
    expect(family(metrics, 'z').samples[0].labels).toEqual({});
  });

  test('label values hold any UTF-8 text', () => {
    const metrics = parseExposition('x{who="Zoë 🚀 日本語",empty=""} 1');

    expect(family(metrics, 'x').samples[0].labels).toEqual({ who: 'Zoë 🚀 日本語', empty: '' });
  });

  test('metric names may hold colons, and a label named __proto__ stays a plain label', () => {
    const metrics = parseExposition('job:rate5m{__proto__="p"} 1');
    const labels = family(metrics, 'job:rate5m').samples[0].labels;

    expect(Object.getPrototypeOf(labels)).toBe(Object.prototype);
    expect(Object.keys(labels)).toEqual(['__proto__']);
    expect(labels.__proto__).toBe('p');
  });

  test('values read NaN, +Inf, -Inf, Inf, signs, decimals and exponents', () => {
    const text = ['NaN', '+Inf', '-Inf', 'Inf', '-7', '+0.5', '.25', '1.', '1.5e3', '2E-2', '-3.1e+04', '1234567890123456789']
      .map((v, i) => `v${i} ${v}`).join('\n');
    const values = [...parseExposition(text).values()].map((f) => f.samples[0].value);

    expect(values).toEqual([NaN, Infinity, -Infinity, Infinity, -7, 0.5, 0.25, 1, 1500, 0.02, -31000, 1234567890123456789]);
  });

  test('values are the doubles Number() reads from the same text, however they are spelled', () => {
    // The parser computes short decimals itself instead of slicing the text for Number().
    const spellings = fc.oneof(
      fc.double({ noNaN: true }).chain((d) => fc.constantFrom(String(d), d.toExponential(), d.toPrecision(17))),
      fc.double({ noNaN: true, min: -1e21, max: 1e21 }).chain((d) => fc.integer({ min: 0, max: 20 }).map((k) => d.toFixed(k))),
      fc.tuple(fc.stringMatching(/^[+-]?(\d{1,20}(\.\d{0,20})?|\.\d{1,20})$/), fc.stringMatching(/^([eE][+-]?\d{1,3})?$/))
        .map(([decimal, exponent]) => decimal + exponent),
    );
    fc.assert(fc.property(spellings, (spelling) => {
      const text = spelling.replace('Infinity', 'Inf');
      const [parsed] = family(parseExposition(`x ${text}`), 'x').samples;
      expect([text, parsed.value]).toEqual([text, Number(spelling)]);
    }), { numRuns: 2000 });
  });

  test('an optional integer timestamp is kept in milliseconds', () => {
    const metrics = parseExposition('x 1 1395066363000\ny{a="b"} 2 -3982045\nz 3');

    expect(family(metrics, 'x').samples[0]).toEqual({ name: 'x', labels: {}, value: 1, timestampMs: 1395066363000 });
    expect(family(metrics, 'y').samples[0].timestampMs).toBe(-3982045);
    expect('timestampMs' in family(metrics, 'z').samples[0]).toBe(false);
  });

  test('a summary groups quantile lines, _sum and _count under its base name', () => {
    const metrics = parseExposition([
      '# TYPE rpc summary',
      'rpc{quantile="0.5"} 4773',
      'rpc{quantile="0.99"} NaN',
      'rpc_sum 1.7560473e+07',
      'rpc_count 2693',
    ].join('\n'));

    expect([...metrics.keys()]).toEqual(['rpc']);
    expect(family(metrics, 'rpc').samples.map((s) => [s.name, s.labels, s.value])).toEqual([
      ['rpc', { quantile: '0.5' }, 4773],
      ['rpc', { quantile: '0.99' }, NaN],
      ['rpc_sum', {}, 17560473],
      ['rpc_count', {}, 2693],
    ]);
  });

  test('a histogram groups _bucket (with le), _sum and _count under its base name', () => {
    const metrics = parseExposition([
      '# TYPE lat histogram',
      'lat_bucket{le="0.1"} 2',
      'lat_bucket{le="+Inf"} 3',
      'lat_sum 0.42',
      'lat_count 3',
    ].join('\n'));

    expect([...metrics.keys()]).toEqual(['lat']);
    expect(family(metrics, 'lat').samples.map((s) => s.name)).toEqual(['lat_bucket', 'lat_bucket', 'lat_sum', 'lat_count']);
  });

  test('samples without a TYPE line form untyped families, _sum and _count included', () => {
    const metrics = parseExposition('# HELP plain Plain one.\nplain 1\nlooks_sum 2\n# TYPE g gauge\ng_sum 3');

    expect([...metrics.values()].map((f) => [f.name, f.type, f.help])).toEqual([
      ['plain', 'untyped', 'Plain one.'],
      ['looks_sum', 'untyped', undefined],
      ['g_sum', 'untyped', undefined],
    ]);
  });

  test('a family declared without samples is left out', () => {
    const metrics = parseExposition('# HELP empty Nothing here.\n# TYPE empty gauge\nx 1');

    expect([...metrics.keys()]).toEqual(['x']);
  });

  test('CRLF line endings are tolerated, and line numbers still count lines', () => {
    const metrics = parseExposition('# HELP x Help.\r\n# TYPE x gauge\r\nx{a="b"} 1\r\n\r\n');

    expect(family(metrics, 'x')).toEqual({ name: 'x', type: 'gauge', help: 'Help.', samples: [{ name: 'x', labels: { a: 'b' }, value: 1 }] });
    expect(parseError('x 1\r\ny 2\r\nbad-name 3\r\n').line).toBe(3);
  });

  test('TYPE accepts its keyword in any case, as Prometheus does', () => {
    expect(family(parseExposition('# TYPE x GAUGE\nx 1'), 'x').type).toBe('gauge');
  });

  test('empty text parses to no families', () => {
    expect(parseExposition('').size).toBe(0);
  });
});

describe('parseExposition rejects malformed text with the line number', () => {
  test.each([
    ['a metric name starting with a digit', 'ok 1\n9lives 1', 2, "invalid metric name '9lives'"],
    ['a metric name with a dash', 'awscni-eni_max 4', 1, "invalid metric name 'awscni-eni_max'"],
    ['a line that is not a sample', 'ok 1\n\n{a="b"} 1', 3, "expected a metric name, a comment or a blank line, got '{a=\"b\"} 1'"],
    ['a label set without its closing brace', 'x{a="1",b="2" 3', 1, "expected ',' or '}' after the value of label 'b' of 'x', got '3'"],
    ['a label set cut after a comma', 'ok 1\nx{a="1",', 2, "unterminated label set of 'x'"],
    ['a quoted value that never closes', 'x{a="1} 3', 1, "unterminated quoted value of label 'a' of 'x'"],
    ['an unquoted label value', 'x{a=1} 3', 1, "expected '\"' to open the value of label 'a' of 'x', got '1'"],
    ['a label without =', 'x{a} 3', 1, "expected '=' after label name 'a' of 'x', got '}'"],
    ['a bad label name', 'x{1a="b"} 3', 1, "expected a label name or '}' in the labels of 'x', got '1a=\"b\"}'"],
    ['a repeated label', 'x{a="1",a="2"} 3', 1, "label 'a' appears twice in a sample of 'x'"],
    ['an unknown escape in a label value', '# TYPE x gauge\nx{a="tab\\there"} 3', 2, "invalid escape '\\t' in the value of label 'a' of 'x'"],
    ['an unknown escape in HELP text', '# HELP x bad \\q escape', 1, "invalid escape '\\q' in HELP text"],
    ['a missing value', 'x{a="1"}', 1, "expected a sample value after 'x', got the end of the line"],
    ['a missing value after blanks', 'x   ', 1, "expected a sample value after 'x', got the end of the line"],
    ['a non-numeric value', 'a 1\nb 2\nawscni_eni_max abc', 3, "expected a sample value after 'awscni_eni_max', got 'abc'"],
    ['a hex value', 'x 0x1F', 1, "expected a sample value after 'x', got '0x1F'"],
    ['a signed NaN', 'x -NaN', 1, "expected a sample value after 'x', got '-NaN'"],
    ['an exponent without digits', 'x 1e', 1, "expected a sample value after 'x', got '1e'"],
    ['a fractional timestamp', 'x 1 12.5', 1, "expected an integer timestamp in milliseconds after the value of 'x', got '12.5'"],
    ['a non-numeric timestamp', 'x 1 now', 1, "expected an integer timestamp in milliseconds after the value of 'x', got 'now'"],
    ['text after the timestamp', 'x 1 1000 extra', 1, "unexpected 'extra' after the timestamp of 'x'"],
    ['a second TYPE line for a family', '# TYPE x gauge\n# HELP x Help.\n# TYPE x counter\nx 1', 3, "second TYPE line for 'x' (the first is on line 1)"],
    ['a TYPE line after its samples', 'x 1\n# TYPE x gauge', 2, "TYPE line for 'x' comes after its samples (the first is on line 1)"],
    ['a summary TYPE after its _sum samples', 'x_sum 1\n# TYPE x summary', 2, "TYPE line for 'x' comes after its samples (the first is on line 1)"],
    ['a TYPE line for a name whose samples joined a summary', '# TYPE x summary\nx_sum 1\n# TYPE x_sum gauge', 3,
      "TYPE line for 'x_sum' comes after samples of that name, which joined family 'x' (its first sample is on line 2)"],
    ['an unknown TYPE', '# TYPE x gauges\nx 1', 1, "unknown TYPE 'gauges' for 'x': expected counter, gauge, histogram, summary or untyped"],
    ['a TYPE line with two types', '# TYPE x gauge counter', 1, "unknown TYPE 'gauge counter' for 'x'"],
    ['a TYPE line without a type', '# TYPE x', 1, "expected a type after '# TYPE x'"],
    ['a HELP line without a name', '# HELP', 1, "expected a metric name after '# HELP', got ''"],
    ['a second HELP line for a family', '# HELP x One.\n# HELP x Two.', 2, "second HELP line for 'x' (the first is on line 1)"],
    ['a histogram bucket without le', '# TYPE h histogram\nh_bucket{a="b"} 1', 2, "histogram bucket 'h_bucket' has no 'le' label"],
  ])('rejects %s', (_what, text, line, problem) => {
    const error = parseError(text);

    expect(error).toBeInstanceOf(ExpositionParseError);
    expect(error.name).toBe('ExpositionParseError');
    expect(error.line).toBe(line);
    expect(error.message.startsWith(`line ${line}: ${problem}`)).toBe(true);
  });

  test('a very long bad token is shortened in the message', () => {
    const error = parseError(`x ${'9'.repeat(40)}z${'9'.repeat(40)}`);

    expect(error.message).toMatch(/^line 1: expected a sample value after 'x', got '9{40}z9{19}…'$/);
  });
});

describe('parseExposition with keep', () => {
  test('keeps only the named families, _sum and _count of a kept summary included', () => {
    const metrics = parseExposition(fixture('node-a.prom'), SCRAPED_FAMILIES);

    expect(new Set(metrics.keys())).toEqual(new Set([...SCRAPED_FAMILIES]));
    expect(family(metrics, 'awscni_aws_api_latency_ms').samples).toHaveLength(22);
    expect(metrics.has('go_goroutines')).toBe(false);
  });

  test('a kept family is identical to the same family parsed without keep', () => {
    const all = parseExposition(fixture('node-b.prom'));
    const kept = parseExposition(fixture('node-b.prom'), SCRAPED_FAMILIES);

    for (const [name, value] of kept) expect(value).toEqual(all.get(name));
  });

  test('a malformed line in a family that is not kept still fails the payload', () => {
    const text = '# TYPE keep_me gauge\nkeep_me 1\n# TYPE skip_me gauge\nskip_me{a="1"} 1\nskip_me{a="2"} oops\n';
    const error = parseError(text, new Set(['keep_me']));

    expect(error.line).toBe(5);
    expect(error.message).toBe("line 5: expected a sample value after 'skip_me', got 'oops'");
  });

  test('structural errors in families that are not kept still fail the payload', () => {
    expect(parseError('skip_me 1\n# TYPE skip_me gauge', new Set(['keep_me'])).line).toBe(2);
    expect(parseError('# HELP skip_me bad \\x', new Set(['keep_me'])).line).toBe(1);
    expect(parseError('skip_me{a="1",a="2"} 1', new Set(['keep_me'])).line).toBe(1);
  });

  test('a keep set naming no family of the payload yields no families', () => {
    expect(parseExposition(fixture('node-a.prom'), new Set(['not_there'])).size).toBe(0);
  });
});

describe('parseExposition agrees with parse-prometheus-text-format', () => {
  test.each([
    ['node-a.prom', ['awscni_ipamd_node_initialization_duration_seconds', 'awscni_ipamd_startup_duration_seconds']],
    ['node-b.prom', ['awscni_ipamd_node_initialization_duration_seconds', 'awscni_ipamd_startup_duration_seconds']],
    ['node-prefix.prom', ['awscni_ipamd_node_initialization_duration_seconds', 'awscni_ipamd_startup_duration_seconds']],
    ['node-quantiles.prom', ['awscni_aws_api_latency_ms']],
  ])('on %s', (name, lossyInReference) => {
    expectAgreementWithReference(fixture(name), lossyInReference);
  });
});

// The reference parser's output shape (prom2json-like): values are strings, summaries and
// histograms are flattened into quantiles/buckets maps, consecutive samples with equal labels merged.
interface ReferenceMetric {
  readonly labels?: Record<string, string>;
  readonly value?: string;
  readonly sum?: string;
  readonly count?: string;
  readonly bucket?: string;
  readonly quantiles?: Record<string, string>;
  readonly buckets?: Record<string, string>;
}
interface ReferenceFamily {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly metrics: ReferenceMetric[];
}
// The package ships no types; its CommonJS export is the parse function.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const parseWithReference = require('parse-prometheus-text-format') as (text: string) => ReferenceFamily[];

/** A sample as `name{labels}=value`, labels sorted, values as numbers, so both parsers' output compares. */
function sampleKey(name: string, labels: Record<string, string>, value: number): string {
  const sorted = Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',');
  return `${name}{${sorted}}=${String(value)}`;
}

/** The reference's samples of one family, or undefined where its flattening dropped labels. */
function referenceSamples(fam: ReferenceFamily, ours: MetricFamily): string[] | undefined {
  const keys: string[] = [];
  for (const m of fam.metrics) {
    const labels = m.labels ?? {};
    if (m.quantiles || m.buckets) {
      // Flattened: only faithful when the family has no labels besides quantile/le.
      if (ours.samples.some((s) => Object.keys(s.labels).some((k) => k !== 'quantile' && k !== 'le'))) return undefined;
      for (const [q, v] of Object.entries(m.quantiles ?? {})) keys.push(sampleKey(fam.name, { quantile: q }, Number(v)));
      for (const [le, v] of Object.entries(m.buckets ?? {})) keys.push(sampleKey(`${fam.name}_bucket`, { le }, Number(v)));
    }
    if (m.value !== undefined) keys.push(sampleKey(fam.name, labels, Number(m.value)));
    if (m.bucket !== undefined) keys.push(sampleKey(`${fam.name}_bucket`, labels, Number(m.bucket)));
    if (m.sum !== undefined) keys.push(sampleKey(`${fam.name}_sum`, labels, Number(m.sum)));
    if (m.count !== undefined) keys.push(sampleKey(`${fam.name}_count`, labels, Number(m.count)));
  }
  return keys.sort();
}

/**
 * Checks that both parsers find the same families, types, help and samples. `lossyInReference`
 * names the families whose labels the reference drops (labeled histograms, labeled summaries with
 * quantiles): for those only name, type and help are compared, and the list must be exact.
 */
function expectAgreementWithReference(text: string, lossyInReference: string[]): void {
  const ours = parseExposition(text);
  const reference = parseWithReference(text);

  expect(reference.map((f) => f.name)).toEqual([...ours.keys()]);
  const lossy: string[] = [];
  for (const refFamily of reference) {
    const ourFamily = family(ours, refFamily.name);
    expect([refFamily.name, ourFamily.type.toUpperCase(), ourFamily.help ?? '']).toEqual([refFamily.name, refFamily.type, refFamily.help]);
    const expected = referenceSamples(refFamily, ourFamily);
    if (expected === undefined) {
      lossy.push(refFamily.name);
      continue;
    }
    const actual = ourFamily.samples.map((s) => sampleKey(s.name, s.labels, s.value)).sort();
    expect(actual).toEqual(expected);
  }
  expect(lossy).toEqual(lossyInReference);
}
