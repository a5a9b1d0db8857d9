import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, freshEntry } from './service-process';

/**
 * Builds each model the run needs that is not on disk yet, with the project's own builder (the models are
 * generated, never downloaded), so a fresh clone benchmarks everything instead of stopping half-way.
 */
export function ensureModels(
  models: readonly string[],
  log: (line: string) => void,
  modelsRoot = path.join(REPO_ROOT, 'service', 'models'),
): void {
  const builder = freshEntry('service/src/model/build-default-model.ts', 'service/src');
  for (const model of models) {
    const dir = path.join(modelsRoot, model);
    if (existsSync(path.join(dir, 'model.onnx'))) continue;
    log(`model ${model}: not built yet, building it (npm run model:${model})`);
    const run = spawnSync(process.execPath, [...builder.args, model, dir], { encoding: 'utf8' });
    if (run.status !== 0) {
      throw new Error(
        `cannot build the '${model}' model (node ${builder.args.join(' ')} exited ${run.status}): ` +
          `${(run.stderr || run.stdout).trim()}: name built models with --models`,
      );
    }
  }
}
