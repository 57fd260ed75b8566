/**
 * The status page in a real browser: the worker runs on real servers (Redis, the SQS/SNS
 * emulator) and processes a stream of SES events published through SNS, one undecodable
 * message goes to the DLQ, and headless Chromium (Debian's, driven by playwright-core) loads
 * `GET /`. The charts must render with the data: a line per event kind, the rate lines against
 * their thresholds, bars for the DLQ, the jobs and the suppression list. The page asks for
 * nothing but itself (the machine it runs on may be offline).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import pino from 'pino';
import { createSesTopology, type SesTopology } from '../../adapters/emulator/topology';
import type { ReputationReport } from '../../domain/reputation';
import { loadConfig } from '../../worker/config';
import { startWorker, type RunningWorker } from '../../worker/main';
import { eventually } from '../support/await';
import { useServers } from '../support/environment';
import { sdkClientConfig } from '../support/servers';
import { sesEventJson, type SyntheticEvent } from '../support/sesEvents';
import { publishAll, queueDepth, sendAll } from '../support/sqs';

const CHROMIUM = '/usr/bin/chromium';
let topology: SesTopology;
let worker: RunningWorker;
let browser: Browser;
let base: string;

// Before useServers's own afterAll (jest runs them in the order declared), which stops Redis.
afterAll(async () => {
  await browser?.close();
  await worker?.stop();
});
const servers = useServers();

// Over the last two and a half hours: 200 sends, 180 deliveries, 15 hard bounces (7.5 %: warn),
// 5 soft, 30 opens, 10 clicks.
const MINUTE = 60_000;
const now = Date.now();
let n = 0;
const spread = (kind: SyntheticEvent['kind'], count: number): SyntheticEvent[] =>
  Array.from({ length: count }, (_, i) => ({
    kind,
    n: n++,
    at: new Date(now - ((i * 7) % 150) * MINUTE - 5_000),
  }));
const stream = [
  ...spread('send', 200),
  ...spread('delivery', 180),
  ...spread('hardBounce', 15),
  ...spread('softBounce', 5),
  ...spread('open', 30),
  ...spread('click', 10),
];

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
  topology = await createSesTopology(servers.sqs, servers.sns, { name: 'status-page' });
  const { endpoint, credentials } = sdkClientConfig(servers.emulator);
  worker = await startWorker({
    config: loadConfig({
      SQS_QUEUE_URL: topology.queueUrl,
      SQS_DLQ_URL: topology.dlqUrl,
      AWS_REGION: servers.emulator.region,
      REDIS_URL: servers.redisServer.url,
      BULLMQ_PREFIX: '{status-page}',
      HTTP_PORT: '0',
      SQS_WAIT_TIME_SECONDS: '1',
      SNS_VERIFY_SIGNATURES: 'false',
      REPUTATION_EVALUATE_SECONDS: '1',
    }),
    log: pino({ level: 'silent' }),
    sqsEndpoint: { endpoint, credentials },
  });
  base = `http://127.0.0.1:${worker.httpPort}`;

  await publishAll(servers.sns, topology.topicArn, stream.map(sesEventJson));
  await sendAll(servers.sqs, topology.queueUrl, ['this is not an SES notification']);
  await eventually(async () => {
    const report = (await (await fetch(`${base}/reputation`)).json()) as ReputationReport;
    const counts = report.dimensions[0]?.windows.find((w) => w.window === '24h')?.counts;
    return counts?.send === 200 && counts.delivery === 180 && counts.hardBounce === 15;
  }, 'the stream counted in the reputation windows');
  await eventually(
    async () => (await queueDepth(servers.sqs, topology.dlqUrl)).visible === 1,
    'the poison message in the DLQ',
  );
  await eventually(async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    return /ses_reputation_state\{dimension="account",name="all"\} 1/.test(text);
  }, 'the evaluator to set the state gauge');

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

async function open(path: string): Promise<{ page: Page; requests: string[]; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  const response = await page.goto(`${base}${path}`, { waitUntil: 'load' });
  expect(response?.status()).toBe(200);
  expect(response?.headers()['content-type']).toMatch(/^text\/html/);
  return { page, requests, errors };
}

/** Each matching polyline's points, as the browser parsed them (its SVGPointList). */
type Parsed = { readonly points: Iterable<{ readonly x: number; readonly y: number }> };
const pointsOf = (page: Page, selector: string) =>
  page.$$eval(selector, (lines) =>
    lines.map((line) =>
      Array.from((line as unknown as Parsed).points).map((p) => ({ x: p.x, y: p.y })),
    ),
  );

