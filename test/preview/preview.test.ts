/**
 * `npm run preview` end to end, checked in a real browser: the example app is synthesized, the bundled
 * collector runs against the simulated cluster on loopback, and headless chromium loads dashboard.html.
 * The page must show every widget of the synthesized dashboard where its grid position puts it, and the
 * numbers the collector published, checked against figures computed by hand from the fixtures.
 *
 * Skipped, with a message, when chromium is missing and cannot be installed (not root, or apt-get
 * failed): a fresh clone still passes. Under CI (CI=true, root on Debian) a missing chromium is installed
 * first, and one that cannot be is a failure.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PreviewResult, buildPreview } from '../../preview/build-preview';
import { HeadlessChromium, INSTALL_COMMAND, ensureChromium, findChromium } from '../../preview/chromium';
import { COLUMN_PX, GUTTER_PX, ROW_PX, pageSize } from '../../preview/render-dashboard';

const PROJECT_DIR = path.resolve(__dirname, '..', '..');
/**
 * The browser; undefined (and the suite skipped) when it is missing. Only CI (CI=true, root on Debian)
 * installs a missing one here: a developer's `npm test` never runs apt-get behind their back.
 */
const chromium = ((): string | undefined => {
  try {
    // Synchronous on purpose: whether the suite runs must be known while jest collects it.
    if (!process.env.CI) {
      const found = findChromium();
      if (!found) throw new Error(`chromium is not installed: run \`sudo apt-get update && sudo ${INSTALL_COMMAND}\` (CI=true installs it as root)`);
      return found;
    }
    return ensureChromium((line) => process.stderr.write(`test/preview: ${line}\n`));
  } catch (err) {
    // Under CI a browser that cannot be installed is a failure, not a skip: the page checks must run there.
    if (process.env.CI) throw err;
    // eslint-disable-next-line no-console
    console.warn(`test/preview skipped: ${(err as Error).message}`);
    return undefined;
  }
})();
const describeWithBrowser = chromium ? describe : describe.skip;

/** A widget as the synthesized template states it, read here without the preview's own reader. */
interface TemplateWidget {
  type: string;
  x: number;
  y: number;
  width: number;
  height: number;
  properties: { title?: string; markdown?: string; view?: string };
}

/** What the browser shows of one widget. */
interface PageWidget {
  title: string;
  text: string;
  rect: { left: number; top: number; width: number; height: number };
}

interface PageFacts {
  grid: { left: number; top: number };
  widgets: PageWidget[];
  numbers: Array<{ label: string; value: string }>;
  legends: string[];
  alarms: Array<{ name: string; state: string }>;
}

// Runs in the page: everything as laid out and rendered by chromium.
const READ_PAGE = `(() => {
  const box = (e) => { const r = e.getBoundingClientRect(); return { left: r.left, top: r.top, width: r.width, height: r.height }; };
  const grid = box(document.querySelector('main.grid'));
  return {
    grid,
    widgets: [...document.querySelectorAll('section.widget')].map((w) => ({
      title: w.querySelector('.widget-title')?.innerText ?? '',
      text: w.innerText,
      rect: box(w),
    })),
    numbers: [...document.querySelectorAll('.number')].map((n) => ({
      label: n.querySelector('.number-label').innerText,
      value: n.querySelector('.number-value').innerText,
    })),
    legends: [...document.querySelectorAll('.legend-item')].map((l) => l.innerText),
    alarms: [...document.querySelectorAll('.alarm')].map((a) => ({ name: a.querySelector('.alarm-name').innerText, state: a.dataset.state })),
  };
})()`;

