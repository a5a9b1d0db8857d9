/**
 * The model format, one owner (resolution, validation, digests, MLmodel reading and writing). Loads neither ONNX
 * Runtime nor sharp (a test checks): `model-fetch`, `register` and `promote` use it before (or without) loading a
 * runtime.
 */
export * from './description';
export * from './io';
export * from './labels';
export * from './mlmodel';
export * from './onnx-graph';
export * from './resolve';
export * from './write';
