export * from './classifier';
export * from './errors';
export * from './model/loader';
export * from './model/metadata';
export * from './preprocess';
export * from './scores';