describeWithBrowser('npm run preview in headless chromium', () => {
  let outDir: string;
  let result: PreviewResult;
  let templateWidgets: TemplateWidget[];
  let page: PageFacts;

  beforeAll(async () => {
    // GIVEN chromium (installed above when missing and this is root)
    outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'preview-test-'));
    // WHEN the preview is built, and its page loaded in the browser
    result = await buildPreview({ projectDir: PROJECT_DIR, outDir, chromium: chromium! });
    templateWidgets = widgetsOfTemplate(path.join(result.assemblyDir, 'CniMetricsHelperExample.template.json'));
    const browser = await HeadlessChromium.launch(chromium!);
    try {
      await browser.open(`file://${result.htmlPath}`, pageSize(result.page));
      page = await browser.evaluate<PageFacts>(READ_PAGE);
    } finally {
      await browser.close();
    }
  }, 120_000);

  afterAll(() => {
    if (outDir) fs.rmSync(outDir, { recursive: true, force: true });
  });

  test('the page shows every widget of the synthesized dashboard, with its title, in the template order', () => {
    expect(templateWidgets.length).toBeGreaterThan(5);
    expect(page.widgets).toHaveLength(templateWidgets.length);
    templateWidgets.forEach((widget, i) => {
      if (widget.properties.title) expect(page.widgets[i].title).toBe(widget.properties.title);
      if (widget.type === 'text') expect(page.widgets[i].text).toContain('Amazon VPC CNI metrics: cluster my-cluster');
    });
    const titles = page.widgets.map((w) => w.title);
    expect(titles).toEqual(expect.arrayContaining(['Cluster now', 'Capacity: ENIs and IPs', 'IP and ENI utilization', 'Collector health']));
  });

  test('each widget sits where its x, y, width and height put it on the 24-column grid, and none overlap', () => {
    templateWidgets.forEach((widget, i) => {
      const { rect } = page.widgets[i];
      expect(rect.left - page.grid.left).toBeCloseTo(widget.x * COLUMN_PX + GUTTER_PX / 2, 0);
      expect(rect.top - page.grid.top).toBeCloseTo(widget.y * ROW_PX + GUTTER_PX / 2, 0);
      expect(rect.width).toBeCloseTo(widget.width * COLUMN_PX - GUTTER_PX, 0);
      expect(rect.height).toBeCloseTo(widget.height * ROW_PX - GUTTER_PX, 0);
    });
    // Full-width widgets span the grid: 24 columns of 52 px on the 1280 px page.
    const full = templateWidgets.findIndex((w) => w.width === 24);
    expect(page.widgets[full].rect.width).toBeCloseTo(24 * 52 - 8, 0);
    for (let a = 0; a < page.widgets.length; a++) {
      for (let b = a + 1; b < page.widgets.length; b++) {
        const r = page.widgets[a].rect;
        const s = page.widgets[b].rect;
        const overlap = r.left < s.left + s.width && s.left < r.left + r.width && r.top < s.top + s.height && s.top < r.top + r.height;
        expect(overlap).toBe(false);
      }
    }
  });

  test('the Number widget shows the latest figures the collector published, as computed by hand from the fixtures', () => {
    const shown = Object.fromEntries(page.numbers.map((n) => [n.label, n.value]));
    // Last cycle of the scenario (preview/simulated-cluster.ts) over node-a, node-b, node-prefix:
    expect(shown).toEqual({
      eniMaxAvailable: '10', // awscni_eni_max 4 + 3 + 3
      eniAllocated: '6', // awscni_eni_allocated 2 + 3 + 1 (node-a released its third ENI)
      maxIPAddresses: '515', // awscni_ip_max 56 + 27 + 432
      totalIPAddresses: '103', // awscni_total_ip_addresses 28 + 27 + 48
      assignIPAddresses: '79', // awscni_assigned_ip_addresses 20 + 26 + 33
      ipamdErr: '2', // Sum of the last cycle's delta: node-b's increaseIPPoolAllocIPAddressesFailed 5 -> 7
      cniVersionCount: '1', // awscni_build_info version="v1.20.1" on all three nodes: one distinct version
      maxNodeIPUtilization: '96.3', // node-b: 100 * 26 / 27 = 96.296 (node-a 20 / 56, node-prefix 33 / 432 are emptier)
      nodesAtIPCapacity: '0', // no node has assigned >= awscni_ip_max (26 < 27 on the fullest)
    });
    // And they are what CloudWatch stored for the last cycle.
    const lastCycle = result.run.cycleTimestamps[result.run.cycleTimestamps.length - 1];
    const stored = result.run.datums.filter((d) => d.Timestamp?.getTime() === lastCycle && d.MetricName in shown);
    const published = Object.fromEntries(Object.entries(shown).filter(([, value]) => value !== 'no data'));
    expect(Object.fromEntries(stored.map((d) => [d.MetricName, d.MetricName === 'maxNodeIPUtilization' ? d.Value?.toFixed(1) : String(d.Value)])))
      .toEqual(published);
  });

  test('graphs carry the series over the cycles: metric math labels from hand-computed utilization, and "no data" where nothing was published', () => {
    // 100 * assigned / total per cycle: 64/103, 76/103, 89/117, 95/117, 86/117, 79/103
    // = 62.136, 73.786, 76.068, 81.197, 73.504, 76.699; average 73.898, maximum 81.197.
    expect(page.legends).toContain('IP utilization % (avg: 73.9, max: 81.2)');
    // 100 * eniAllocated / eniMaxAvailable: 6/10, 6/10, 7/10, 7/10, 7/10, 6/10: average 65, maximum 70.
    expect(page.legends).toContain('ENI utilization % (avg: 65, max: 70)');
    // No fixture ipamd emits quantiles, and no datum was dropped: CloudWatch has nothing for these.
    expect(page.legends).toContain('awsAPILatencyMaxP99 (no data)');
    expect(page.legends).toContain('collectorDatumsDropped (no data)');
    expect(page.legends).toContain('addReqCount');
    expect(result.run.cycleTimestamps).toHaveLength(6);
  });

  test('the alarm widget shows each alarm of the template with its state on the simulated periods', () => {
    // IP utilization > 80 for 3 of 3: only 81.197 of the last three (81.197, 73.504, 76.699) breaches: OK.
    // Collector silent < 1 scraped node: 3 nodes every cycle: OK.
    expect(page.alarms).toEqual([
      { name: 'my-cluster-CNI-IpUtilization', state: 'OK' },
      { name: 'my-cluster-CNI-CollectorSilent', state: 'OK' },
    ]);
  });

  test('dashboard.png is the browser\'s picture of the whole page, small enough for the README', () => {
    const png = fs.readFileSync(result.pngPath);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    // IHDR: width and height, big-endian, at bytes 16 and 20.
    expect(png.readUInt32BE(16)).toBe(1280);
    expect(png.readUInt32BE(20)).toBe(pageSize(result.page).height);
    expect(png.length).toBeLessThan(300 * 1024);
  });
});

/** The dashboard widgets of a template, its DashboardBody joined with every token replaced by "X". */
function widgetsOfTemplate(templateFile: string): TemplateWidget[] {
  const template = JSON.parse(fs.readFileSync(templateFile, 'utf8')) as { Resources: Record<string, { Type: string; Properties: { DashboardBody: unknown } }> };
  const dashboard = Object.values(template.Resources).find((r) => r.Type === 'AWS::CloudWatch::Dashboard');
  if (!dashboard) throw new Error(`${templateFile} has no dashboard`);
  const body = dashboard.Properties.DashboardBody as string | { 'Fn::Join': [string, unknown[]] };
  const text = typeof body === 'string' ? body : body['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : 'X')).join('');
  return (JSON.parse(text) as { widgets: TemplateWidget[] }).widgets;
}
