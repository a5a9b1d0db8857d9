export * from './artifact-uri';
export * from './client';
export * from './config';
export * from './errors';
export * from './schemas';
