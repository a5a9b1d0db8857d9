/**
 * The gate's default budget for the median time of one sample image (preprocessing + inference, one core): its
 * own module, so the CLI's option parsing reads it without loading the gate (onnxruntime-node, sharp).
 */
export const DEFAULT_LATENCY_BUDGET_MS = 1000;
