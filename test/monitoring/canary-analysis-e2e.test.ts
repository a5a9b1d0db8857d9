/**
 * The canary analysis, end to end: the AnalysisTemplate synthesized for a canary InferenceService is run the way
 * the Argo Rollouts controller runs it, against a real Prometheus scraping real service processes.
 *
 * Four service processes stand in for the pods of two ReplicaSets. Prometheus labels their series with
 * `rollouts_pod_template_hash` as the ServiceMonitor's podTargetLabels does in a cluster: `stable` (the default
 * model), and three canaries: `same` (the same model), `mix` (the same weights with the labels swapped, so it
 * predicts the other class for every image) and `errors` (one worker and no queue, so concurrent requests get 503).
 *
 * How the verdict is computed, as Argo Rollouts does it (its Prometheus provider and its analysis loop):
 * 1. `{{args.canary-hash}}` / `{{args.stable-hash}}` in the query are replaced by the argument values
 *    (`renderAnalysisQuery`); the controller fills them from the ReplicaSets' pod template hashes.
 * 2. The query runs as an instant query; a vector result becomes `result`, the list of its sample values
 *    (float64; NaN stays NaN).
 * 3. `successCondition` and `failureCondition` are evaluated with `result` bound. When both are set, a
 *    measurement is Successful if success holds, Failed if failure holds, otherwise Inconclusive. NaN compares
 *    false, so NaN and an empty result are Inconclusive. The conditions the chart emits have one shape,
 *    `len(result) > 0 && result[0] <op> <number>`; `evaluateCondition` evaluates exactly that shape and throws
 *    on anything else, so a change of the emitted conditions cannot pass here unevaluated.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duration, Testing } from 'cdk8s';
import sharp from 'sharp';
import { stringify } from 'yaml';
import { Delivery, InferenceService, ModelSource } from '../../charts/src';
import {
  CANARY_HASH_ARG,
  POD_TEMPLATE_HASH_SERIES_LABEL,
  renderAnalysisQuery,
  STABLE_HASH_ARG,
} from '../../charts/src/monitoring';
import { serviceCommand } from '../../bench/src/harness';
import { buildDefaultModel } from '../../service/src/model/builders';
import { writeMlflowModelDir } from '../../service/src/model/format';
import { freePort, promQuery, sleep, start, Started, stop, waitFor } from './processes';
import { requireTool } from './tools';

jest.setTimeout(120_000);

type Phase = 'Successful' | 'Failed' | 'Inconclusive';

/** Evaluates `len(result) > 0 && result[0] <op> <number>` as expr-lang does for Argo Rollouts. */
function evaluateCondition(condition: string, result: readonly number[]): boolean {
  const m = /^len\(result\) > 0 && result\[0\] (<=|<|>=|>) (-?[0-9.]+(?:e-?[0-9]+)?)$/.exec(condition);
  if (!m) throw new Error(`condition '${condition}' has a shape this evaluator does not know`);
  if (result.length === 0) return false;
  const [v, limit] = [result[0]!, Number(m[2])];
  switch (m[1]) {
    case '<=':
      return v <= limit;
    case '<':
      return v < limit;
    case '>=':
      return v >= limit;
    default:
      return v > limit;
  }
}

interface Metric {
  name: string;
  successCondition: string;
  failureCondition: string;
  provider: { prometheus: { query: string } };
}

const WINDOW_SECONDS = 10;
const MIN_PREDICTIONS = 20;
// The canaries' analysis from the chart, with a short window for a 1 s scrape. Latency is judged loosely (5 s):
// on a shared CI machine the same model's p99 is not a property of the model.
const chart = Testing.chart();
new InferenceService(chart, 'Inference', {
  image: 'ghcr.io/example/model-gitops:0.1.0',
  modelSource: ModelSource.baked(),
  scrapeInterval: Duration.seconds(1), // as the Prometheus below scrapes
  delivery: Delivery.canary({
    analysis: { windowSeconds: WINDOW_SECONDS, minPredictions: MIN_PREDICTIONS, maxLatencyP99Seconds: 5 },
  }),
});
const template = Testing.synth(chart).find(
  (o) => o.kind === 'AnalysisTemplate' && o.metadata.name === 'cats-dogs-classifier-canary-metrics',
);
const metrics = template.spec.metrics as Metric[];

