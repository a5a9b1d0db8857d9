import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeMlflow } from './fake-mlflow';
import { registeredDigests, registerInFake, tinyModel, writeModel, type PinDigests } from './models';
import { createTempRepo, type TempRepo } from './repo';

/** A fake registry holding versions 1 and 2 (alias `production` on 2) and a repo pinned to version 1. */
export interface PromotionFixture {
  readonly fake: FakeMlflow;
  readonly tmp: string;
  readonly repo: TempRepo;
  /** Digests of version 2 as registered (MLmodel and model.onnx). */
  readonly v2: PinDigests;
}

/** Starts the fake registry and builds the temp repo; the caller stops `fake` and removes `tmp`. */
export async function startPromotionFixture(name: string, tmpPrefix: string): Promise<PromotionFixture> {
  const fake = await FakeMlflow.start();
  const tmp = mkdtempSync(join(tmpdir(), tmpPrefix));
  writeModel(join(tmp, 'm1'), tinyModel(1));
  writeModel(join(tmp, 'm2'), tinyModel(2));
  await registerInFake(fake, join(tmp, 'm1'), name);
  await registerInFake(fake, join(tmp, 'm2'), name, 'production');
  const v1 = registeredDigests(fake, name, '1');
  const v2 = registeredDigests(fake, name, '2');
  const runId = [...fake.runs.keys()][0] as string;
  const repo = createTempRepo(join(tmp, 'repos'), {
    name,
    version: '1',
    ...v1,
    source: `mlflow-artifacts:/1/${runId}/artifacts/model`,
    runId,
  });
  return { fake, tmp, repo, v2 };
}
