/**
 * End to end: the real service and a real Prometheus on 127.0.0.1, with the generated scrape config and
 * rules (1 s scrape and evaluation). Sends predictions and feedback, then reads the recording rules back
 * through Prometheus's HTTP API.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import {
  ALERT_NAMES,
  inferenceDashboard,
  inferenceRules,
  renderMonitoringFiles,
} from '../../charts/src/monitoring';
import { freePort, promQuery, start, Started, stop, waitFor } from './processes';
import { serviceCommand } from '../../bench/src/harness';
import { requireTool } from './tools';

jest.setTimeout(180_000);

const MODEL_VERSION = '7';
const rules = inferenceRules();
const names = rules.names;
const quality = names.quality['1h'];

describe('monitoring end to end: service + Prometheus with the generated config and rules', () => {
  let dir: string;
  let service: Started | undefined;
  let prometheus: Started | undefined;
  let serviceUrl: string;
  let promUrl: string;

  const query = (expr: string) => promQuery(promUrl, expr);

  beforeAll(async () => {
    const prometheusBin = requireTool('prometheus');
    dir = mkdtempSync(join(tmpdir(), 'monitoring-e2e-'));
    const [servicePort, promPort] = [await freePort(), await freePort()];
    serviceUrl = `http://127.0.0.1:${servicePort}`;
    promUrl = `http://127.0.0.1:${promPort}`;

    const files = renderMonitoringFiles(
      {},
      {
        target: `127.0.0.1:${servicePort}`,
        scrapeInterval: '1s',
        evaluationInterval: '1s',
        ruleFiles: [join(dir, 'rules.yml')],
      },
    );
    writeFileSync(join(dir, 'rules.yml'), files['rules.yml']);
    writeFileSync(join(dir, 'prometheus.yml'), files['prometheus.yml']);

    service = start(process.execPath, serviceCommand().args, {
      ...process.env,
      PORT: String(servicePort),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      MODEL_NAME: 'cats-dogs-classifier',
      MODEL_VERSION,
      INFERENCE_WORKERS: '1',
      DRAIN_DELAY_MS: '0',
    });
    prometheus = start(prometheusBin, [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--log.level=warn',
    ]);
    await waitFor(
      'the service to be ready',
      90_000,
      async () => ((await fetch(`${serviceUrl}/ready`)).status === 200 ? true : undefined),
      service,
    );
    await waitFor(
      'Prometheus to be ready',
      60_000,
      async () => ((await fetch(`${promUrl}/-/ready`)).status === 200 ? true : undefined),
      prometheus,
    );
  });

  afterAll(async () => {
    await Promise.all([stop(service), stop(prometheus)]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('records p99 latency, predictions per class and accuracy from feedback as sent', async () => {
    const labels = ((await (await fetch(`${serviceUrl}/model`)).json()) as { labels: string[] }).labels;
    expect(labels.length).toBeGreaterThanOrEqual(2);

    // Distinct images, so the untrained model is free to predict different classes.
    const images = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        sharp({
          create: {
            width: 64,
            height: 48,
            channels: 3,
            background: { r: (i * 37) % 256, g: (i * 91) % 256, b: (i * 53) % 256 },
          },
        })
          .png()
          .toBuffer(),
      ),
    );
    const predicted: Array<{ id: string; label: string }> = [];
    const predict = async (image: Buffer): Promise<void> => {
      const res = await fetch(`${serviceUrl}/predict`, {
        method: 'POST',
        headers: { 'Content-Type': 'image/png' },
        body: image,
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { predictions: Array<{ id: string; label: string }> };
      predicted.push({ id: body.predictions[0].id, label: body.predictions[0].label });
    };

    // First half, then wait until Prometheus has scraped it, then the rest: the histogram's rate needs
    // an increase between two scrapes.
    for (const image of images.slice(0, 12)) await predict(image);
    await waitFor('the first /predict requests to be scraped', 30_000, async () =>
      (await query('http_requests_total{route="/predict"}')).length > 0 ? true : undefined,
    );
    for (const image of images.slice(12)) await predict(image);

    // Feedback: the first 18 confirm the prediction, the last 6 name another class: accuracy 0.75.
    const confusion = new Map<string, number>();
    for (const [i, p] of predicted.entries()) {
      const truth = i < 18 ? p.label : labels.find((l) => l !== p.label)!;
      const res = await fetch(`${serviceUrl}/feedback`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ requestId: p.id, label: truth }),
      });
      expect(res.status).toBe(200);
      confusion.set(`${truth}|${p.label}`, (confusion.get(`${truth}|${p.label}`) ?? 0) + 1);
    }
    // A duplicate is counted once.
    const dup = await fetch(`${serviceUrl}/feedback`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ requestId: predicted[0].id, label: predicted[0].label }),
    });
    expect(dup.status).toBe(200);

    // p99 recording rule has a value.
    const p99 = await waitFor(`${names.requestLatency[0.99]} to have a value`, 60_000, async () => {
      const r = await query(names.requestLatency[0.99]);
      const v = r.length === 1 ? Number(r[0].value[1]) : NaN;
      return Number.isFinite(v) ? v : undefined;
    });
    expect(p99).toBeGreaterThan(0);
    expect(p99).toBeLessThanOrEqual(10);

    // Predictions per class match what the service answered.
    const sent: Record<string, number> = {};
    for (const p of predicted) sent[p.label] = (sent[p.label] ?? 0) + 1;
    const perClass = await waitFor('all predictions to be scraped', 30_000, async () => {
      const r = await query('sum by (label) (inference_predictions_total{job="cats-dogs-classifier"})');
      const got = Object.fromEntries(r.map((s) => [s.metric.label, Number(s.value[1])]));
      return Object.values(got).reduce((a, b) => a + b, 0) === predicted.length ? got : undefined;
    });
    expect(perClass).toEqual(sent);
    const rated = await waitFor(`${names.predictionsByClass} for every class`, 30_000, async () => {
      const r = await query(names.predictionsByClass);
      return r.length === Object.keys(sent).length ? r : undefined;
    });
    expect(rated.map((s) => s.metric.label).sort()).toEqual(Object.keys(sent).sort());
    expect(rated.every((s) => s.metric.model_version === MODEL_VERSION)).toBe(true);

    // Accuracy and the feedback count, from the recording rules.
    const feedbackCount = await waitFor(`${quality.feedback} to reach 24`, 30_000, async () => {
      const r = await query(`${quality.feedback}{model_version="${MODEL_VERSION}"}`);
      return r.length === 1 && Number(r[0].value[1]) === 24 ? 24 : undefined;
    });
    expect(feedbackCount).toBe(24);
    const accuracy = await waitFor(`${quality.accuracy} for 24 answers`, 30_000, async () => {
      const n = await query(`${quality.feedback}{model_version="${MODEL_VERSION}"}`);
      const r = await query(`${quality.accuracy}{model_version="${MODEL_VERSION}"}`);
      return n.length === 1 && Number(n[0].value[1]) === 24 && r.length === 1
        ? Number(r[0].value[1])
        : undefined;
    });
    expect(accuracy).toBeCloseTo(18 / 24, 10);

    // Recall per class equals what the confusion counts we sent give.
    const recall = await query(`${quality.recall}{model_version="${MODEL_VERSION}"}`);
    const trueLabels = [...new Set([...confusion.keys()].map((cell) => cell.split('|')[0]))].sort();
    expect(recall.map((s) => s.metric.class).sort()).toEqual(trueLabels);
    for (const s of recall) {
      const c = s.metric.class;
      let actual = 0;
      for (const [cell, n] of confusion) if (cell.split('|')[0] === c) actual += n;
      expect({ c, recall: Number(s.value[1]) }).toEqual({
        c,
        recall: (confusion.get(`${c}|${c}`) ?? 0) / actual,
      });
    }
  });

  it('evaluates every rule without errors and loads every alert', async () => {
    interface RuleState {
      name: string;
      type: 'alerting' | 'recording';
      health: string;
      lastError?: string;
    }
    const all = await waitFor('every rule to be evaluated', 30_000, async () => {
      const res = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as {
        data: { groups: Array<{ rules: RuleState[] }> };
      };
      const flat = res.data.groups.flatMap((g) => g.rules);
      return flat.length > 0 && flat.every((r) => r.health !== 'unknown') ? flat : undefined;
    });
    expect(all.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.lastError}`)).toEqual([]);
    expect(all.filter((r) => r.type === 'alerting')).toHaveLength(ALERT_NAMES.length);
    // Healthy traffic and one model version: nothing fires.
    const firing = await query('ALERTS{alertstate="firing"}');
    expect(firing).toEqual([]);
  });

  it('answers every dashboard query (the panels parse and name real series)', async () => {
    const dashboard = inferenceDashboard(rules);
    const failed: string[] = [];
    for (const panel of dashboard.panels) {
      for (const target of panel.targets ?? []) {
        await query(target.expr).catch((err: Error) => failed.push(`${panel.title}: ${err.message}`));
      }
    }
    expect(failed).toEqual([]);
    // The traffic, latency and quality panels have data after the first test's traffic.
    const withData = [
      'Requests per second by status',
      `Latency quantiles of ${rules.props.predictRoute}`,
      'Accuracy and macro F1',
    ];
    for (const title of withData) {
      const panel = dashboard.panels.find((p) => p.title === title);
      const results = await query(panel!.targets![0].expr);
      expect({ title, series: results.length > 0 }).toEqual({ title, series: true });
    }
  });
});