describe('canary analysis against a real Prometheus scraping stable and canary service processes', () => {
  let dir: string;
  const services: Record<string, { url: string; proc: Started; statuses: number[]; labels: string[] }> = {};
  let prometheus: Started | undefined;
  let promUrl: string;
  let stableMixDistance: number;

  /** Every metric's phase for one canary hash against `stable`, from one measurement. */
  async function measure(canary: string): Promise<Record<string, { phase: Phase; result: number[] }>> {
    const out: Record<string, { phase: Phase; result: number[] }> = {};
    for (const m of metrics) {
      const query = renderAnalysisQuery(m.provider.prometheus.query, {
        [CANARY_HASH_ARG]: canary,
        [STABLE_HASH_ARG]: 'stable',
      });
      const result = (await promQuery(promUrl, query)).map((s) => Number(s.value[1]));
      const phase: Phase = evaluateCondition(m.successCondition, result)
        ? 'Successful'
        : evaluateCondition(m.failureCondition, result)
          ? 'Failed'
          : 'Inconclusive';
      out[m.name] = { phase, result };
    }
    return out;
  }

  beforeAll(async () => {
    const prometheusBin = requireTool('prometheus');
    dir = mkdtempSync(join(tmpdir(), 'canary-analysis-'));
    // The canary with a different class mix: the default model's weights with its two labels swapped.
    const swapped = join(dir, 'swapped-model');
    writeMlflowModelDir(swapped, buildDefaultModel({ labels: ['dog', 'cat'] }));

    const roles: Record<string, NodeJS.ProcessEnv> = {
      stable: {},
      same: {},
      mix: { MODEL_DIR: swapped },
      errors: { INFERENCE_QUEUE_MAX: '0' },
    };
    const promPort = await freePort();
    promUrl = `http://127.0.0.1:${promPort}`;
    for (const [role, env] of Object.entries(roles)) {
      const port = await freePort();
      services[role] = {
        url: `http://127.0.0.1:${port}`,
        statuses: [],
        labels: [],
        proc: start(process.execPath, serviceCommand().args, {
          ...process.env,
          PORT: String(port),
          HOST: '127.0.0.1',
          LOG_LEVEL: 'silent',
          INFERENCE_WORKERS: '1',
          DRAIN_DELAY_MS: '0',
          ...env,
        }),
      };
    }
    writeFileSync(
      join(dir, 'prometheus.yml'),
      stringify({
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        scrape_configs: [
          {
            job_name: 'cats-dogs-classifier',
            static_configs: Object.entries(services).map(([role, s]) => ({
              targets: [new URL(s.url).host],
              labels: { [POD_TEMPLATE_HASH_SERIES_LABEL]: role },
            })),
          },
        ],
      }),
    );
    prometheus = start(prometheusBin, [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--log.level=warn',
    ]);
    for (const [role, s] of Object.entries(services)) {
      await waitFor(
        `the ${role} service to be ready`,
        60_000,
        async () => ((await fetch(`${s.url}/ready`)).status === 200 ? true : undefined),
        s.proc,
      );
    }
    await waitFor(
      'Prometheus to be ready',
      30_000,
      async () => ((await fetch(`${promUrl}/-/ready`)).status === 200 ? true : undefined),
      prometheus,
    );

    // Seeded noise images; the traffic is the images the stable model predicts, 3 of one class to 1 of the other
    // (or all of one class when it predicts only one), so the swapped canary's mix differs by design.
    let seed = 12345;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 256;
    const candidates = await Promise.all(
      Array.from({ length: 16 }, () =>
        sharp(Buffer.from(Array.from({ length: 32 * 32 * 3 }, random)), {
          raw: { width: 32, height: 32, channels: 3 },
        })
          .png()
          .toBuffer(),
      ),
    );
    const byClass = new Map<string, Buffer[]>();
    for (const image of candidates) {
      const label = await predict(services.stable!.url, image);
      byClass.set(label!, [...(byClass.get(label!) ?? []), image]);
    }
    const [major, minor] = [...byClass.values()].sort((a, b) => b.length - a.length);
    const traffic = minor ? [...major!.slice(0, 3), minor[0]!] : major!.slice(0, 4);
    const majorShare = minor ? 0.75 : 1;
    stableMixDistance = Math.abs(2 * majorShare - 1);

    // Steady traffic to every process for two windows, then the measurement while it still flows.
    const until = Date.now() + 2 * WINDOW_SECONDS * 1000 + 2000;
    const drive = async (role: string, concurrency: number): Promise<void> => {
      const s = services[role]!;
      for (let i = 0; Date.now() < until; i++) {
        const answers = await Promise.all(
          Array.from({ length: concurrency }, (_, j) =>
            predict(s.url, traffic[(i + j) % traffic.length]!, s),
          ),
        );
        s.labels.push(...answers.filter((l): l is string => l !== undefined));
        await sleep(40);
      }
    };
    await Promise.all([drive('stable', 1), drive('same', 1), drive('mix', 1), drive('errors', 6)]);
  });

  afterAll(async () => {
    await Promise.all([...Object.values(services).map((s) => stop(s.proc)), stop(prometheus)]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** POSTs an image to /predict; returns the top label of a 200, records the status. */
  async function predict(
    url: string,
    image: Buffer,
    record?: { statuses: number[] },
  ): Promise<string | undefined> {
    const res = await fetch(`${url}/predict`, {
      method: 'POST',
      headers: { 'Content-Type': 'image/png' },
      body: image,
    });
    record?.statuses.push(res.status);
    const body = (await res.json()) as { predictions?: Array<{ label: string }> };
    return res.status === 200 ? body.predictions?.[0]?.label : undefined;
  }

  it('passes a canary that serves the same model', async () => {
    const m = await measure('same');
    expect(Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.phase]))).toEqual({
      'error-ratio': 'Successful',
      'latency-p99': 'Successful',
      'prediction-mix-distance': 'Successful',
    });
    expect(m['error-ratio']!.result).toEqual([0]);
    expect(m['prediction-mix-distance']!.result[0]).toBeLessThan(0.2);
  });

  it('fails a canary whose model predicts a different class mix, at the distance the answers show', async () => {
    expect(stableMixDistance).toBeGreaterThan(0.2); // the precondition this case is built on
    const m = await measure('mix');
    expect(m['prediction-mix-distance']!.phase).toBe('Failed');
    expect(m['prediction-mix-distance']!.result[0]).toBeCloseTo(stableMixDistance, 1);
    expect(m['error-ratio']!.phase).toBe('Successful');
  });

  it('fails a canary that answers errors', async () => {
    const s = services.errors!;
    const errorShare = s.statuses.filter((x) => x >= 500).length / s.statuses.length;
    expect(errorShare).toBeGreaterThan(0.2); // the precondition: the process really answered 5xx
    const m = await measure('errors');
    expect(m['error-ratio']!.phase).toBe('Failed');
    expect(m['error-ratio']!.result[0]).toBeGreaterThan(0.05);
  });

  it('calls a canary without traffic inconclusive, never successful', async () => {
    const m = await measure('no-such-hash');
    expect(Object.values(m).map((v) => v.phase)).toEqual(['Inconclusive', 'Inconclusive', 'Inconclusive']);
  });

  it('refuses a condition shape it cannot evaluate (the evaluator is strict)', () => {
    expect(() => evaluateCondition('result[0] < 1', [0])).toThrow('has a shape this evaluator does not know');
  });
});
