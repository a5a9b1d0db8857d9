import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { z } from 'zod';
import { predictResponseSchema, modelResponseSchema } from '../../../service/src/api/service-protocol';
import { CliError } from '../cli-error';
import { loadEvidenceImages, readEvidence, type Evidence, type EvidenceImage } from '../evaluation/evidence';
import { Git } from '../git';
import { MlflowClient, mlflowConnectionFromEnv } from '../mlflow';
import { sampleImages } from '../samples';
import { intOption, versionOption } from './options';

/** Options of {@link smoke}. */
export interface SmokeOptions {
  /** Base URL of the service, e.g. `http://cats-dogs-classifier.cats-dogs-classifier.svc`. */
  readonly url: string;
  /** The model version every answer must come from. */
  readonly expectVersion: string;
  /** @default 30 */
  readonly readyAttempts?: number;
  /** @default 3000 */
  readonly readyIntervalMs?: number;
  /** How many predictions to send (cycling through the bundled sample images). @default 5 */
  readonly predictions?: number;
  /** Time limit of one HTTP request. @default 10000 */
  readonly requestTimeoutMs?: number;
  /** Receives one line per check. @default - stdout */
  readonly report?: (line: string) => void;
  /**
   * The gate's evidence for the expected version and its sampled golden images (see `loadEvidenceImages`): each
   * image must get the label the gate computed and a score within the evidence's tolerance.
   * @default - no comparison with the gate
   */
  readonly evidence?: { readonly file: Evidence; readonly images: readonly EvidenceImage[] };
}

/** One check and its outcome. */
export interface SmokeCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** The service's own answer schemas (one protocol module); smoke sends one image per request. */
const PredictResponseSchema = predictResponseSchema().extend({
  predictions: predictResponseSchema().shape.predictions.length(1),
});
/** Smoke reads only the model's name and version from `GET /model`. */
const ModelResponseSchema = modelResponseSchema().pick({ name: true, version: true, sha256: true });

/**
 * Post-deploy smoke test: waits for `/ready` (bounded), checks `/model`, then sends sample images to
 * `/predict`; every answer must be 200, well-formed and served by `expectVersion` (body and `X-Model-Version`).
 * Stops at the first failure of readiness; prediction checks all run. Reports one line per check.
 */