describe('GET / in headless Chromium', () => {
  it('renders the events-per-minute chart with a line per kind, carrying the data', async () => {
    const { page, requests, errors } = await open('/');
    try {
      expect(await page.title()).toBe('ses-worker status');
      // To look at it: STATUS_PAGE_SCREENSHOT=/tmp/status.png npx jest test/e2e/status-page.test.ts
      const screenshot = process.env.STATUS_PAGE_SCREENSHOT;
      if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
      for (const kind of ['send', 'delivery', 'bounce', 'open', 'click']) {
        const lines = await pointsOf(page, `polyline[data-series="${kind}"]`);
        expect({ kind, lines: lines.length }).toEqual({ kind, lines: 1 });
        const points = lines[0]!;
        expect(points).toHaveLength(180); // the default three hours, a point a minute
        // Data: not every point on the baseline.
        const ys = points.map((p) => p.y);
        expect(Math.min(...ys)).toBeLessThan(Math.max(...ys));
      }
      // Kinds that did not happen draw no line.
      expect(await page.$$('polyline[data-series="complaint"]')).toHaveLength(0);
      // The browser laid the charts out: every one has a size.
      const charts = await page.locator('svg.chart').all();
      expect(charts.length).toBeGreaterThanOrEqual(6);
      for (const chart of charts) {
        const box = await chart.boundingBox();
        expect((box?.width ?? 0) * (box?.height ?? 0)).toBeGreaterThan(0);
      }
      expect(await page.textContent('body')).toContain('440 events in the period');
      expect(errors).toEqual([]);
      // Nothing fetched but the page itself: no external asset, no script.
      expect(requests).toEqual([`${base}/`]);
    } finally {
      await page.close();
    }
  });

  it('draws the bounce and complaint rates against their thresholds, and shows the state', async () => {
    const { page } = await open('/');
    try {
      const bounce = await pointsOf(page, 'polyline[data-series="bounce rate"]');
      expect(bounce.length).toBeGreaterThanOrEqual(1);
      expect(bounce.flat().length).toBeGreaterThanOrEqual(2);
      // The line sits above the warn threshold (7.5 % > 5 %): smaller y is higher up.
      const y1 = async (label: string) =>
        Number(await page.locator(`line[data-threshold="${label}"]`).getAttribute('y1'));
      const warnY = await y1('warn 5 %');
      const criticalY = await y1('critical 10 %');
      const last = bounce.flat().at(-1)!;
      expect(last.y).toBeLessThan(warnY);
      expect(last.y).toBeGreaterThan(criticalY);
      expect(await page.$$('polyline[data-series="complaint rate"]')).toHaveLength(1);
      expect(await page.getAttribute('header [data-state]', 'data-state')).toBe('warn');
      expect(await page.locator('tbody tr').first().locator('td').allTextContents()).toEqual([
        'account',
        'all',
        'warn',
        '7.50 %',
        '0 %',
        '200',
        '7.50 %',
        '0 %',
        '200',
      ]);
    } finally {
      await page.close();
    }
  });

  it('shows the DLQ depth, the jobs by queue and the suppression list as bars', async () => {
    const { page } = await open('/');
    try {
      const bars: { figure: string; label: string | null; value: string | null; width: number }[] =
        [];
      for (const figure of await page.locator('figure').all()) {
        const caption = (await figure.locator('figcaption').textContent()) ?? '';
        for (const rect of await figure.locator('rect[data-bar]').all()) {
          bars.push({
            figure: caption,
            label: await rect.getAttribute('data-bar'),
            value: await rect.getAttribute('data-value'),
            // A zero-width bar has no box at all.
            width: (await rect.boundingBox())?.width ?? 0,
          });
        }
      }
      const bar = (figure: string, label: string) =>
        bars.find((b) => b.figure.startsWith(figure) && b.label === label);
      expect(bar('Messages in the DLQ', 'messages')).toMatchObject({ value: '1' });
      expect(bar('Messages in the DLQ', 'messages')!.width).toBeGreaterThan(0);
      for (const queue of ['suppression', 'inbound', 'metrics'])
        expect(bar('Failed jobs by queue', queue)).toMatchObject({ value: '0', width: 0 });
      const suppressed = bar('Suppressed addresses by reason', 'total');
      expect(Number(suppressed?.value)).toBeGreaterThanOrEqual(15);
      expect(suppressed!.width).toBeGreaterThan(0);
    } finally {
      await page.close();
    }
  });

  it('?hours=1 draws an hour, a point a minute', async () => {
    const { page } = await open('/?hours=1');
    try {
      const [send] = await pointsOf(page, 'polyline[data-series="send"]');
      expect(send).toHaveLength(60);
    } finally {
      await page.close();
    }
  });
});

describe('GET /reputation', () => {
  it('answers JSON with the rates, the volume and the state of each dimension', async () => {
    const response = await fetch(`${base}/reputation`);
    expect(response.status).toBe(200);
    const report = (await response.json()) as ReputationReport;
    expect(report.thresholds.bounce).toEqual({ warn: 0.05, critical: 0.1 });
    expect(report.dimensions.map((d) => `${d.dimension.type}=${d.dimension.name}`)).toEqual([
      'account=all',
      'configurationSet=marketing',
      'identity=example.com',
    ]);
    const day = report.dimensions[0]!.windows.find((w) => w.window === '24h')!;
    expect(day).toMatchObject({
      volume: 200,
      volumeFrom: 'sends',
      bounceRate: 0.075,
      complaintRate: 0,
      enoughVolume: true,
      state: 'warn',
    });
    expect(report.dimensions[0]!.state).toBe('warn');
    // The evaluator recorded (and announced) the change.
    expect(report.dimensions[0]!.previousState).toBe('warn');
  });
});
