import { failureReason, summarizeNodeFailures } from '../../runtime/node-failures';

describe('failureReason', () => {
  // Error texts as runtime/scrape.ts writes them, prefixed with the node as its failed() does.
  const prefix = 'node ip-10-0-1-5.ec2.internal (pod kube-system/aws-node-x7k2p): ';
  test.each([
    ['timed out after 3000 ms while reading the body (GET http://10.0.1.5:61678/metrics)', 'timeout'],
    ['aborted while connecting and waiting for response headers (GET http://10.0.1.5:61678/metrics)', 'aborted'],
    ['connection refused (connect ECONNREFUSED 10.0.1.5:61678): is ipamd listening on that port? (GET http://10.0.1.5:61678/metrics)', 'connection refused'],
    ['connection reset by the peer while reading the body (after 512 bytes) (GET http://10.0.1.5:61678/metrics)', 'connection reset'],
    ['connection closed after 100 bytes, before the body was complete (GET http://10.0.1.5:61678/metrics)', 'connection closed'],
    ['HTTP 503 Service Unavailable: error trying to reach service: timed out (GET https://api/…/proxy/metrics)', 'HTTP 503'],
    ['payload larger than 4194304 bytes after gzip decoding (GET http://10.0.1.5:61678/metrics)', 'payload too large'],
    ['invalid exposition text at line 4: invalid metric name (GET http://10.0.1.5:61678/metrics)', 'invalid payload'],
    ['the pod has no podIP yet, so direct scraping cannot reach it', 'no pod IP'],
    ['getaddrinfo ENOTFOUND example while connecting and waiting for response headers', 'other'],
  ])('%s → %s', (cause, reason) => {
    expect(failureReason(prefix + cause)).toBe(reason);
  });

  test('an HTTP status wins over words in the body it quotes', () => {
    expect(failureReason(`${prefix}HTTP 500 Internal Server Error: upstream timed out`)).toBe('HTTP 500');
  });
});

describe('summarizeNodeFailures', () => {
  test('names at most the limit, in order, and counts every failure once by reason', () => {
    const failed = ['timed out', 'HTTP 500', 'timed out', 'HTTP 404', 'timed out'].map((cause, i) => ({
      nodeName: `node-${i}`, podName: `aws-node-${i}`, ok: false, error: `node node-${i} (pod kube-system/aws-node-${i}): ${cause}`, durationMs: 1,
    }));
    const summary = summarizeNodeFailures(failed, 2);
    expect(summary.failed).toBe(5);
    expect(summary.named.map((n) => n.node)).toEqual(['node-0', 'node-1']);
    expect(summary.byReason).toEqual({ timeout: 3, 'HTTP 500': 1, 'HTTP 404': 1 });
  });
});