export async function smoke(opts: SmokeOptions): Promise<{ ok: boolean; checks: SmokeCheck[] }> {
  const report = opts.report ?? ((line: string) => process.stdout.write(`${line}\n`));
  const base = opts.url.replace(/\/+$/, '');
  const timeout = opts.requestTimeoutMs ?? 10_000;
  const checks: SmokeCheck[] = [];
  const record = (name: string, ok: boolean, detail: string): void => {
    checks.push({ name, ok, detail });
    report(`${ok ? 'PASS' : 'FAIL'} ${name}: ${detail}`);
  };

  const attempts = opts.readyAttempts ?? 30;
  let last = '';
  let ready = false;
  for (let i = 1; i <= attempts; i++) {
    try {
      const res = await fetch(`${base}/ready`, { signal: AbortSignal.timeout(timeout) });
      await res.arrayBuffer();
      if (res.ok) {
        record('ready', true, `GET /ready 200 after ${i} attempt${i === 1 ? '' : 's'}`);
        ready = true;
        break;
      }
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = describeFetchError(err);
    }
    if (i < attempts) await sleep(opts.readyIntervalMs ?? 3000);
  }
  if (!ready) {
    record('ready', false, `GET /ready not 200 after ${attempts} attempts (last: ${last})`);
    return finish(checks, report);
  }

  let servedModel: z.infer<typeof ModelResponseSchema> | undefined;
  try {
    const res = await fetch(`${base}/model`, { signal: AbortSignal.timeout(timeout) });
    const parsed = ModelResponseSchema.safeParse(await res.json().catch(() => undefined));
    if (res.status !== 200 || !parsed.success) {
      record('model', false, `GET /model answered ${res.status} without {name, version, sha256}`);
    } else {
      servedModel = parsed.data;
      const ok = parsed.data.version === opts.expectVersion;
      record(
        'model',
        ok,
        `${parsed.data.name} version ${parsed.data.version}${ok ? '' : `, expected ${opts.expectVersion}`}`,
      );
    }
  } catch (err) {
    record('model', false, `GET /model failed: ${describeFetchError(err)}`);
  }

  const predict = async (
    bytes: Uint8Array,
    contentType: string,
  ): Promise<
    | { ok: true; label: string; index: number; score: number; ms: number; version: string }
    | { ok: false; detail: string }
  > => {
    const started = Date.now();
    try {
      const res = await fetch(`${base}/predict`, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body: bytes,
        signal: AbortSignal.timeout(timeout),
      });
      const text = await res.text();
      const ms = Date.now() - started;
      if (res.status !== 200) return { ok: false, detail: `HTTP ${res.status}: ${text.slice(0, 200)}` };
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      const parsed = PredictResponseSchema.safeParse(body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return { ok: false, detail: `malformed answer: '${issue?.path.join('.')}' ${issue?.message}` };
      }
      const header = res.headers.get('x-model-version');
      const served = parsed.data.model.version;
      if (served !== opts.expectVersion || header !== opts.expectVersion) {
        return {
          ok: false,
          detail: `served by version ${served} (X-Model-Version: ${header ?? 'missing'}), expected ${opts.expectVersion}`,
        };
      }
      const p = parsed.data.predictions[0]!;
      return { ok: true, label: p.label, index: p.index, score: p.score, ms, version: served };
    } catch (err) {
      return { ok: false, detail: describeFetchError(err) };
    }
  };

  const samples = await sampleImages();
  const count = opts.predictions ?? 5;
  for (let i = 0; i < count; i++) {
    const sample = samples[i % samples.length]!;
    const name = `predict ${i + 1}/${count} ${sample.name}`;
    const r = await predict(sample.bytes, sample.contentType);
    if (!r.ok) record(name, false, r.detail);
    else record(name, true, `200, version ${r.version}, ${r.label} (${r.score.toFixed(3)}), ${r.ms} ms`);
  }

  if (opts.evidence) {
    const { file, images } = opts.evidence;
    if (file.version !== opts.expectVersion) {
      record(
        'evidence',
        false,
        `the gate's evidence is for version ${file.version}, expected ${opts.expectVersion}: promote wrote it for another version`,
      );
      return finish(checks, report);
    }
    // The version number alone could be another registered model's: the name and the ONNX digest must match
    // too. The images are still compared, to show what differs.
    if (servedModel && (servedModel.name !== file.name || servedModel.sha256 !== file.sha256)) {
      record(
        'evidence',
        false,
        `the gate's evidence is for ${file.name} (sha256 ${file.sha256.slice(0, 12)}), the service serves ` +
          `${servedModel.name} (sha256 ${servedModel.sha256.slice(0, 12)}): not the model the gate judged`,
      );
    }
    // Loaded on first use: the service's library brings sharp and ONNX Runtime.
    const { sniffImageFormat } = await import('../../../service/src');
    const tolerance = file.scoreTolerance;
    const differ: string[] = [];
    for (const { expected, bytes } of images) {
      const name = `golden ${expected.path}`;
      const format = sniffImageFormat(bytes) ?? 'jpeg';
      const r = await predict(bytes, `image/${format}`);
      if (!r.ok) {
        record(name, false, r.detail);
        differ.push(expected.path);
        continue;
      }
      const gate = `gate: ${expected.label} #${expected.index} (${expected.score.toFixed(3)})`;
      const delta = Math.abs(r.score - expected.score);
      // The class index is the identity (labels may repeat); the label is shown.
      if (r.index !== expected.index || delta > tolerance) {
        record(
          name,
          false,
          `served ${r.label} #${r.index} (${r.score.toFixed(3)}), ${gate}; ` +
            (r.index !== expected.index
              ? 'another class'
              : `score differs by ${delta.toFixed(4)} > ${tolerance}`),
        );
        differ.push(expected.path);
      } else {
        record(name, true, `${r.label} #${r.index} (${r.score.toFixed(3)}), ${gate}`);
      }
    }
    if (differ.length > 0) {
      report(
        `smoke: ${differ.length} of ${images.length} golden images differ from what the gate computed for version ` +
          `${file.version}: ${differ.join(', ')} (skew between CI and the cluster: image, libraries or configuration)`,
      );
    }
  }
  return finish(checks, report);
}

