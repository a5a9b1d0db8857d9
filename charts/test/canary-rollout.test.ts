import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, Testing } from 'cdk8s';
import { parse, stringify } from 'yaml';
import { environmentConfigPath, readEnvironmentConfig } from '../src/config/environment-config';
import { modelPinPath, readModelPin } from '../src/config/model-pin';
import { Delivery } from '../src/delivery';
import { EnvironmentChart } from '../src/environment-chart';
import { InferenceService, InferenceServiceProps } from '../src/inference-service';
import { ModelSource } from '../src/model-source';
import { Scaling } from '../src/scaling';
import { buildEnvironment, synthesize, synthObjects } from '../src/synth';
import { Json, REPO_ROOT, validateSchemas } from './support/dist';
import { PIN, REGISTRY_SOURCE } from './support/pins';

const IMAGE = 'ghcr.io/example/model-gitops:0.1.0';

function synth(props: Partial<InferenceServiceProps> = {}): Json[] {
  const chart = Testing.chart();
  new InferenceService(chart, 'Inference', { image: IMAGE, modelSource: REGISTRY_SOURCE, ...props });
  return Testing.synth(chart);
}
const find = (objects: Json[], kind: string, name = 'cats-dogs-classifier'): Json =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);
const matches = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('InferenceService with Delivery.canary()', () => {
  const rolling = synth();
  const objects = synth({ delivery: Delivery.canary() });
  const rollout = find(objects, 'Rollout');

  it('emits a Rollout instead of the Deployment, plus stable and canary Services and two AnalysisTemplates', () => {
    expect(find(objects, 'Deployment')).toBeUndefined();
    expect(rollout.apiVersion).toBe('argoproj.io/v1alpha1');
    expect(
      objects
        .filter((o) => o.kind === 'Service')
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['cats-dogs-classifier', 'cats-dogs-classifier-canary', 'cats-dogs-classifier-stable']);
    expect(
      objects
        .filter((o) => o.kind === 'AnalysisTemplate')
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['cats-dogs-classifier-canary-metrics', 'cats-dogs-classifier-canary-smoke']);
  });

  it('keeps the rolling Deployment’s pod template, selector, metadata and surge limits unchanged', () => {
    const deployment = find(rolling, 'Deployment');
    expect(rollout.spec.template).toEqual(deployment.spec.template);
    expect(rollout.spec.selector).toEqual(deployment.spec.selector);
    expect(rollout.metadata.annotations).toEqual(deployment.metadata.annotations);
    expect(rollout.spec.replicas).toBeUndefined();
    expect(rollout.spec.strategy.canary).toMatchObject({
      maxSurge: 1,
      maxUnavailable: 0,
      stableService: 'cats-dogs-classifier-stable',
      canaryService: 'cats-dogs-classifier-canary',
    });
  });

  it('points the HPA at the Rollout, and the PDB and NetworkPolicy still select its pods', () => {
    expect(find(objects, 'HorizontalPodAutoscaler').spec.scaleTargetRef).toEqual({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Rollout',
      name: 'cats-dogs-classifier',
    });
    const podLabels = rollout.spec.template.metadata.labels;
    expect(matches(find(objects, 'PodDisruptionBudget').spec.selector.matchLabels, podLabels)).toBe(true);
    expect(matches(find(objects, 'NetworkPolicy').spec.podSelector.matchLabels, podLabels)).toBe(true);
  });

  it('runs the steps from config, with the smoke Job right after the first weight and hash args on each analysis', () => {
    const steps = rollout.spec.strategy.canary.steps;
    const summary = steps.map((s: Json) =>
      s.setWeight !== undefined
        ? `w${s.setWeight}`
        : s.pause
          ? `p${s.pause.duration}`
          : s.analysis.templates[0].templateName.replace('cats-dogs-classifier-canary-', ''),
    );
    expect(summary).toEqual(['w10', 'smoke', 'p60', 'metrics', 'w50', 'p60', 'metrics']);
    const metricsStep = steps.find((s: Json) => s.analysis?.templates[0].templateName.endsWith('metrics'));
    expect(metricsStep.analysis.args).toEqual([
      { name: 'canary-hash', valueFrom: { podTemplateHashValue: 'Latest' } },
      { name: 'stable-hash', valueFrom: { podTemplateHashValue: 'Stable' } },
    ]);
  });

  it('scrapes every pod once: the ServiceMonitor selects the main Service only, not the stable and canary ones', () => {
    const monitor = find(objects, 'ServiceMonitor').spec.selector.matchLabels;
    const selected = objects.filter((o) => o.kind === 'Service' && matches(monitor, o.metadata.labels));
    expect(selected.map((o) => o.metadata.name)).toEqual(['cats-dogs-classifier']);
  });

  it('labels scraped series with the pod template hash, so the analysis can tell canary from stable', () => {
    expect(find(objects, 'ServiceMonitor').spec.podTargetLabels).toEqual(['rollouts-pod-template-hash']);
    expect(find(rolling, 'ServiceMonitor').spec.podTargetLabels).toBeUndefined();
  });

  it('smoke-tests the pinned version through the canary Service only, from a pod no Service selects', () => {
    const job = find(objects, 'AnalysisTemplate', 'cats-dogs-classifier-canary-smoke').spec.metrics[0]
      .provider.job;
    const c = job.spec.template.spec.containers[0];
    expect([...c.command, ...c.args]).toEqual([
      'node',
      '/app/build/pipeline/src/cli.js',
      'smoke',
      '--url',
      'http://cats-dogs-classifier-canary.cats-dogs-classifier.svc:80',
      '--expect-version',
      PIN.version,
    ]);
    expect(c.image).toBe(IMAGE);
    expect(job.spec.backoffLimit).toBe(0);
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true });
    const selector = find(objects, 'Service').spec.selector;
    expect(matches(selector, job.spec.template.metadata.labels)).toBe(false);
  });

  it('puts the thresholds from the options into the metric conditions, with failure and inconclusive limits', () => {
    const objs = synth({
      delivery: Delivery.canary({ analysis: { maxErrorRatio: 0.01, failureLimit: 0, inconclusiveLimit: 3 } }),
    });
    const metrics = find(objs, 'AnalysisTemplate', 'cats-dogs-classifier-canary-metrics').spec.metrics;
    expect(metrics.map((m: Json) => m.name)).toEqual([
      'error-ratio',
      'latency-p99',
      'prediction-mix-distance',
    ]);
    expect(metrics[0]).toMatchObject({
      successCondition: 'len(result) > 0 && result[0] <= 0.01',
      failureCondition: 'len(result) > 0 && result[0] > 0.01',
      failureLimit: 0,
      inconclusiveLimit: 3,
      count: 5,
      interval: '60s',
    });
    expect(metrics[0].provider.prometheus.address).toBe('http://prometheus-operated.monitoring.svc:9090');
  });

  it('writes replicas on the Rollout when the count is fixed, and leaves out the smoke Job for a baked model', () => {
    const objs = synth({
      delivery: Delivery.canary(),
      scaling: Scaling.fixed(2),
      modelSource: ModelSource.baked(),
    });
    expect(find(objs, 'Rollout').spec.replicas).toBe(2);
    expect(find(objs, 'AnalysisTemplate', 'cats-dogs-classifier-canary-smoke')).toBeUndefined();
    expect(
      find(objs, 'Rollout').spec.strategy.canary.steps.some((s: Json) =>
        s.analysis?.templates[0].templateName.endsWith('smoke'),
      ),
    ).toBe(false);
  });

  it('fails at synth when the canary settings are inconsistent', () => {
    expect(() =>
      synth({ delivery: Delivery.canary({ steps: [{ setWeight: 10 }, { pause: {} }, { analysis: {} }] }) }),
    ).toThrow("'steps[1].pause.seconds' is missing");
  });

  it('fails at synth when the rate() window spans fewer than two scrapes (every measurement inconclusive)', () => {
    expect(() => synth({ delivery: Delivery.canary({ analysis: { windowSeconds: 59 } }) })).toThrow(
      "'canary.analysis.windowSeconds' (59) must span two scrapes of the ServiceMonitor (2 × 30 s)",
    );
    expect(() =>
      synth({
        delivery: Delivery.canary({ analysis: { windowSeconds: 30 } }),
        scrapeInterval: Duration.seconds(15),
      }),
    ).not.toThrow();
  });

  it('fails at synth when the progress deadline is shorter than a new pod may take to turn ready', () => {
    expect(() => synth({ delivery: Delivery.canary({ progressDeadlineSeconds: 209 }) })).toThrow(
      "'canary.progressDeadlineSeconds' (209) is shorter than a new pod may take to turn ready (210 s: " +
        'model-fetch waits up to 60 s for MLflow, the startup probe allows 150 s)',
    );
    expect(() => synth({ delivery: Delivery.canary({ progressDeadlineSeconds: 210 }) })).not.toThrow();
  });
});

