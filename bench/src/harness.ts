/**
 * What the tests outside bench/ reuse of the benchmark: the service started as its own process, the HTTP and
 * /proc helpers around it, seeded synthetic images, and latency summaries.
 */
export * from './service-process';
export { generateImage, generateImages, type BenchImage, type ImageSpec } from './images';
export { summarize, type LatencySummary } from './stats';