function finish(checks: SmokeCheck[], report: (line: string) => void): { ok: boolean; checks: SmokeCheck[] } {
  const failed = checks.filter((c) => !c.ok).length;
  const ok = failed === 0;
  report(`smoke: ${ok ? 'PASS' : 'FAIL'} (${checks.length - failed}/${checks.length} checks passed)`);
  return { ok, checks };
}

function describeFetchError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return 'timed out';
  return e.cause?.code ?? e.cause?.message ?? e.message;
}

function urlOption(value: string): string {
  try {
    const u = new URL(value);
    if (u.protocol === 'http:' || u.protocol === 'https:') return value;
  } catch {
    // reported below
  }
  throw new InvalidArgumentError(
    `--url must be an http(s) URL of the service, e.g. http://localhost:8000 (got '${value}')`,
  );
}

/** Registers `smoke` on the CLI. */
export function registerSmokeCommand(program: Command): void {
  program
    .command('smoke')
    .description('Post-deploy check: readiness, then sample predictions served by the expected model version')
    .requiredOption('--url <url>', 'base URL of the service', urlOption)
    .requiredOption(
      '--expect-version <n>',
      'model version every answer must come from',
      versionOption('--expect-version'),
    )
    .addOption(
      new Option('--ready-attempts <n>', 'readiness probes')
        .default(30)
        .argParser(intOption('--ready-attempts', 1)),
    )
    .addOption(
      new Option('--ready-interval-ms <ms>', 'pause between readiness probes')
        .default(3000)
        .argParser(intOption('--ready-interval-ms', 0)),
    )
    .addOption(
      new Option('--predictions <n>', 'predictions to send')
        .default(5)
        .argParser(intOption('--predictions', 1)),
    )
    .option(
      '--evidence <file>',
      "the gate's evidence (charts/environments/<env>.evaluation.json): its golden images must get the gate's answers",
    )
    .addHelpText(
      'after',
      '\nPrints one line per check. Exit codes: 0 all checks passed, 1 a check failed, 2 usage.\n' +
        'With --evidence of a golden set in MLflow: MLFLOW_TRACKING_URI, MLFLOW_TRACKING_TOKEN, ...',
    )
    .action(
      async (o: {
        url: string;
        expectVersion: string;
        readyAttempts: number;
        readyIntervalMs: number;
        predictions: number;
        evidence?: string;
      }) => {
        let evidence: SmokeOptions['evidence'];
        if (o.evidence) {
          const file = readEvidence(o.evidence);
          const fromRepository = file.goldenSet.from === 'repository';
          // A golden set in the repository is read from the checkout that holds the evidence file.
          const root = fromRepository
            ? await new Git(dirname(resolve(o.evidence))).topLevel().catch(() => {
                throw new CliError(
                  `--evidence ${o.evidence}: the file is not in a git checkout, where its golden set ` +
                    `(${file.goldenSet.source}) is looked up: pass the evidence file of the repository checkout`,
                  2,
                );
              })
            : dirname(resolve(o.evidence));
          const client = fromRepository
            ? undefined
            : new MlflowClient({ connection: mlflowConnectionFromEnv() });
          evidence = { file, images: await loadEvidenceImages(file, root, client) };
        }
        const result = await smoke({ ...o, evidence });
        if (!result.ok) throw new CliError('smoke test failed', 1);
      },
    );
}
