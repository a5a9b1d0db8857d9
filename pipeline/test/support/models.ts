import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSimpleCnn, writeModelDir, type BuiltModel } from '../../../service/src/model/onnx-builder';
import { MlflowClient } from '../../src/mlflow';
import { registerModel } from '../../src/commands/register';
import type { FakeMlflow } from './fake-mlflow';

/** A small, fast SimpleCNN (32x32, narrow channels); `seed` changes the bytes (and so the sha256). */
export function tinyModel(seed = 1, labels: readonly string[] = ['cat', 'dog']): BuiltModel {
  return buildSimpleCnn({ seed, inputSize: 32, channels: [4, 4, 4], hidden: 8, labels });
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
