/**
 * Builds the project's own models, no Python and no download:
 *   node build/service/src/model/build-default-model.js [default|mobilenet] [outDir]
 * `default` → service/models/default (SimpleCNN shapes, 128x128, designed weights: see default-model.ts);
 * `mobilenet` → service/models/mobilenet (MobileNetV2-class 224x224, 1000 classes, for the benchmark).
 */
import { join, resolve } from 'node:path';
import { SERVICE_DIR } from '../config';
import { buildDefaultModel } from './default-model';
import { sha256Hex, writeMlflowModelDir } from './format';
import { buildMobileNet, type BuiltModel } from './onnx-builder';

const VARIANTS: Record<string, () => BuiltModel> = {
  default: () => buildDefaultModel(),
  mobilenet: () => buildMobileNet(),
};

function main(argv: readonly string[]): number {
  const variant = argv[0] ?? 'default';
  const build = VARIANTS[variant];
  if (!build) {
    process.stderr.write(
      `unknown model variant '${variant}': use one of ${Object.keys(VARIANTS).join(', ')}\n`,
    );
    return 2;
  }
  const outDir = resolve(argv[1] ?? join(SERVICE_DIR, 'models', variant));
  const model = build();
  // An MLflow model directory (MLmodel + model.onnx), byte-identical on every machine: fixed uuid and date.
  const sha = writeMlflowModelDir(outDir, model, {
    modelUuid: sha256Hex(model.onnx).slice(0, 32),
    created: new Date('2024-06-11T00:00:00Z'),
  });
  process.stdout.write(`wrote ${variant} model to ${outDir} (model.onnx sha256 ${sha})\n`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
