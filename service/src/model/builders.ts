/**
 * Model builders for tests, the benchmark and generated fixtures elsewhere in the repository: ONNX models written
 * in TypeScript (the designed default SimpleCNN, SimpleCNN and MobileNet-class shapes, an identity model), a
 * model-directory writer, and the seeded random source they draw from. Loads neither ONNX Runtime nor sharp.
 */
export { buildDefaultModel, type DefaultModelOptions } from './default-model';
export {
  GraphBuilder,
  buildIdentityModel,
  buildMobileNet,
  buildSimpleCnn,
  seededRandom,
  withExternalData,
  writeModelDir,
  type BuiltModel,
  type IdentityModelOptions,
  type MobileNetOptions,
  type SimpleCnnOptions,
} from './onnx-builder';
