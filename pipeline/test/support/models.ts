import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  GraphBuilder,
  buildDefaultModel,
  writeModelDir,
  type BuiltModel,
  type DefaultModelOptions,
} from '../../../service/src/model/builders';
import { MlflowClient } from '../../src/mlflow';
import { registerModel } from '../../src/commands/register';
import type { FakeMlflow } from './fake-mlflow';

/**
 * A small, fast model of known behaviour: the default model's designed weights (bright red → first label, dark
 * red → second) at 32x32 with narrow channels, so it classifies the default golden set correctly. `seed` changes
 * the bytes (and so the sha256), never the answers; `over` changes the behaviour (labels, red threshold).
 */
export function tinyModel(seed = 1, over: Omit<DefaultModelOptions, 'seed'> = {}): BuiltModel {
  return buildDefaultModel({ inputSize: 32, channels: [4, 4, 4], hidden: 8, ...over, seed });
}

/**
 * A small model of the mean colour through a dense layer with designed weights: the first label when the mean red
 * is above mid-level, as the default model decides, so it classifies the default golden set correctly. It ends as
 * `ending` says: `nan` adds √−1 to every score (ONNX Runtime runs it without complaint; only a check of the outputs
 * can tell), `softmax` ends in a Softmax. Its output is declared `kind`.
 */
export function meanColourModel(
  ending: 'nan' | 'softmax',
  kind: 'logits' | 'probabilities' = 'logits',
  labels: readonly [string, string] = ['cat', 'dog'],
): BuiltModel {
  const g = new GraphBuilder();
  const x = g.input('input', 'float32', ['batch', 3, 8, 8]);
  const mean = g.node('ReduceMean', [x], { axes: [2, 3], keepdims: 0 });
  // scores = ±4 × (mean red − 0.5): red is 0 … 1 after the scale of 1/255.
  const weights = g.constant('fc_w', [2, 3], Float32Array.of(4, 0, 0, -4, 0, 0));
  const scores = g.node('Gemm', [mean, weights, g.constant('fc_b', [2], Float32Array.of(-2, 2))], {
    transB: 1,
  });
  if (ending === 'nan') {
    g.node(
      'Add',
      [scores, g.node('Sqrt', [g.constant('minus_one', [1], Float32Array.of(-1))])],
      {},
      'scores',
    );
  } else {
    g.node('Softmax', [scores], { axis: 1 }, 'scores');
  }
  g.output('scores', ['batch', 2]);
  return {
    onnx: g.build(ending),
    metadata: {
      schemaVersion: 1,
      labels: [...labels],
      input: { name: 'input', layout: 'NCHW', height: 8, width: 8, channelOrder: 'RGB' },
      preprocessing: { resize: 'squash', scale: 1 / 255 },
      output: { name: 'scores', kind },
    },
  };
}

/** Edits a built model's model.json content (e.g. a wrong channel order), keeping the ONNX bytes. */
export function withMetadata(model: BuiltModel, edit: (meta: Record<string, unknown>) => void): BuiltModel {
  const meta = JSON.parse(JSON.stringify(model.metadata)) as Record<string, unknown>;
  edit(meta);
  return { onnx: model.onnx, metadata: meta as unknown as BuiltModel['metadata'] };
}

/** Digests as a pin holds them: the ONNX file's, and every served file's by name. */
export interface PinDigests {
  readonly sha256: string;
  readonly files: Record<string, string>;
}

/** Writes a model directory in the kit's legacy format (model.onnx + model.json) and returns its digests. */
export function writeModel(dir: string, model: BuiltModel): PinDigests {
  const sha256 = writeModelDir(dir, model);
  return {
    sha256,
    files: { 'model.onnx': sha256, 'model.json': sha256Of(readFileSync(join(dir, 'model.json'))) },
  };
}

/** The digests of what a version of the fake registry holds (what `promote` pins for it). */
export function registeredDigests(fake: FakeMlflow, name: string, version: string): PinDigests {
  const v = fake.versions.get(name)?.find((x) => x.version === version);
  if (!v) throw new Error(`no version ${version} of ${name} in the fake`);
  const prefix = `${v.source.replace(/^mlflow-artifacts:\/+/, '').replace(/\/+$/, '')}/`;
  const files: Record<string, string> = {};
  for (const [key, data] of fake.artifacts) {
    if (key.startsWith(prefix) && !key.slice(prefix.length).includes('/'))
      files[key.slice(prefix.length)] = sha256Of(data);
  }
  const onnx = Object.keys(files).find((f) => f.endsWith('.onnx'));
  if (!onnx) throw new Error(`version ${version} of ${name} has no .onnx file`);
  return { sha256: files[onnx] as string, files: Object.fromEntries(Object.entries(files).sort()) };
}

export function sha256Of(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A client for the fake with fast retries. */
export function fakeClient(fake: FakeMlflow): MlflowClient {
  return new MlflowClient({ connection: { baseUrl: fake.url }, retries: 2, backoffMs: 1 });
}

/** Registers a model directory in the fake through the real `register` code. */
export async function registerInFake(
  fake: FakeMlflow,
  modelDir: string,
  name: string,
  alias?: string,
): Promise<string> {
  const v = await registerModel(fakeClient(fake), { modelDir, name, alias, log: () => undefined });
  return v.version;
}
