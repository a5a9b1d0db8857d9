/**
 * The service as a library, for the promotion gate, `evaluate` and the benchmark: the classifier, the inference
 * pool, in-process sessions, preprocessing and scoring. It loads ONNX Runtime and sharp; code that needs only the
 * model format imports `./model/format` (neither), model builders come from `./model/builders`.
 */
export { Classifier, type ClassifierOptions } from './classifier';
export { AppError, ImageError, PredictionError, type PredictionErrorCode } from './errors';
export { InferencePool, type InferencePoolOptions, type InferenceResult } from './inference/pool';
export { createValidatedSession, runBatch, type OpenModel, type SessionSettings } from './model/loader';
export { openModel } from './model/open-model';
export {
  configureSharp,
  preprocessImage,
  sniffImageFormat,
  type ImageFormat,
  type PreprocessLimits,
} from './preprocess';
export { scoreImage, type ClassScore, type ImageScores } from './scores';
export { DEFAULT_MAX_IMAGE_PIXELS } from './config';
