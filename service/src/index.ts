export * from './classifier';
export { DEFAULT_MAX_IMAGE_PIXELS } from './config';
export * from './errors';
export * from './model/loader';
export * from './model/format';
export * from './preprocess';
export * from './scores';
