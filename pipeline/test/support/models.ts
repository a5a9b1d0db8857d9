import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildDefaultModel, type DefaultModelOptions } from '../../../service/src/model/default-model';
import { writeModelDir, type BuiltModel } from '../../../service/src/model/onnx-builder';
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

/** Edits a built model's model.json content (e.g. a wrong channel order), keeping the ONNX bytes. */
export function withMetadata(model: BuiltModel, edit: (meta: Record<string, unknown>) => void): BuiltModel {
  const meta = JSON.parse(JSON.stringify(model.metadata)) as Record<string, unknown>;
  edit(meta);
  return { onnx: model.onnx, metadata: meta as unknown as BuiltModel['metadata'] };
}

/** Writes a model directory and returns its digests. */
export function writeModel(dir: string, model: BuiltModel): { sha256: string; metadataSha256: string } {
  const sha256 = writeModelDir(dir, model);
  const metadataSha256 = sha256Of(readFileSync(join(dir, 'model.json')));
  return { sha256, metadataSha256 };
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
