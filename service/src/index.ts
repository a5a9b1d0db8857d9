export * from './classifier';
export * from './errors';
export * from './model/loader';
export * from './model/format';
export * from './preprocess';
export * from './scores';