describe('an environment with delivery: canary (staging’s config, synthesized in a temp copy)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'canary-env-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const raw: Json = parse(readFileSync(environmentConfigPath(REPO_ROOT, 'staging'), 'utf8'));
  writeFileSync(join(dir, 'staging.yaml'), stringify({ ...raw, delivery: 'canary' }));
  const config = readEnvironmentConfig(join(dir, 'staging.yaml'));
  const app = new App();
  new EnvironmentChart(app, {
    environment: 'staging',
    config,
    pin: readModelPin(modelPinPath(REPO_ROOT, 'staging')),
  });
  const objects = synthObjects(app) as Json[];

  it('holds a Rollout, both Services, the AnalysisTemplates and an HPA pointing at the Rollout', () => {
    const names = objects.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'Rollout/cats-dogs-classifier',
        'Service/cats-dogs-classifier-stable',
        'Service/cats-dogs-classifier-canary',
        'AnalysisTemplate/cats-dogs-classifier-canary-metrics',
        'AnalysisTemplate/cats-dogs-classifier-canary-smoke',
        'HorizontalPodAutoscaler/cats-dogs-classifier',
      ]),
    );
    expect(names).not.toContain('Deployment/cats-dogs-classifier');
    expect(find(objects, 'HorizontalPodAutoscaler').spec.scaleTargetRef.kind).toBe('Rollout');
  });

  it('validates every object against its schema (Argo Rollouts models for Rollout and AnalysisTemplate)', () => {
    const results = validateSchemas(objects);
    expect(results.filter((r) => r.error !== null)).toEqual([]);
    expect(results.filter((r) => ['Rollout', 'AnalysisTemplate'].includes(r.kind))).toHaveLength(3);
  });

  it('the schema check is real: a Rollout with a text weight or an AnalysisTemplate metric without a provider fails', () => {
    const rollout = structuredClone(find(objects, 'Rollout'));
    rollout.spec.strategy.canary.steps[0].setWeight = 'ten';
    const template = structuredClone(
      find(objects, 'AnalysisTemplate', 'cats-dogs-classifier-canary-metrics'),
    );
    delete template.spec.metrics[0].provider;
    const [r, t] = validateSchemas([rollout, template]);
    expect(r!.error).toMatch(/setWeight must be integer/);
    expect(t!.error).toMatch(/provider/);
  });

  it('only staging opts in: production and local stay rolling', () => {
    const delivery = (env: 'local' | 'staging' | 'production') =>
      buildEnvironment(REPO_ROOT, env).chart.inference.canary ? 'canary' : 'rolling';
    expect([delivery('local'), delivery('staging'), delivery('production')]).toEqual([
      'rolling',
      'canary',
      'rolling',
    ]);
  });

  it("names the environment file when a canary setting does not fit the pod's timing", () => {
    const file = join(dir, 'repo', 'charts', 'environments', 'staging.yaml');
    mkdirSync(join(dir, 'repo', 'charts', 'environments'), { recursive: true });
    writeFileSync(file, stringify({ ...raw, delivery: 'canary', canary: { progressDeadlineSeconds: 20 } }));
    copyFileSync(modelPinPath(REPO_ROOT, 'staging'), modelPinPath(join(dir, 'repo'), 'staging'));
    expect(() => buildEnvironment(join(dir, 'repo'), 'staging')).toThrow(
      `${file}: 'canary.progressDeadlineSeconds' (20) is shorter than a new pod may take to turn ready`,
    );
  });

  it('the AppProject admits the Rollout and AnalysisTemplate kinds once an environment opts in', () => {
    const root = join(dir, 'repo');
    cpSync(join(REPO_ROOT, 'charts', 'environments'), join(root, 'charts', 'environments'), {
      recursive: true,
    });
    cpSync(join(REPO_ROOT, 'charts', 'argocd.yaml'), join(root, 'charts', 'argocd.yaml'));
    const kindsOf = (files: ReadonlyMap<string, string>): string[] => {
      const project = parse(files.get('argocd/AppProject.cats-dogs-classifier.yaml')!) as Json;
      return project.spec.namespaceResourceWhitelist.map((k: Json) => `${k.group}/${k.kind}`);
    };
    writeFileSync(
      join(root, 'charts', 'environments', 'staging.yaml'),
      stringify({ ...raw, delivery: 'rolling' }),
    );
    expect(kindsOf(synthesize(root))).not.toContain('argoproj.io/Rollout');
    writeFileSync(
      join(root, 'charts', 'environments', 'staging.yaml'),
      stringify({ ...raw, delivery: 'canary' }),
    );
    const files = synthesize(root);
    expect(kindsOf(files)).toEqual(
      expect.arrayContaining(['argoproj.io/AnalysisTemplate', 'argoproj.io/Rollout']),
    );
    expect([...files.keys()]).toEqual(
      expect.arrayContaining([
        'dist/staging/Rollout.cats-dogs-classifier.yaml',
        'dist/production/Deployment.cats-dogs-classifier.yaml',
      ]),
    );
    expect(files.has('dist/staging/Deployment.cats-dogs-classifier.yaml')).toBe(false);
  });
});
